import AsyncHTTPClient
import Foundation
import LabgateTestSupport
import MicroHTTPServer
import NIOCore
import Testing

@testable import Gateway

/// Bodies streaming through the gateway: large transfers byte-exact, server-sent events as they happen.
@Suite(.serialized) struct GatewayStreamingTests {
    static let mebibyte = 1 << 20

    // 256 MiB each way in bounded memory is measured on the labgate binary alone (EndToEndTests'
    // `StreamingMemoryTests`): in this process the test's own client and upstream would be measured too.

    /// Both ways of forwarding the download: from the server's loop (plain http) and through AsyncHTTPClient (what
    /// https upstreams take).
    @Test(.timeLimit(.minutes(3)), arguments: [true, false])
    func fixedLengthTransfersArriveByteExact(onServerLoop: Bool) async throws {
        try await withLiveGateway(
            .init(
                genie: .none, labric: .custom(PatternTransfers.upstream),
                configure: { $0.plainHTTPOnServerLoop = onServerLoop })
        ) { live in
            let total = 16 * Self.mebibyte + 7
            let uploaded = try await PatternTransfers.upload(live.client, live.baseURL + "/labric/upload", total: total)
            #expect(uploaded == .init(status: 200, bytes: total, intact: true))
            let downloaded = try await PatternTransfers.download(
                live.client, live.baseURL + "/labric/download?bytes=\(total)")
            #expect(downloaded == .init(status: 200, bytes: total, intact: true))
        }
    }

    @Test(.timeLimit(.minutes(3))) func chunkedUploadArrivesByteExact() async throws {
        try await withLiveGateway(.init(genie: .none, labric: .custom(PatternTransfers.upstream))) { live in
            let total = 32 * Self.mebibyte + 12345
            let uploaded = try await PatternTransfers.upload(
                live.client, live.baseURL + "/labric/upload", total: total, chunked: true)
            #expect(uploaded == .init(status: 200, bytes: total, intact: true))
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
