import Foundation
import LabgateTestSupport
import MicroHTTPServer
import NIOCore
import Synchronization
import Testing

@Suite struct ConnectionTests {
    @Test func serves1000RequestsOnOneKeepAliveConnection() async throws {
        try await withServer(responder: { request in
            HTTPServerResponse(status: 200, body: .string("hello \(request.target)"))
        }) { server in
            let port = server.port
            let bodies = try await offPool {
                let client = try RawClient(port: port)
                var bodies: [String] = []
                for i in 0..<1000 {
                    try client.send("GET /n/\(i) HTTP/1.1\r\nHost: test\r\n\r\n")
                    bodies.append(try client.readResponse().text)
                }
                return bodies
            }
            #expect(bodies.count == 1000)
            #expect(bodies.enumerated().allSatisfy { $0.element == "hello /n/\($0.offset)" })
        }
    }

    @Test func answersPipelinedRequestsInOrder() async throws {
        try await withServer(responder: { request in
            // The first request is the slowest: order must still hold.
            if request.target == "/0" { try await Task.sleep(for: .milliseconds(100)) }
            return HTTPServerResponse(status: 200, body: .string(request.target))
        }) { server in
            let port = server.port
            let bodies = try await offPool {
                let client = try RawClient(port: port)
                try client.send((0..<5).map { "GET /\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
                return try (0..<5).map { _ in try client.readResponse().text }
            }
            #expect(bodies == ["/0", "/1", "/2", "/3", "/4"])
        }
    }

    @Test func holds1000ConcurrentConnectionsWithoutAThreadEach() async throws {
        let inFlight = Counter()
        try await withServer(responder: { _ in
            // Every handler waits until all 1,000 are in flight at once: only a server that suspends instead of
            // parking a thread per request gets there.
            inFlight.add(1)
            let deadline = ContinuousClock.now + .seconds(30)
            while inFlight.value < 1000, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            return HTTPServerResponse(status: 200, body: .string("ok"))
        }) { server in
            let port = server.port
            let statuses = try await offPool {
                let clients = try (0..<1000).map { _ in try RawClient(port: port) }
                for client in clients { try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n") }
                return try clients.map { try $0.readResponse().status }
            }
            #expect(statuses.count == 1000)
            #expect(statuses.allSatisfy { $0 == 200 })
            #expect(inFlight.value == 1000)
        }
    }

    @Test func answersOversizedHeadersWith431() async throws {
        try await withServer(responder: { _ in HTTPServerResponse(status: 200) }) { server in
            let port = server.port
            let (overLimit, overBuffer) = try await offPool {
                // Over the configured limit: our JSON error.
                let first = try RawClient(port: port)
                try first.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "x", count: 17_000))\r\n\r\n")
                // Over what the connection's memory holds: libmicrohttpd answers 431 itself.
                let second = try RawClient(port: port)
                try second.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "x", count: 40_000))\r\n\r\n")
                return (try first.readResponse(), try second.readResponse())
            }
            #expect(overLimit.status == 431)
            #expect(overLimit.text.contains("\"code\":\"headers_too_large\""))
            #expect(overBuffer.status == 431)
        }
    }

    /// Headers libmicrohttpd would refuse or that would break the framing are left out; the rest arrive as given.
    @Test func leavesOutHeadersThatCannotBeSent() async throws {
        try await withServer(responder: { _ in
            var response = HTTPServerResponse(status: 200, body: .string("body"))
            for (name, value) in [
                ("X-Kept", "yes"), ("X-Empty", ""), ("X-Break", "a\r\nInjected: 1"), ("X-Nul", "a\u{0}b"),
                ("Content-Length", "999"), ("transfer-encoding", "gzip"), ("X Space", "v"), ("X:Colon", "v"),
                ("X-Also-Kept", "caf\u{e9}"),
            ] {
                response.headers.add(name, value)
            }
            return response
        }) { server in
            let port = server.port
            let reply = try await RawClient.getRoot(port: port)
            #expect(reply.status == 200)
            #expect(reply.text == "body")
            #expect(reply.header("X-Kept") == "yes")
            #expect(reply.header("X-Also-Kept") == "caf\u{e9}")
            #expect(reply.header("Content-Length") == "4")
            for name in ["X-Empty", "X-Break", "Injected", "X-Nul", "Transfer-Encoding", "X Space", "X", "X:Colon"] {
                #expect(reply.header(name) == nil, "\(name)")
            }
        }
    }

    @Test func slowHeaderClientsDoNotDelayOthers() async throws {
        try await withServer(responder: { _ in HTTPServerResponse(status: 200, body: .string("fast")) }) { server in
            let port = server.port
            let (slowStillOpen, body) = try await offPool {
                // 100 clients that start a request and never finish their headers.
                let slow = try (0..<100).map { _ in try RawClient(port: port) }
                for client in slow { try client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ") }
                let client = try RawClient(port: port, timeoutSeconds: 5)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                let body = try client.readResponse().text
                // The slow ones are still waiting: the normal request did not have to wait for them.
                for client in slow { try client.send("a") }
                return (slow.count, body)
            }
            #expect(body == "fast")
            #expect(slowStillOpen == 100)
        }
    }

    @Test func refusesBadFramingBeforeTheHandler() async throws {
        let handled = Counter()
        try await withServer(responder: { _ in
            handled.add(1)
            return HTTPServerResponse(status: 200)
        }) { server in
            let port = server.port
            let requests = [
                ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
                ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
                ("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
                ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
            ]
            for (request, expected) in requests {
                let response = try await offPool {
                    let client = try RawClient(port: port)
                    try client.send(request)
                    return try client.readResponse()
                }
                #expect(response.status == expected, "\(request)")
                #expect(response.header("Content-Type") == "application/json")
                #expect(response.text.contains("\"request_id\""))
            }
            #expect(handled.value == 0)
        }
    }

    @Test func handsTheRawTargetAndHeadersToTheHandler() async throws {
        try await withServer(responder: { request in
            let echo = "\(request.method) \(request.target) \(request.version) \(request.headers["x-one"] ?? "-")"
            return HTTPServerResponse(status: 200, body: .string(echo + " " + (request.peer?.description ?? "?")))
        }) { server in
            let port = server.port
            let text = try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /a%2Fb/%7E?q=1&r=%20 HTTP/1.1\r\nHost: t\r\nX-One: 1\r\n\r\n")
                return try client.readResponse().text
            }
            #expect(text == "GET /a%2Fb/%7E?q=1&r=%20 HTTP/1.1 1 127.0.0.1")
        }
    }
}

@Suite struct ImmediateResponderTests {
    struct Responder: HTTPResponder {
        let asyncCalls = Counter()

        func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
            asyncCalls.add(1)
            return HTTPServerResponse(status: 200, body: .string("async"))
        }

        func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? {
            request.path == "/fast" ? HTTPServerResponse(status: 200, body: .string("immediate")) : nil
        }
    }

    @Test func answersOnTheServerThreadWhenTheResponderCan() async throws {
        let responder = Responder()
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0), responder: responder, logger: .init(label: "t"))
        try server.start()
        let port = server.port
        let bodies = try await offPool {
            let client = try RawClient(port: port)
            var bodies: [String] = []
            for target in ["/fast", "/slow", "/fast"] {
                try client.send("GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n")
                bodies.append(try client.readResponse().text)
            }
            // A request with a body always goes to `respond`, even on an immediate path.
            try client.send("POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
            bodies.append(try client.readResponse().text)
            return bodies
        }
        await server.shutdown()
        #expect(bodies == ["immediate", "async", "immediate", "async"])
        #expect(responder.asyncCalls.value == 2)
    }
}
