import Foundation
import MicroHTTPServer
import NIOCore

/// Reading requests: JSON bodies, query strings, and the simulator's own base URL.
extension LabricSimulator {
    /// The JSON object body; an empty body reads as `{}` (the SDK sends none for `jobs.start()` without a request).
    /// - Throws: 413 past the edge limit, 400 for text that is not JSON (Ninja's "Cannot parse request body"),
    ///   422 for JSON that is not an object.
    func jsonBody(_ call: Call) async throws -> [String: JSONValue] {
        let buffer = try await bodyBytes(call.request)
        guard buffer.readableBytes > 0 else { return [:] }
        guard let value = JSONValue(parsing: buffer) else {
            throw LabricAPIError.badRequest("Cannot parse request body")
        }
        guard let object = value.objectValue else {
            throw LabricAPIError.validation([
                LabricIssue(
                    type: "model_attributes_type", loc: ["body", "payload"],
                    msg: "Input should be a valid dictionary or object to extract fields from")
            ])
        }
        return object
    }

    /// The whole body, within the platform edge's limit.
    func bodyBytes(_ request: HTTPServerRequest) async throws -> ByteBuffer {
        let limit = configuration.maxRequestBodyBytes
        if let declared = request.body.declaredLength, declared > limit { throw Self.tooLarge(limit) }
        do {
            return try await request.body.collect(upTo: limit)
        } catch HTTPServerError.bodyTooLarge {
            throw Self.tooLarge(limit)
        }
    }

    private static func tooLarge(_ limit: Int) -> LabricAPIError {
        LabricAPIError(
            413, "Request body is larger than the platform's limit of \(limit) bytes; upload files with a signed URL")
    }

    /// The query string as name to value (the last one wins), percent-decoded, `+` read as a space.
    func queryItems(_ request: HTTPServerRequest) -> [String: JSONValue] {
        guard let query = request.query else { return [:] }
        var items: [String: JSONValue] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.formDecode(parts[0])
            items[name] = .string(parts.count > 1 ? Self.formDecode(parts[1]) : "")
        }
        return items
    }

    static func formDecode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Scheme, host and port that clients reach this simulator at (see `publicBaseURL`).
    func baseURL(_ request: HTTPServerRequest) -> String {
        if let base = publicBaseURL { return base }
        return "http://" + (request.headers["Host"] ?? "127.0.0.1")
    }

    /// A 200 JSON answer.
    func ok(_ value: JSONValue) -> HTTPServerResponse { .json(value) }

    func now() -> Date { clock.now() }
}

extension Optional where Wrapped == String {
    /// The value as JSON, null when absent.
    var labricJSON: JSONValue { map { .string($0) } ?? .null }
}

extension Optional where Wrapped == Int {
    var labricJSON: JSONValue { map { .number(Double($0)) } ?? .null }
}

extension Optional where Wrapped == Date {
    var labricJSON: JSONValue { map { .string(Timestamp.iso($0)) } ?? .null }
}
