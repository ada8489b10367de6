import MicroHTTPServer

/// An error the Genie simulator answers, carrying its HTTP status. Genie publishes no error format, so the body is
/// `{"error": {"code": ..., "message": ..., "parameter"?: ..., "rule"?: ...}}`; the vendor's example only reads the
/// status.
struct GenieError: Error, Sendable, Equatable {
    var status: Int
    var code: String
    var message: String
    /// For validation errors: the parameter's name and the rule it broke (`type`, `min`, `max`, `options`, ...).
    var parameter: String?
    var rule: String?

    init(_ status: Int, _ code: String, _ message: String, parameter: String? = nil, rule: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.rule = rule
    }

    static func unauthorized(_ message: String) -> GenieError {
        GenieError(401, "unauthorized", message)
    }

    static func notFound(_ message: String) -> GenieError {
        GenieError(404, "not_found", message)
    }

    static func badRequest(_ message: String) -> GenieError {
        GenieError(400, "bad_request", message)
    }

    /// A value that breaks its parameter's schema; the message names both.
    static func invalidValue(_ parameter: String, rule: String, _ message: String) -> GenieError {
        GenieError(400, "invalid_value", message, parameter: parameter, rule: rule)
    }

    var response: HTTPServerResponse {
        var fields: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let parameter { fields["parameter"] = .string(parameter) }
        if let rule { fields["rule"] = .string(rule) }
        var headers: HTTPHeaders = [:]
        if status == 401 { headers.add("WWW-Authenticate", "Bearer") }
        return .json(["error": .object(fields)], status: status, headers: headers)
    }
}
