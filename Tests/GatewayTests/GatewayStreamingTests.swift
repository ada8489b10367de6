import AsyncHTTPClient
import Foundation
import MicroHTTPServer
import NIOCore
import Testing

@testable import Gateway

/// Bodies streaming through the gateway: large transfers in bounded memory, server-sent events as they happen.
@Suite(.serialized) struct GatewayStreamingTests {
    static let mebibyte = 1 << 20

    /// `PUT /upload` checks the body against `BytePattern` as it arrives and answers `{"bytes": n, "intact": b}`;
    /// `GET /download?bytes=N` streams N bytes of the pattern with their length announced.
    static let patternUpstream: @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse = { request in
        switch (request.method, String(request.path)) {
        case ("PUT", "/upload"):
            var offset = 0
            var intact = true
            for try await chunk in request.body {
                if intact && !BytePattern.matches(chunk, at: offset) { intact = false }
                offset += chunk.readableBytes
            }
            return HTTPServerResponse(
                status: 200, headers: ["Content-Type": "application/json"],
                body: .string(#"{"bytes": \#(offset), "intact": \#(intact)}"#))
        case ("GET", "/download"):
            let total = request.query.flatMap { Int($0.dropFirst("bytes=".count)) } ?? 0
            return HTTPServerResponse(
                status: 200, headers: ["Content-Type": "application/octet-stream"],
                body: .stream(length: total) { writer in
                    var offset = 0
                    while offset < total {
                        let count = min(256 << 10, total - offset)
                        try await writer.write(BytePattern.chunk(at: offset, count: count))
                        offset += count
                    }
                })
        default:
            return HTTPServerResponse(status: 404)
        }
    }

    /// Uploads `total` pattern bytes (with a length, or chunked) and returns what the upstream counted.
    static func upload(_ live: LiveGateway, total: Int, chunked: Bool = false) async throws -> (
        bytes: Int, intact: Bool
    ) {
        var request = HTTPClientRequest(url: live.baseURL + "/labric/upload")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(
            PatternChunks(total: total, chunkSize: mebibyte), length: chunked ? .unknown : .known(Int64(total)))
        let response = try await live.client.execute(request, timeout: .minutes(5))
        #expect(response.status.code == 200)
        let body = try await response.body.collect(upTo: 1 << 16)
        let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        return (jsonInt(json?["bytes"]) ?? -1, json?["intact"] as? Bool ?? false)
    }

    /// Downloads `total` pattern bytes, checking them as they come; returns how many arrived intact.
    static func download(_ live: LiveGateway, total: Int) async throws -> (bytes: Int, intact: Bool) {
        let request = HTTPClientRequest(url: live.baseURL + "/labric/download?bytes=\(total)")
        let response = try await live.client.execute(request, timeout: .minutes(5))
        #expect(response.status.code == 200)
        #expect(response.headers.first(name: "Content-Length") == "\(total)")
        var offset = 0
        var intact = true
        for try await chunk in response.body {
            if intact && !BytePattern.matches(chunk, at: offset) { intact = false }
            offset += chunk.readableBytes
        }
        return (offset, intact)
    }

    @Test(.timeLimit(.minutes(10))) func twoHundredFiftySixMiBEachWayArriveByteExactInBoundedMemory() async throws {
        let total = 256 * Self.mebibyte
        try await withLiveGateway(.init(genie: .none, labric: .custom(Self.patternUpstream))) { live in
            // Warm up: the pattern block, the connection pools and the buffers exist before anything is measured.
            _ = BytePattern.block.count
            let warmUpload = try await Self.upload(live, total: 4 * Self.mebibyte)
            let warmDownload = try await Self.download(live, total: 4 * Self.mebibyte)
            #expect(warmUpload.bytes == 4 * Self.mebibyte && warmUpload.intact)
            #expect(warmDownload.bytes == 4 * Self.mebibyte && warmDownload.intact)

            ProcessMemory.resetPeak()
            let beforeUpload = ProcessMemory.resident
            let clock = ContinuousClock()
            var uploaded = (bytes: 0, intact: false)
            let uploadTime = try await clock.measure { uploaded = try await Self.upload(live, total: total) }
            let uploadGrowth = ProcessMemory.peakResident - beforeUpload

            ProcessMemory.resetPeak()
            let beforeDownload = ProcessMemory.resident
            var downloaded = (bytes: 0, intact: false)
            let downloadTime = try await clock.measure { downloaded = try await Self.download(live, total: total) }
            let downloadGrowth = ProcessMemory.peakResident - beforeDownload

            print(
                "256 MiB up in \(uploadTime) (peak RSS +\(uploadGrowth >> 20) MiB),"
                    + " down in \(downloadTime) (peak RSS +\(downloadGrowth >> 20) MiB)")
            #expect(uploaded.bytes == total)
            #expect(uploaded.intact)
            #expect(downloaded.bytes == total)
            #expect(downloaded.intact)
            #expect(beforeUpload > 0 && beforeDownload > 0, "VmRSS unreadable")
            #expect(uploadGrowth < 64 * Self.mebibyte, "upload grew peak RSS by \(uploadGrowth >> 20) MiB")
            #expect(downloadGrowth < 64 * Self.mebibyte, "download grew peak RSS by \(downloadGrowth >> 20) MiB")
        }
    }

    @Test(.timeLimit(.minutes(3))) func chunkedUploadArrivesByteExact() async throws {
        try await withLiveGateway(.init(genie: .none, labric: .custom(Self.patternUpstream))) { live in
            let total = 32 * Self.mebibyte + 12345
            let uploaded = try await Self.upload(live, total: total, chunked: true)
            #expect(uploaded.bytes == total)
            #expect(uploaded.intact)
        }
    }

    // MARK: Server-sent events

    static let agentRun = #"{"prompt": "Summarize the plate reader data", "stream": true}"#

    /// The SSE frames of a body, each with the instant its final byte arrived.
    static func events(of response: HTTPClientResponse, onEvent: (String) -> Void = { _ in })
        async throws -> [(event: String, at: ContinuousClock.Instant)]
    {
        var pending = ""
        var events: [(String, ContinuousClock.Instant)] = []
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let event = String(pending[..<end.lowerBound])
                pending.removeSubrange(..<end.upperBound)
                events.append((event, ContinuousClock.now))
                onEvent(event)
            }
        }
        #expect(pending.isEmpty, "a partial event at the end: \(pending)")
        return events
    }

    @Test(.timeLimit(.minutes(1))) func serverSentEventIsDeliveredBeforeTheUpstreamSendsTheNext() async throws {
        let gate = Gate()
        defer { gate.open() }
        let upstream: @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse = { request in
            _ = try await request.body.collect(upTo: 1 << 16)
            return HTTPServerResponse(
                status: 200, headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"],
                body: .stream(length: nil) { writer in
                    try await writer.write(#"data: {"type": "tool_call"}"# + "\n\n")
                    // The rest waits until the client has seen the first event: a buffering gateway never gets here.
                    await gate.wait()
                    try await writer.write(#"data: {"type": "text_delta", "delta": "Plate 4"}"# + "\n\n")
                    try await writer.write(#"data: {"type": "result"}"# + "\n\n")
                })
        }
        try await withLiveGateway(.init(genie: .none, labric: .custom(upstream))) { live in
            var request = HTTPClientRequest(url: live.baseURL + "/labric/api/v1/agent/runs")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: Self.agentRun))
            let response = try await live.client.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "Content-Type") == "text/event-stream")

            let firstBeforeRelease = Flag()
            let events = try await withThrowingTaskGroup(of: [String].self) { group in
                // A buffering gateway would deadlock the test: release the upstream anyway after a while.
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    gate.open()
                    return []
                }
                let events = try await Self.events(of: response) { _ in
                    if !gate.isOpen {
                        firstBeforeRelease.set()
                        gate.open()
                    }
                }
                group.cancelAll()
                return events.map(\.event)
            }
            #expect(firstBeforeRelease.value, "the first event only arrived after the upstream sent the rest")
            #expect(
                events == [
                    #"data: {"type": "tool_call"}"#, #"data: {"type": "text_delta", "delta": "Plate 4"}"#,
                    #"data: {"type": "result"}"#,
                ])
        }
    }

    @Test(.timeLimit(.minutes(1))) func agentRunStreamsEventByEventFromTheLabricSimulator() async throws {
        let interval = Duration.milliseconds(150)
        try await withLiveGateway(.init(genie: .none, labric: .simulator(agentEventInterval: interval))) { live in
            func run(_ url: String, headers: [(String, String)]) async throws -> HTTPClientResponse {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                for (name, value) in headers { request.headers.add(name: name, value: value) }
                request.body = .bytes(ByteBuffer(string: Self.agentRun))
                return try await live.client.execute(request, timeout: .seconds(30))
            }
            let server = try #require(live.labricServer)
            let direct = try await Self.events(
                of: try await run(
                    "http://127.0.0.1:\(server.port)/api/v1/agent/runs",
                    headers: [("Authorization", "Bearer \(live.labricAPIKey)")]))
            let response = try await run(live.baseURL + "/labric/api/v1/agent/runs", headers: [])
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
            let forwarded = try await Self.events(of: response)

            #expect(forwarded.map(\.event) == direct.map(\.event))
            #expect(forwarded.count >= 4)
            #expect(forwarded.last?.event.contains(#""type":"result""#) == true)
            // Paced 150 ms apart upstream, they arrive paced: the first long before the last.
            if let first = forwarded.first, let last = forwarded.last {
                let spread = last.at - first.at
                #expect(spread >= interval * (forwarded.count - 1) / 2, "all events arrived within \(spread)")
            }
        }
    }
}

/// A flag several tasks may set.
final class Flag: Sendable {
    private let tally = Tally()
    func set() { tally.add() }
    var value: Bool { tally.value > 0 }
}
