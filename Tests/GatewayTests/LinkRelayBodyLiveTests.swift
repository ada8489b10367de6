import Foundation
import LabgateTestSupport
import Synchronization
import Testing

@testable import Gateway

/// Request bodies through the server-loop path (`LinkRelay` as the exchange's `RequestBodyReceiver`, streamed by
/// `LinkConnection`, issue 7) and, where the contract is the same, with the path off (AsyncHTTPClient): whole, in
/// order, reframed, paced by the upstream, stopped when either side stops.
@Suite(.serialized) struct LinkRelayBodyLiveTests {
    static let okHead = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"

    /// Answers each request with its body's byte count and whether every byte matched `BytePattern`.
    static let countingScript: @Sendable (Int, ScriptedUpstream.Connection) -> Void = { _, connection in
        while let head = connection.readRequestHead() {
            let length = contentLength(of: head)
            var offset = 0
            var intact = true
            if let length {
                guard
                    connection.readBody(
                        count: length,
                        { bytes in
                            intact = intact && bytes.withUnsafeBytes { BytePattern.matches($0, at: offset) }
                            offset += bytes.count
                        })
                else { return }
            } else if head.lowercased().contains("\r\ntransfer-encoding: chunked\r\n") {
                guard let body = connection.readChunkedBody() else { return }
                intact = body.withUnsafeBytes { BytePattern.matches($0, at: 0) }
                offset = body.count
            }
            let framing = length != nil ? "length" : offset > 0 ? "chunked" : "none"
            let text = "\(offset) \(intact) \(framing)"
            connection.write(okHead + "Content-Length: \(text.utf8.count)\r\n\r\n" + text)
        }
    }

    /// The Content-Length a request head declares.
    static func contentLength(of head: String) -> Int? {
        head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
    }

    /// One upload of `count` pattern bytes on a connection of its own; the answer.
    static func upload(port: Int, count: Int) async throws -> RawClient.Response {
        try await offPool {
            let client = try RawClient(port: port, timeoutSeconds: 30)
            try client.send(uploadHead(length: count))
            try client.sendPattern(count: count)
            return try client.readResponse()
        }
    }

    /// A request head for `length` body bytes (or chunked, when nil) to the Labric route.
    static func uploadHead(_ path: String = "/labric/api/v1/files", length: Int?) -> String {
        let framing = length.map { "Content-Length: \($0)" } ?? "Transfer-Encoding: chunked"
        return "PUT \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\(framing)\r\n\r\n"
    }

    /// A gateway (its loop path on or off) in front of `countingScript`: `body` gets the gateway's port.
    func withCountingUpstream(
        onLoop: Bool, _ body: @Sendable (_ port: Int, ScriptedUpstream) async throws -> Void
    ) async throws {
        let upstream = try ScriptedUpstream(Self.countingScript)
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in try await body(live.gateway.server.port, upstream) }
    }

    @Test(arguments: [true, false]) func uploadReachesTheUpstreamWholeAndTheConnectionIsReused(onLoop: Bool)
        async throws
    {
        try await withCountingUpstream(onLoop: onLoop) { port, upstream in
            let replies = try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 30)
                var texts: [String] = []
                for size in [3 << 20 + 17, 1, 200_000] {
                    try client.send(Self.uploadHead(length: size))
                    try client.sendPattern(count: size)
                    let reply = try client.readResponse()
                    texts.append("\(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
                }
                return texts
            }
            #expect(replies == ["200 \(3 << 20 + 17) true length", "200 1 true length", "200 200000 true length"])
            #expect(upstream.connections == 1)
        }
    }

    @Test(arguments: [true, false]) func chunkedUploadIsSentChunked(onLoop: Bool) async throws {
        try await withCountingUpstream(onLoop: onLoop) { port, _ in
            let reply = try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 30)
                try client.send(Self.uploadHead(length: nil))
                var offset = 0
                for size in [1, 70_000, 3, 5 << 20] {
                    var chunk = [UInt8](repeating: 0, count: size)
                    BytePattern.fill(&chunk, from: offset)
                    try client.send(String(size, radix: 16) + ";ext=1\r\n")
                    try client.send(chunk)
                    try client.send("\r\n")
                    offset += size
                }
                try client.send("0\r\n\r\n")
                return try client.readResponse()
            }
            #expect(reply.status == 200)
            #expect(String(decoding: reply.body, as: UTF8.self) == "\(1 + 70_000 + 3 + 5 << 20) true chunked")
        }
    }

    /// The upstream answers without reading the body (a 413): the client gets that answer, and the connection,
    /// left with an unread body, is not used again (nginx's rule too). The upstream reads nothing for a second, so
    /// the body cannot have gone completely before the answer came (more than loopback's socket buffers hold).
    @Test func upstreamAnsweringBeforeTheBodyIsRelayedAndItsConnectionDropped() async throws {
        let upstream = try ScriptedUpstream { _, connection in
            guard let head = connection.readRequestHead() else { return }
            if head.hasPrefix("PUT ") {
                let text = #"{"detail":"too large"}"#
                connection.write(
                    "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: "
                        + "\(text.utf8.count)\r\n\r\n" + text)
                usleep(1_000_000)
                _ = connection.waitForClose(timeout: .seconds(10))
                return
            }
            connection.write(Self.okHead + "Content-Length: 2\r\n\r\nok")
        }
        defer { upstream.stop() }
        try await withLiveGateway(.init(genie: .none, labric: .port(upstream.port))) { live in
            let reply = try await Self.upload(port: live.gateway.server.port, count: 64 << 20)
            #expect(reply.status == 413)
            #expect(String(decoding: reply.body, as: UTF8.self) == #"{"detail":"too large"}"#)
            let next = try await live.send("GET", "/labric/api/v1/ping")
            #expect(next.status == 200)
            #expect(upstream.connections == 2)
        }
    }

    /// An interim answer while the body goes (a server may send 100 Continue unasked, or 103 Early Hints) is not the
    /// answer: the body goes on, and the final answer is relayed.
    @Test(arguments: [true, false]) func interimAnswersDuringTheBodyAreSkipped(onLoop: Bool) async throws {
        let upstream = try ScriptedUpstream { _, connection in
            guard let head = connection.readRequestHead() else { return }
            connection.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
            var count = 0
            guard connection.readBody(count: Self.contentLength(of: head) ?? 0, { count += $0.count }) else { return }
            connection.write(Self.okHead + "Content-Length: \(String(count).utf8.count)\r\n\r\n\(count)")
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in
            let reply = try await Self.upload(port: live.gateway.server.port, count: 4 << 20)
            #expect(reply.status == 200)
            #expect(String(decoding: reply.body, as: UTF8.self) == "\(4 << 20)")
        }
    }

    /// An upstream that reads nothing for a while holds the client back: the gateway keeps only a bounded part of
    /// the body (the sockets' buffers and its 64 KiB), and everything arrives once the upstream reads.
    @Test func aSlowUpstreamPacesTheClient() async throws {
        let reading = Atomic(false)
        let upstream = try ScriptedUpstream { index, connection in
            while !reading.load(ordering: .relaxed) { usleep(10_000) }
            Self.countingScript(index, connection)
        }
        defer { upstream.stop() }
        try await withLiveGateway(.init(genie: .none, labric: .port(upstream.port))) { live in
            let port = live.gateway.server.port
            let size = 96 << 20
            let sent = Atomic(0)
            let upload = Task {
                try await offPool {
                    let client = try RawClient(port: port, timeoutSeconds: 30)
                    try client.send(Self.uploadHead(length: size))
                    var offset = 0
                    var buffer = [UInt8](repeating: 0, count: 64 << 10)
                    while offset < size {
                        BytePattern.fill(&buffer, from: offset)
                        try client.send(buffer)
                        offset += buffer.count
                        sent.store(offset, ordering: .relaxed)
                    }
                    return try client.readResponse()
                }
            }
            try await Task.sleep(for: .seconds(1))
            // Loopback sockets hold a few MiB each way; a gateway that buffered the body would have taken it all.
            let held = sent.load(ordering: .relaxed)
            #expect(held < 48 << 20, "the client sent \(held) bytes while the upstream read none")
            reading.store(true, ordering: .relaxed)
            let reply = try await upload.value
            #expect(reply.status == 200)
            #expect(String(decoding: reply.body, as: UTF8.self) == "\(size) true length")
        }
    }

    /// The client leaves half-way through its body, once the request has reached the upstream: the upstream's
    /// connection is closed, not left waiting for the rest.
    @Test(arguments: [true, false]) func clientLeavingMidBodyClosesTheUpstreamConnection(onLoop: Bool) async throws {
        let sawHead = Atomic(false)
        let closed = Atomic(0)
        let upstream = try ScriptedUpstream { _, connection in
            guard connection.readRequestHead() != nil else { return }
            sawHead.store(true, ordering: .relaxed)
            if connection.waitForClose(timeout: .seconds(10)) { closed.add(1, ordering: .relaxed) }
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in
            let port = live.gateway.server.port
            try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 30)
                try client.send(Self.uploadHead(length: 4 << 20))
                try client.sendPattern(count: 1 << 20)
                let deadline = ContinuousClock.now + .seconds(10)
                while !sawHead.load(ordering: .relaxed) && ContinuousClock.now < deadline { usleep(5_000) }
                client.reset()
            }
            let reached = sawHead.load(ordering: .relaxed)
            #expect(reached)
            let deadline = ContinuousClock.now + .seconds(10)
            while closed.load(ordering: .relaxed) == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(closed.load(ordering: .relaxed) == 1)
        }
    }
}
