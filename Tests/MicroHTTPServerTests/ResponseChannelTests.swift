import Dispatch
import Foundation
import LabgateTestSupport
import Logging
import MicroHTTPServer
import NIOCore
import Synchronization
import Testing

/// The callback path of `HTTPResponder`: answers written through `HTTPResponseChannel` from another thread.
@Suite struct ResponseChannelTests {
    static let queue = DispatchQueue(label: "channel-producer")

    @Test func sendsAWholeResponseFromAnotherThreadOnKeepAlive() async throws {
        try await withChannelServer({ request, channel in
            Self.queue.async {
                channel.send(
                    HTTPServerResponse(status: 201, headers: ["X-Via": "channel"], body: .string(request.target)))
            }
            return true
        }) { server in
            let port = server.port
            let replies = try await offPool {
                let client = try RawClient(port: port)
                return try (0..<200).map { i in
                    try client.send("GET /n/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
                    return try client.readResponse()
                }
            }
            #expect(replies.allSatisfy { $0.status == 201 && $0.header("X-Via") == "channel" })
            #expect(replies.enumerated().allSatisfy { $0.element.text == "/n/\($0.offset)" })
        }
    }

    @Test func declinedRequestsAndRequestsWithBodiesGoToTheTask() async throws {
        let asked = Counter()
        try await withChannelServer({ _, _ in
            asked.add(1)
            return false
        }) { server in
            let port = server.port
            let (declined, withBody) = try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
                let declined = try client.readResponse().text
                try client.send("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
                return (declined, try client.readResponse().text)
            }
            #expect(declined == "from the task")
            #expect(withBody == "from the task")
            #expect(asked.value == 1)
        }
    }

    /// 64 MiB in 64 KiB chunks, written only while `write` says there is room: byte-exact, and the producer did
    /// have to wait for the client.
    @Test func streamsWithBackpressureByteExact() async throws {
        let total = 64 << 20
        let waits = Counter()
        try await withChannelServer({ _, channel in
            channel.sendHead(status: 200, headers: ["Content-Type": "application/octet-stream"], length: nil)
            @Sendable func produce(from offset: Int) {
                var offset = offset
                while offset < total {
                    var chunk = [UInt8](repeating: 0, count: 64 << 10)
                    BytePattern.fill(&chunk, from: offset)
                    offset += chunk.count
                    if !channel.write(ByteBuffer(bytes: chunk)) {
                        waits.add(1)
                        let next = offset
                        channel.whenWritable { Self.queue.async { produce(from: next) } }
                        return
                    }
                }
                channel.finish()
            }
            Self.queue.async { produce(from: 0) }
            return true
        }) { server in
            let port = server.port
            let (status, received, mismatches) = try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
                var received = 0
                var mismatches = 0
                let response = try client.readResponse { bytes in
                    if !bytes.withUnsafeBytes({ BytePattern.matches($0, at: received) }) { mismatches += 1 }
                    received += bytes.count
                }
                return (response.status, received, mismatches)
            }
            #expect(status == 200)
            #expect(received == total)
            #expect(mismatches == 0)
            #expect(waits.value > 0)
        }
    }

    /// The in-flight registry (a list through the exchanges): twelve held exchanges, answered first, last and in
    /// between, leave it one by one, and each client gets its own answer.
    @Test func heldExchangesLeaveTheRegistryInAnyOrder() async throws {
        let held = Mutex([Int: HTTPResponseChannel]())
        try await withChannelServer({ request, channel in
            held.withLock { $0[Int(request.target.dropFirst())!] = channel }
            return true
        }) { server in
            let port = server.port
            async let replies = offPool {
                let clients = try (0..<12).map { index in
                    let client = try RawClient(port: port)
                    try client.send("GET /\(index) HTTP/1.1\r\nHost: t\r\n\r\n")
                    return client
                }
                return try clients.map { try $0.readResponse().text }
            }
            #expect(await eventually { server.inFlightCount == 12 && held.withLock { $0.count } == 12 })
            for (answered, index) in [11, 0, 5, 6, 1, 10, 3, 2, 9, 4, 8, 7].enumerated() {
                let channel = held.withLock { $0[index]! }
                channel.send(HTTPServerResponse(status: 200, headers: [:], body: .string("answer \(index)")))
                #expect(await eventually { server.inFlightCount == 11 - answered })
            }
            let texts = try await replies
            #expect(texts == (0..<12).map { "answer \($0)" })
        }
    }

    @Test func theProducerIsCancelledWhenTheClientLeaves() async throws {
        let cancelled = Flag()
        try await withChannelServer({ _, channel in
            channel.onCancel { cancelled.set() }
            channel.sendHead(status: 200, headers: [:], length: nil)
            channel.write(ByteBuffer(string: "first part"))
            return true  // and never finishes
        }) { server in
            let port = server.port
            struct SawTheFirstPart: Error {}
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
                // Leave once the exchange surely exists: after its first bytes.
                do {
                    _ = try client.readResponse { _ in throw SawTheFirstPart() }
                } catch is SawTheFirstPart {}
                client.reset()
            }
            #expect(await eventually { cancelled.value })
            #expect(await eventually { server.inFlightCount == 0 })
        }
    }

    @Test func aCutBodyClosesTheConnection() async throws {
        try await withChannelServer({ _, channel in
            Self.queue.async {
                channel.sendHead(status: 200, headers: [:], length: 100)
                channel.write(ByteBuffer(string: "only ten b"))
                channel.finish(failed: true)
            }
            return true
        }) { server in
            let port = server.port
            let outcome = try await offPool { () -> String in
                let client = try RawClient(port: port)
                try client.send("GET /cut HTTP/1.1\r\nHost: t\r\n\r\n")
                do {
                    _ = try client.readResponse()
                    return "complete"
                } catch {
                    return "cut"
                }
            }
            #expect(outcome == "cut")
        }
    }
}
