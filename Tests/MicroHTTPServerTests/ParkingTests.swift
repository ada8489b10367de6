import Dispatch
import Foundation
import LabgateTestSupport
import MicroHTTPServer
import Testing

/// A connection waiting for its response while the loop is busy is parked, not suspended (`Exchange.park`): the
/// answer is sent with no suspend and resume, the loop still sleeps while the answer is slow, and a client leaving
/// a parked exchange still ends it.
@Suite struct ParkingTests {
    /// The answer comes in the loop's next round, as an upstream's answer does: the connection waits parked, and
    /// nothing is suspended in 200 keep-alive requests (each would be suspended without parking).
    @Test func anAnswerFromTheLoopsNextRoundIsSentWithoutSuspending() async throws {
        try await withServer(
            { $0.loops = 1 },
            responder: ChannelResponder { request, channel in
                channel.loop.execute { channel.send(HTTPServerResponse(status: 200, body: .string(request.target))) }
                return true
            }
        ) { server in
            let texts = try await Self.getSequentially(200, port: server.port)
            #expect(texts == (0..<200).map { "/n/\($0)" })
            #expect(server.suspensionCount == 0)
        }
    }

    /// Work held for the end of the round (`ServerLoop.atRoundEnd`, how the upstream client sends its requests) runs
    /// in that round, and so does work it holds in turn: the answers it sends go out, with no suspend.
    @Test func workHeldForTheRoundsEndRunsInThatRound() async throws {
        try await withServer(
            { $0.loops = 1 },
            responder: ChannelResponder { request, channel in
                let loop = channel.loop
                loop.atRoundEnd(
                    RoundEndWork {
                        loop.atRoundEnd(
                            RoundEndWork {
                                channel.send(HTTPServerResponse(status: 200, body: .string(request.target)))
                            })
                    })
                return true
            }
        ) { server in
            let texts = try await Self.getSequentially(100, port: server.port)
            #expect(texts == (0..<100).map { "/n/\($0)" })
            #expect(server.suspensionCount == 0)
        }
    }

    /// The answer comes from another thread a fraction of a millisecond later, as an HTTP client's answer does:
    /// the loop waits for it (`DaemonLoop.lingerMilliseconds`) instead of suspending the connection after a round
    /// that brought nothing. Without that wait nearly every one of the 100 requests is suspended.
    @Test func anAnswerFromAnotherThreadSoonAfterIsSentWithoutSuspending() async throws {
        try await withServer(
            { $0.loops = 1 },
            responder: ChannelResponder { request, channel in
                DispatchQueue.global().async {
                    usleep(200)
                    channel.send(HTTPServerResponse(status: 200, body: .string(request.target)))
                }
                return true
            }
        ) { server in
            let texts = try await Self.getSequentially(100, port: server.port)
            #expect(texts == (0..<100).map { "/n/\($0)" })
            #expect(server.suspensionCount <= 20, "suspends: \(server.suspensionCount)")
        }
    }

    /// An answer that takes a second: the connection is suspended once the loop has nothing else to do, so the
    /// wait costs no CPU (a loop spinning on a parked connection would burn the whole second).
    @Test func aSlowAnswerIsAwaitedSuspendedWithoutSpinning() async throws {
        try await withServer(
            { $0.loops = 1 },
            responder: ChannelResponder { _, channel in
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
                    channel.send(HTTPServerResponse(status: 200, body: .string("late")))
                }
                return true
            }
        ) { server in
            let port = server.port
            let before = Self.processCPUSeconds()
            let text = try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 10)
                try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse().text
            }
            let used = Self.processCPUSeconds() - before
            #expect(text == "late")
            #expect(server.suspensionCount == 1)
            #expect(used < 0.5, "CPU seconds while waiting: \(used)")
        }
    }

    /// A client that leaves while its exchange waits for an answer that never comes: the exchange ends and the
    /// producer is told, with the connection parked or suspended.
    @Test func aClientLeavingWhileItsAnswerIsAwaitedEndsTheExchange() async throws {
        let cancelled = Flag()
        try await withServer(
            { $0.loops = 1 },
            responder: ChannelResponder { _, channel in
                channel.onCancel { cancelled.set() }
                return true
            }
        ) { server in
            let port = server.port
            let client = try RawClient(port: port)  // connecting and a short send do not block
            try client.send("GET /never HTTP/1.1\r\nHost: t\r\n\r\n")
            // Leave once the exchange surely exists (a reset that came first would discard the request unread).
            #expect(await eventually { server.inFlightCount == 1 })
            client.reset()
            #expect(await eventually { cancelled.value })
            #expect(await eventually { server.inFlightCount == 0 })
        }
    }

    /// `GET /n/0` to `/n/<count - 1>` on one keep-alive connection, one after the other; the bodies.
    static func getSequentially(_ count: Int, port: Int) async throws -> [String] {
        try await offPool {
            let client = try RawClient(port: port)
            return try (0..<count).map { i in
                try client.send("GET /n/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse().text
            }
        }
    }

    static func processCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// A closure run at the end of the loop's round.
final class RoundEndWork: ServerLoopRoundEnd, Sendable {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
    func roundEnded() { work() }
}
