import MicroHTTPServer

/// The one error type of the gateway: a stable code, a human message without secrets, and an optional retry hint.
///
/// The mapping from code to HTTP status and JSON body (DESIGN.md, "Errors made by labgate") lives here and only here.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as clients and metrics see it.
    public enum Code: String, Sendable, CaseIterable {
        case noRoute = "no_route"
        case badRequest = "bad_request"
        case bodyTooLarge = "body_too_large"
        case headersTooLarge = "headers_too_large"
        case unauthenticated
        case forbidden
        case rateLimited = "rate_limited"
        case upstreamNotConfigured = "upstream_not_configured"
        case credentialUnavailable = "credential_unavailable"
        case upstreamUnreachable = "upstream_unreachable"
        case upstreamTimeout = "upstream_timeout"

        /// The HTTP status DESIGN.md assigns to this code.
        public var status: Int {
            switch self {
            case .noRoute: 404
            case .badRequest: 400
            case .bodyTooLarge: 413
            case .headersTooLarge: 431
            case .unauthenticated: 401
            case .forbidden: 403
            case .rateLimited: 429
            case .upstreamNotConfigured: 503
            case .credentialUnavailable: 503
            case .upstreamUnreachable: 502
            case .upstreamTimeout: 504
            }
        }

        /// The stable string clients match on, e.g. `no_route`.
        public var string: String { rawValue }

        /// Whether DESIGN.md promises a `Retry-After` with this code.
        var sendsRetryAfter: Bool { self == .rateLimited || self == .credentialUnavailable }
    }

    public var code: Code
    /// A human sentence; never a credential, token or key.
    public var message: String
    /// When the client may try again; sent as `Retry-After` (whole seconds, rounded up).
    public var retryAfter: Duration?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The stable code, which fixes the HTTP status.
    ///   - message: A human sentence without secrets.
    ///   - retryAfter: When the client may try again, if known.
    public init(_ code: Code, _ message: String, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var status: Int { code.status }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The `Retry-After` value in whole seconds: rounded up, at least 1, and always present for the codes whose
    /// rows in DESIGN.md promise it (a client must never be told "retry" with no hint of when).
    public var retryAfterSeconds: Int? {
        guard let retryAfter else { return code.sendsRetryAfter ? 1 : nil }
        let (seconds, attoseconds) = retryAfter.components
        let rounded = seconds + (attoseconds > 0 ? 1 : 0)
        return Int(max(1, min(rounded, Int64(Int32.max))))
    }

    /// The JSON error response for this error.
    /// - Parameters:
    ///   - requestID: The request's id, echoed in the body and in `X-Request-Id`.
    ///   - headers: Extra headers to send.
    public func response(requestID: String, headers: HTTPHeaders = [:]) -> HTTPServerResponse {
        var extra = headers
        if let seconds = retryAfterSeconds, !extra.contains("Retry-After") {
            extra.add("Retry-After", String(seconds))
        }
        return HTTPServerResponse.jsonError(
            status: code.status,
            code: code.rawValue,
            detail: message,
            requestID: requestID,
            headers: extra
        )
    }
}
