import LabgateTestSupport
import Testing

@testable import MicroHTTPServer

@Suite struct ConnectionMemoryTests {
    @Test func countsEveryFieldAndQueryArgument() {
        #expect(ConnectionMemory.requestCost(headBytes: 100, fields: 3, target: "/a") == 100 + 3 * 64)
        #expect(ConnectionMemory.requestCost(headBytes: 100, fields: 3, target: "/a?x=1") == 100 + 4 * 64)
        #expect(ConnectionMemory.requestCost(headBytes: 100, fields: 3, target: "/a?x=1&y=2&z") == 100 + 6 * 64)
        // A second `?` is part of the query, not a new one.
        #expect(ConnectionMemory.requestCost(headBytes: 100, fields: 0, target: "/a?x=?&y") == 100 + 2 * 64)
    }

    @Test func aResponseFitsUntilTheMarginIsReached() {
        // One field, `X-Pad: ` and 1000 bytes, as `ResponseFields` counts it.
        let head = ConnectionMemory.responseHeadBytes(fieldBytes: "X-Pad".utf8.count + 1000 + 4)
        #expect(head > 1000 + 9)
        let pool = 24 << 10
        let room = pool - ConnectionMemory.margin - head
        #expect(ConnectionMemory.fits(headBytes: head, afterRequestCost: room, poolBytes: pool))
        #expect(!ConnectionMemory.fits(headBytes: head, afterRequestCost: room + 1, poolBytes: pool))
    }

    @Test func thePoolFollowsTheHeaderLimit() {
        #expect(ConnectionMemory.poolBytes(forMaxHeaderBytes: 16 << 10) == 24 << 10)
        #expect(ConnectionMemory.poolBytes(forMaxHeaderBytes: 1024) == 16 << 10)
        #expect(ConnectionMemory.poolBytes(forMaxHeaderBytes: 64 << 10) == 72 << 10)
        var configuration = HTTPServer.Configuration()
        #expect(configuration.effectiveConnectionMemory == 24 << 10)
        configuration.connectionMemoryLimit = 40 << 10
        #expect(configuration.effectiveConnectionMemory == 40 << 10)
    }

    /// Every pairing of a large request head (few or many fields) with a large response head is answered: the
    /// response, a 431 or a JSON 502; libmicrohttpd never closes the connection without a word, which it did before
    /// the check when the two heads together outgrew the pool.
    @Test func largeHeadsBothWaysAreAnsweredNeverDropped() async throws {
        try await withServer(responder: { request in
            let size = Int(request.target.split(separator: "=").last ?? "0") ?? 0
            var response = HTTPServerResponse(status: 200, body: .string("ok"))
            if size > 0 { response.headers.add("X-Big", String(repeating: "y", count: size)) }
            return response
        }) { server in
            let port = server.port
            let outcomes = try await offPool {
                var outcomes: [(fields: Int, request: Int, response: Int, status: Int, text: String)] = []
                for fields in [1, 100] {
                    for requestBytes in [1_000, 8_000, 12_000, 15_000] {
                        for responseBytes in [0, 4_000, 8_000, 12_000, 20_000] {
                            let each = requestBytes / fields
                            let extra = (0..<fields).map { "X-\($0): \(String(repeating: "x", count: each))\r\n" }
                            let client = try RawClient(port: port, timeoutSeconds: 5)
                            try client.send("GET /?big=\(responseBytes) HTTP/1.1\r\nHost: t\r\n\(extra.joined())\r\n")
                            let answer = try client.readResponse()
                            outcomes.append((fields, requestBytes, responseBytes, answer.status, answer.text))
                        }
                    }
                }
                return outcomes
            }
            #expect(outcomes.count == 40)
            for outcome in outcomes {
                switch outcome.status {
                case 200: #expect(outcome.text == "ok")
                case 502: #expect(outcome.text.contains("\"code\":\"response_headers_too_large\""))
                default: Issue.record("\(outcome): neither the response nor the 502")
                }
            }
            // The small cases still pass, and the largest pairings are the ones refused.
            #expect(outcomes.filter { $0.request <= 8_000 && $0.response <= 8_000 }.allSatisfy { $0.status == 200 })
            #expect(outcomes.filter { $0.response == 20_000 && $0.request >= 8_000 }.allSatisfy { $0.status == 502 })
        }
    }
}
