import Testing

@testable import MicroHTTPServer

@Suite struct RequestValidatorTests {
    let limits = HTTPServer.Configuration()

    func check(_ method: String = "GET", _ target: String = "/", _ headers: HTTPHeaders = [:]) -> Int? {
        switch RequestValidator.validate(
            method: method, target: target, headers: headers, maxHeaderBytes: limits.maxHeaderBytes,
            maxBodyBytes: limits.maxBodyBytes)
        {
        case .success: return nil
        case .failure(let rejection): return rejection.status
        }
    }

    @Test func acceptsOrdinaryRequests() {
        #expect(check() == nil)
        #expect(check("POST", "/a?b=c", ["Content-Length": "12"]) == nil)
        #expect(check("POST", "/a", ["Transfer-Encoding": "chunked"]) == nil)
        #expect(check("OPTIONS", "*") == nil)
    }

    @Test func refusesContentLengthWithTransferEncoding() {
        #expect(check("POST", "/", ["Content-Length": "3", "Transfer-Encoding": "chunked"]) == 400)
    }

    @Test func refusesUnknownTransferCodings() {
        #expect(check("POST", "/", ["Transfer-Encoding": "gzip, chunked"]) == 501)
        #expect(check("POST", "/", ["Transfer-Encoding": "identity"]) == 501)
    }

    @Test func refusesInvalidContentLength() {
        #expect(check("POST", "/", ["Content-Length": "-1"]) == 400)
        #expect(check("POST", "/", ["Content-Length": "1e3"]) == 400)
        #expect(check("POST", "/", ["Content-Length": "99999999999999999999"]) == 400)
        #expect(check("POST", "/", HTTPHeaders([("Content-Length", "3"), ("Content-Length", "4")])) == 400)
    }

    @Test func refusesConnectAndAbsoluteForm() {
        #expect(check("CONNECT", "example.com:443") == 400)
        #expect(check("GET", "http://example.com/") == 400)
        #expect(check("GET", "*") == 400)
    }

    @Test func refusesControlCharactersInTarget() {
        #expect(check("GET", "/a\rb") == 400)
        #expect(check("GET", "/a\nb") == 400)
        #expect(check("GET", "/a\u{0}b") == 400)
    }

    @Test func refusesOversizedHeaders() {
        #expect(check("GET", "/", ["X-Big": String(repeating: "a", count: 40_000)]) == 431)
    }

    @Test func refusesDeclaredBodiesOverTheLimit() {
        var limits = HTTPServer.Configuration()
        limits.maxBodyBytes = 10
        let result = RequestValidator.validate(
            method: "POST", target: "/", headers: ["Content-Length": "11"], maxHeaderBytes: limits.maxHeaderBytes,
            maxBodyBytes: limits.maxBodyBytes)
        guard case .failure(let rejection) = result else {
            Issue.record("accepted an oversized body")
            return
        }
        #expect(rejection.status == 413)
        #expect(rejection.code == "body_too_large")
    }
}
