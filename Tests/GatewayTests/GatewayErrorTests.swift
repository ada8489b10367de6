import MicroHTTPServer
import Testing

@testable import Gateway

@Suite struct GatewayErrorTests {
    @Test(arguments: [
        (GatewayError.Code.noRoute, 404, "no_route"),
        (.badRequest, 400, "bad_request"),
        (.bodyTooLarge, 413, "body_too_large"),
        (.headersTooLarge, 431, "headers_too_large"),
        (.unauthenticated, 401, "unauthenticated"),
        (.forbidden, 403, "forbidden"),
        (.rateLimited, 429, "rate_limited"),
        (.upstreamNotConfigured, 503, "upstream_not_configured"),
        (.credentialUnavailable, 503, "credential_unavailable"),
        (.upstreamUnreachable, 502, "upstream_unreachable"),
        (.upstreamTimeout, 504, "upstream_timeout"),
    ])
    func mapsCodesAsDesignSays(code: GatewayError.Code, status: Int, string: String) {
        #expect(code.status == status)
        #expect(code.string == string)
        #expect(GatewayError(code, "x").status == status)
    }

    @Test func coversEveryCode() {
        #expect(GatewayError.Code.allCases.count == 11)
    }

    @Test func responseHasTheDesignShape() async throws {
        let response = GatewayError(.noRoute, "No route for \"/x\".").response(requestID: "req-1")
        #expect(response.status == 404)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(response.headers["X-Request-Id"] == "req-1")
        #expect(response.headers["Retry-After"] == nil)
        let body = String(buffer: try await response.collectBody())
        #expect(body == #"{"detail":"No route for \"/x\".","code":"no_route","request_id":"req-1"}"#)
    }

    @Test func retryAfterIsRoundedUpToWholeSeconds() {
        let error = GatewayError(.credentialUnavailable, "x", retryAfter: .milliseconds(1500))
        #expect(error.retryAfterSeconds == 2)
        #expect(error.response(requestID: "r").headers["Retry-After"] == "2")
        #expect(GatewayError(.rateLimited, "x", retryAfter: .milliseconds(10)).retryAfterSeconds == 1)
        #expect(GatewayError(.rateLimited, "x", retryAfter: .seconds(7)).retryAfterSeconds == 7)
    }

    @Test func promisedRetryAfterIsNeverMissing() {
        #expect(GatewayError(.rateLimited, "x").response(requestID: "r").headers["Retry-After"] == "1")
        #expect(GatewayError(.credentialUnavailable, "x").response(requestID: "r").headers["Retry-After"] == "1")
        #expect(GatewayError(.upstreamTimeout, "x").response(requestID: "r").headers["Retry-After"] == nil)
    }

    @Test func callerRetryAfterWins() {
        let response = GatewayError(.rateLimited, "x", retryAfter: .seconds(3))
            .response(requestID: "r", headers: ["Retry-After": "9"])
        #expect(response.headers.values("Retry-After") == ["9"])
    }
}
