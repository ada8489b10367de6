import Foundation
import LabgateTestSupport
import MicroHTTPServer
import NIOCore
import Synchronization
import Testing

/// A request body pushed to a `RequestBodyReceiver` on the server's thread (`HTTPResponder.bodyReceiver`): every
/// byte once and in order, a receiver that takes less pauses the client until `resumeBody`, and the receiver always
/// hears how the body ended.
@Suite struct BodyReceiverTests {
    /// Takes at most `limit` bytes a call, then nothing until the loop's next round resumes it; answers with the
    /// byte count and whether every byte matched `BytePattern` once the body has ended.
    final class PacedReceiver: RequestBodyReceiver, @unchecked Sendable {
        let channel: HTTPResponseChannel
        let limit: Int
        let log: Log
        var received = 0
        var intact = true
        var full = false

        init(channel: HTTPResponseChannel, limit: Int, log: Log) {
            self.channel = channel
            self.limit = limit
            self.log = log
        }

        func bodyReceived(_ bytes: UnsafeRawBufferPointer) -> Int {
            log.offers.add(1, ordering: .relaxed)
            if full {
                log.offersWhilePaused.add(1, ordering: .relaxed)
                return 0
            }
            let taken = min(limit, bytes.count)
            intact = intact && BytePattern.matches(UnsafeRawBufferPointer(rebasing: bytes[0..<taken]), at: received)
            received += taken
            if taken < bytes.count {
                full = true
                log.pauses.add(1, ordering: .relaxed)
                // Resumed from the loop's queue, later: as an upstream connection that drained would.
                channel.loop.execute { [self] in
                    full = false
                    channel.resumeBody()
                }
            }
            return taken
        }

        func bodyEnded(complete: Bool) {
            log.ended.withLock { $0.append(complete) }
            guard complete else { return }
            channel.send(HTTPServerResponse(status: 200, body: .string("\(received) \(intact)")))
        }
    }

    final class Log: Sendable {
        let offers = Atomic(0)
        let offersWhilePaused = Atomic(0)
        let pauses = Atomic(0)
        let ended = Mutex([Bool]())
        var endings: [Bool] { ended.withLock { $0 } }
    }

    struct Responder: HTTPResponder {
        let limit: Int
        let log: Log

        func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
            HTTPServerResponse(status: 200, body: .string("from the task"))
        }

        func bodyReceiver(for request: HTTPServerRequest, through channel: HTTPResponseChannel)
            -> (any RequestBodyReceiver)?
        {
            request.target == "/task" ? nil : PacedReceiver(channel: channel, limit: limit, log: log)
        }
    }

    static func upload(_ client: RawClient, path: String = "/up", count: Int, chunked: Bool = false) throws {
        let framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: \(count)"
        try client.send("PUT \(path) HTTP/1.1\r\nHost: t\r\n\(framing)\r\n\r\n")
        try client.sendPattern(count: count, piece: 100_000, chunked: chunked)
    }

    @Test(arguments: [false, true]) func aPacedReceiverGetsTheWholeBodyInOrder(chunked: Bool) async throws {
        let log = Log()
        try await withServer(responder: Responder(limit: 5_000, log: log)) { server in
            let port = server.port
            let replies = try await offPool {
                let client = try RawClient(port: port)
                return try [2 << 20, 7].map { size in
                    try Self.upload(client, count: size, chunked: chunked)
                    return try client.readResponse().text
                }
            }
            #expect(replies == ["\(2 << 20) true", "7 true"])
            #expect(log.endings == [true, true])
            // It paused, and while paused it was not offered the body again (the connection was suspended).
            #expect(log.pauses.load(ordering: .relaxed) > 10)
            #expect(log.offersWhilePaused.load(ordering: .relaxed) == 0)
        }
    }

    @Test func aDeclinedBodyGoesToTheTask() async throws {
        let log = Log()
        try await withServer(responder: Responder(limit: 5_000, log: log)) { server in
            let port = server.port
            let reply = try await offPool {
                let client = try RawClient(port: port)
                try Self.upload(client, path: "/task", count: 300_000)
                return try client.readResponse().text
            }
            #expect(reply == "from the task")
            #expect(log.offers.load(ordering: .relaxed) == 0)
        }
    }

    @Test func theReceiverHearsWhenTheClientLeavesMidBody() async throws {
        let log = Log()
        try await withServer(responder: Responder(limit: 1 << 20, log: log)) { server in
            let port = server.port
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
                try client.send([UInt8](repeating: 0, count: 1000))
                while log.offers.load(ordering: .relaxed) == 0 { usleep(2_000) }
                client.reset()
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while log.endings.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(log.endings == [false])
        }
    }
}
