import Dispatch
import Foundation
import LabgateTestSupport
import NIOCore
import Synchronization
import Testing

@testable import MicroHTTPServer

/// Responses whose fields go straight to libmicrohttpd (`HTTPResponseChannel.send(status:body:_:)` and
/// `sendHead(status:length:_:)`): the fields arrive as given, the ones libmicrohttpd cannot send are left out, the
/// pool's limit holds, and a response made for a client that left is let go, with the exchange it holds.
@Suite struct PreparedResponseTests {
    static let queue = DispatchQueue(label: "prepared-producer")

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func wholeResponsesCarryTheirFieldsOnKeepAlive() async throws {
        try await withChannelServer({ request, channel in
            let target = request.target
            Self.queue.async {
                channel.send(status: 201, body: ByteBuffer(string: "body of \(target)")) { fields in
                    fields.add("X-Plain", "one")
                    Self.bytes("X-Checked").withUnsafeBytes { name in
                        Self.bytes("two words").withUnsafeBytes { value in fields.add(checked: name, value) }
                    }
                }
            }
            return true
        }) { server in
            let port = server.port
            let replies = try await offPool {
                let client = try RawClient(port: port)
                return try (0..<50).map { index in
                    try client.send("GET /n/\(index) HTTP/1.1\r\nHost: t\r\n\r\n")
                    return try client.readResponse()
                }
            }
            #expect(replies.allSatisfy { $0.status == 201 })
            #expect(replies.allSatisfy { $0.header("X-Plain") == "one" && $0.header("X-Checked") == "two words" })
            #expect(replies.enumerated().allSatisfy { $0.element.text == "body of /n/\($0.offset)" })
            #expect(replies.allSatisfy { $0.header("Content-Length") == String($0.body.count) })
        }
    }

    /// `add` leaves out what libmicrohttpd would refuse or what would break the framing; the connection goes on.
    @Test func unsendableFieldsAreLeftOut() async throws {
        try await withChannelServer({ _, channel in
            channel.send(status: 200, body: ByteBuffer(string: "12345")) { fields in
                fields.add("Bad Name", "v")
                fields.add("X-Colon:", "v")
                fields.add("X-CR", "a\rb")
                fields.add("X-LF", "a\nb")
                fields.add("X-NUL", "a\0b")
                fields.add("X-Empty", "")
                fields.add("Content-Length", "99")
                fields.add("transfer-encoding", "chunked")
                fields.add("X-Kept", "yes")
            }
            return true
        }) { server in
            let port = server.port
            let replies = try await offPool {
                let client = try RawClient(port: port)
                return try (0..<2).map { _ in
                    try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    return try client.readResponse()
                }
            }
            for reply in replies {
                let names = reply.headers.map { $0.0.lowercased() }
                #expect(reply.header("X-Kept") == "yes")
                #expect(names.filter { $0.hasPrefix("x-") } == ["x-kept"])
                #expect(reply.header("Content-Length") == "5")
                #expect(!names.contains("transfer-encoding"))
                #expect(reply.text == "12345")
            }
        }
    }

    @Test func streamedHeadsCarryTheirFieldsWithAndWithoutALength() async throws {
        try await withChannelServer({ request, channel in
            let known = request.target == "/known"
            Self.queue.async {
                channel.sendHead(status: 200, length: known ? 10 : nil) { fields in fields.add("X-Stream", "yes") }
                channel.write(ByteBuffer(string: "01234"))
                channel.write(ByteBuffer(string: "56789"))
                channel.finish()
            }
            return true
        }) { server in
            let port = server.port
            let (known, chunked) = try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /known HTTP/1.1\r\nHost: t\r\n\r\n")
                let known = try client.readResponse()
                try client.send("GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n")
                return (known, try client.readResponse())
            }
            #expect(known.header("X-Stream") == "yes" && chunked.header("X-Stream") == "yes")
            #expect(known.header("Content-Length") == "10" && known.text == "0123456789")
            #expect(chunked.header("Transfer-Encoding") == "chunked" && chunked.text == "0123456789")
        }
    }

    /// Fields too large for the connection's pool beside the request: a 502 in JSON, as for an `HTTPServerResponse`,
    /// with the response's request id.
    @Test func fieldsBeyondThePoolGetA502() async throws {
        let large = String(repeating: "v", count: 4000)
        try await withChannelServer({ _, channel in
            channel.send(status: 200, body: nil) { fields in
                for index in 0..<12 { fields.add("X-Large-\(index)", large) }
                fields.add("X-Request-Id", "prepared-id")
            }
            return true
        }) { server in
            let port = server.port
            let reply = try await RawClient.getRoot(port: port)
            #expect(reply.status == 502)
            #expect(reply.text.contains("\"code\":\"response_headers_too_large\""))
            #expect(reply.text.contains("\"request_id\":\"prepared-id\""))
        }
    }

    /// A streamed response holds its exchange until libmicrohttpd lets go of it: made after the client left, it is
    /// let go at once, and the exchange with it.
    @Test func aResponseForAClientThatLeftIsLetGo() async throws {
        let held = Mutex<HTTPResponseChannel?>(nil)
        let exchange = WeakExchange()
        try await withChannelServer({ _, channel in
            held.withLock { $0 = channel }
            exchange.set(channel.exchange)
            return true
        }) { server in
            let port = server.port
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /leaving HTTP/1.1\r\nHost: t\r\n\r\n")
                while held.withLock({ $0 == nil }) { usleep(1000) }
                client.reset()
            }
            #expect(await eventually { server.inFlightCount == 0 })
            let channel = try #require(held.withLock { $0.take() })
            channel.sendHead(status: 200, length: nil) { fields in fields.add("X-Late", "yes") }
            #expect(exchange.isAlive)  // the channel still holds it
        }
        #expect(await eventually { !exchange.isAlive })
    }

    /// Made while the request body is still coming (libmicrohttpd queues it only after the body), then the client
    /// leaves: the exchange's end lets go of the waiting response, and of the exchange.
    @Test func aWaitingResponseIsLetGoWhenTheClientLeaves() async throws {
        let exchange = WeakExchange()
        let answered = Flag()
        let responder = EarlyAnswer { channel in
            exchange.set(channel.exchange)
            channel.sendHead(status: 200, length: nil) { fields in fields.add("X-Early", "yes") }
            answered.set()
        }
        try await withServer(responder: responder) { server in
            let port = server.port
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n0123456789")
                while !answered.value { usleep(1000) }
                client.reset()
            }
            #expect(await eventually { server.inFlightCount == 0 })
        }
        #expect(await eventually { !exchange.isAlive })
    }
}

/// A weak hold on an exchange, to see it freed.
final class WeakExchange: @unchecked Sendable {
    private let lock = Mutex(())
    private weak var exchange: Exchange?

    func set(_ exchange: Exchange) { lock.withLock { _ in self.exchange = exchange } }
    var isAlive: Bool { lock.withLock { _ in exchange != nil } }
}

/// Takes a request body and answers at its first bytes, through `answer`, without waiting for the rest.
struct EarlyAnswer: HTTPResponder {
    let answer: @Sendable (HTTPResponseChannel) -> Void

    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        HTTPServerResponse(status: 500)
    }

    func bodyReceiver(for request: HTTPServerRequest, through channel: HTTPResponseChannel)
        -> (any RequestBodyReceiver)?
    {
        Receiver(channel: channel, answer: answer)
    }

    final class Receiver: RequestBodyReceiver, @unchecked Sendable {
        let channel: HTTPResponseChannel
        let answer: @Sendable (HTTPResponseChannel) -> Void
        var answered = false

        init(channel: HTTPResponseChannel, answer: @escaping @Sendable (HTTPResponseChannel) -> Void) {
            self.channel = channel
            self.answer = answer
        }

        func bodyReceived(_ bytes: UnsafeRawBufferPointer) -> Int {
            if !answered {
                answered = true
                answer(channel)
            }
            return bytes.count
        }

        func bodyEnded(complete: Bool) {}
    }
}
