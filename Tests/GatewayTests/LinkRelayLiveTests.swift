import AsyncHTTPClient
import Foundation
import LabgateTestSupport
import MicroHTTPServer
import NIOCore
import Testing

@testable import Gateway

/// The server-loop path (`LinkClient` + `LinkRelay`, issue 7) against upstreams that misbehave on purpose, byte by
/// byte (`ScriptedUpstream`), and the same answers with the path off (AsyncHTTPClient), so both paths keep one
/// contract.
@Suite(.serialized) struct LinkRelayLiveTests {
    static let okHead = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

    /// Serves `requests` keep-alive requests on each connection with `{"n":INDEX}`.
    static func keepAliveScript(requests: Int = 1000) -> @Sendable (Int, ScriptedUpstream.Connection) -> Void {
        { index, connection in
            for _ in 0..<requests {
                guard connection.readRequestHead() != nil else { return }
                let body = #"{"n":\#(index)}"#
                connection.write(okHead + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
            }
        }
    }

    @Test(arguments: [true, false]) func keepAliveConnectionIsReusedAcrossRequests(onLoop: Bool) async throws {
        let upstream = try ScriptedUpstream(Self.keepAliveScript())
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in
            for _ in 0..<20 {
                let reply = try await live.send("GET", "/labric/api/v1/ping")
                #expect(reply.status == 200)
                #expect(reply.text == #"{"n":0}"#)
            }
            #expect(upstream.connections == 1)
        }
    }

    @Test func upstreamClosingAnIdleConnectionIsRetriedOnAFreshOne() async throws {
        // Each connection answers one request and then closes without saying so (no `Connection: close`): the
        // gateway's pooled connection is dead when the next request comes.
        let upstream = try ScriptedUpstream(Self.keepAliveScript(requests: 1))
        defer { upstream.stop() }
        try await withLiveGateway(.init(genie: .none, labric: .port(upstream.port))) { live in
            for round in 0..<5 {
                let reply = try await live.send("GET", "/labric/api/v1/ping")
                #expect(reply.status == 200, "round \(round)")
                #expect(reply.text == #"{"n":\#(round)}"#)
                // Let the close arrive first half of the time, so both the idle check and the retry are exercised.
                if round % 2 == 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(upstream.connections == 5)
        }
    }

    @Test(arguments: [true, false]) func bodyCutShortReachesTheClientAsTruncated(onLoop: Bool) async throws {
        let upstream = try ScriptedUpstream { _, connection in
            guard connection.readRequestHead() != nil else { return }
            connection.write(Self.okHead + "Content-Length: 100\r\n\r\n" + String(repeating: "x", count: 40))
            connection.close()
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in
            let raw = try RawClient(port: live.gateway.server.port, timeoutSeconds: 10)
            try raw.send("GET /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(throws: (any Error).self) { try raw.readResponse() }
        }
    }

    /// An upstream head too large to send beside the client's request head (`ConnectionMemory`): the client gets the
    /// JSON 502 instead of a closed connection, the upstream's answer is dropped, and the next request is served.
    @Test(arguments: [true, false]) func oversizedResponseHeadGetsAJSON502(onLoop: Bool) async throws {
        let upstream = try ScriptedUpstream { _, connection in
            while let head = connection.readRequestHead() {
                let big = head.contains("/big") ? "X-Big: \(String(repeating: "y", count: 20_000))\r\n" : ""
                connection.write(Self.okHead + big + "Content-Length: 2\r\n\r\nok")
            }
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in
            let fields = (0..<40).map { ("X-Field-\($0)", String(repeating: "f", count: 60)) }
            let refused = try await live.send("GET", "/labric/api/v1/big", headers: fields)
            #expect(refused.status == 502)
            #expect(refused.json?["code"] as? String == "response_headers_too_large")
            #expect(refused.header("X-Big") == nil)
            for _ in 0..<3 {
                let reply = try await live.send("GET", "/labric/api/v1/small", headers: fields)
                #expect(reply.status == 200)
                #expect(reply.text == "ok")
            }
        }
    }

    @Test func silentUpstreamGets504AfterTheIdleTimeout() async throws {
        let upstream = try ScriptedUpstream { _, connection in
            guard connection.readRequestHead() != nil else { return }
            _ = connection.waitForClose(timeout: .seconds(10))
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.upstreamIdleTimeoutSeconds = 0.5 })
        ) { live in
            let started = ContinuousClock.now
            let reply = try await live.send("GET", "/labric/api/v1/ping")
            #expect(reply.status == 504)
            #expect(reply.json?["code"] as? String == "upstream_timeout")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func garbageFromTheUpstreamGets502AndTheConnectionIsDropped() async throws {
        let upstream = try ScriptedUpstream { index, connection in
            guard connection.readRequestHead() != nil else { return }
            if index == 0 {
                connection.write("HTTP/1.1 2OO OK\r\n\r\n")
                _ = connection.waitForClose(timeout: .seconds(10))
            } else {
                connection.write(Self.okHead + "Content-Length: 2\r\n\r\nok")
            }
        }
        defer { upstream.stop() }
        try await withLiveGateway(.init(genie: .none, labric: .port(upstream.port))) { live in
            let bad = try await live.send("GET", "/labric/api/v1/ping")
            #expect(bad.status == 502)
            #expect(bad.json?["code"] as? String == "upstream_unreachable")
            let good = try await live.send("GET", "/labric/api/v1/ping")
            #expect(good.status == 200)
            #expect(good.text == "ok")
            #expect(upstream.connections == 2)
        }
    }

    /// Answers without a body keep their shape on both paths: HEAD with the length the upstream announced, 204 and
    /// 304 with their fields, and the client's connection goes on after each.
    @Test(arguments: [true, false]) func headAnd204And304AnswersKeepTheirShape(onLoop: Bool) async throws {
        let upstream = try ScriptedUpstream { _, connection in
            while let head = connection.readRequestHead() {
                if head.hasPrefix("HEAD ") {
                    connection.write(Self.okHead + "Content-Length: 1234\r\nX-Kind: head\r\n\r\n")
                } else if head.hasPrefix("GET /api/v1/none ") {
                    connection.write("HTTP/1.1 204 No Content\r\nX-Kind: none\r\n\r\n")
                } else if head.hasPrefix("GET /api/v1/same ") {
                    connection.write("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nX-Kind: same\r\n\r\n")
                } else {
                    connection.write(Self.okHead + "Content-Length: 2\r\nX-Kind: body\r\n\r\nok")
                }
            }
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), configure: { $0.plainHTTPOnServerLoop = onLoop })
        ) { live in
            let port = live.gateway.server.port
            let (head, none, same, body) = try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 10)
                func ask(_ method: String, _ path: String) throws -> RawClient.Response {
                    try client.send("\(method) /labric/api/v1/\(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                    return try client.readResponse(head: method == "HEAD")
                }
                return (try ask("HEAD", "file"), try ask("GET", "none"), try ask("GET", "same"), try ask("GET", "ok"))
            }
            #expect(head.status == 200 && head.header("Content-Length") == "1234" && head.body.isEmpty)
            #expect(head.header("X-Kind") == "head" && head.header("X-Request-Id") != nil)
            #expect(none.status == 204 && none.header("X-Kind") == "none" && none.body.isEmpty)
            #expect(same.status == 304 && same.header("ETag") == "\"v1\"" && same.header("X-Kind") == "same")
            #expect(body.status == 200 && body.text == "ok" && body.header("X-Kind") == "body")
        }
    }

    @Test func chunkedAnswerIsRelayedWhole() async throws {
        let upstream = try ScriptedUpstream { _, connection in
            guard connection.readRequestHead() != nil else { return }
            connection.write(Self.okHead + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n")
            connection.write("6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
            _ = connection.waitForClose(timeout: .seconds(10))
        }
        defer { upstream.stop() }
        try await withLiveGateway(.init(genie: .none, labric: .port(upstream.port))) { live in
            let reply = try await live.send("GET", "/labric/api/v1/ping")
            #expect(reply.status == 200)
            #expect(reply.text == "hello world")
            #expect(reply.header("Content-Type") == "application/json")
        }
    }

    @Test func requestReachesTheUpstreamWithTheCredentialAndWithoutTheClientsHopHeaders() async throws {
        let heads = TextStore()
        let upstream = try ScriptedUpstream { _, connection in
            guard let head = connection.readRequestHead() else { return }
            heads.append(head)
            connection.write(Self.okHead + "Content-Length: 0\r\n\r\n")
        }
        defer { upstream.stop() }
        try await withLiveGateway(
            .init(genie: .none, labric: .port(upstream.port), scanSecretsAtEnd: true)
        ) { live in
            let reply = try await live.send(
                "GET", "/labric/api/v1/files?limit=2",
                headers: [("Connection", "x-drop"), ("X-Drop", "1"), ("Accept", "a/b")])
            #expect(reply.status == 200)
            let head = try #require(heads.all.first)
            #expect(head.hasPrefix("GET /api/v1/files?limit=2 HTTP/1.1\r\n"))
            #expect(head.contains("\r\nAuthorization: Bearer \(live.labricAPIKey)\r\n"))
            #expect(head.contains("\r\nHost: 127.0.0.1:\(upstream.port)\r\n"))
            #expect(head.contains("\r\nAccept: a/b\r\n"))
            #expect(!head.lowercased().contains("x-drop"))
        }
    }

    /// A request whose head the header rules refuse (a control byte in a value), on the server loop's path: the
    /// head is written straight into a pooled upstream connection's buffer, so the refusal must leave that
    /// connection as it was. The client gets the rules' 400; nothing reaches the upstream; the next request goes on
    /// the same connection, with a head not mixed with the refused one's bytes.
    @Test func refusedHeadSendsNothingAndLeavesThePooledConnectionUsable() async throws {
        let heads = TextStore()
        let upstream = try ScriptedUpstream { index, connection in
            while let head = connection.readRequestHead() {
                heads.append(head)
                let body = #"{"n":\#(index)}"#
                connection.write(Self.okHead + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
            }
        }
        defer { upstream.stop() }
        try await withLiveGateway(.init(genie: .none, labric: .port(upstream.port))) { live in
            let first = try await live.send("GET", "/labric/api/v1/first")
            #expect(first.status == 200)
            let raw = try RawClient(port: live.gateway.server.port, timeoutSeconds: 10)
            try raw.send("GET /labric/api/v1/refused HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{01}b\r\n\r\n")
            let refused = try raw.readResponse()
            #expect(refused.status == 400)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("invalid name or value"))
            let next = try await live.send("GET", "/labric/api/v1/next")
            #expect(next.status == 200)
            #expect(next.text == #"{"n":0}"#)
            #expect(upstream.connections == 1)
            let seen = heads.all
            #expect(seen.count == 2)
            #expect(seen.last?.hasPrefix("GET /api/v1/next HTTP/1.1\r\n") == true)
            #expect(!seen.joined().contains("refused"))
        }
    }
}
