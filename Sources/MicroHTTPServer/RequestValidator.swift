/// Framing and target checks made before any handler runs (issue 2, item 5). Pure, so it is tested without sockets.
enum RequestValidator {
    struct Rejection: Error {
        let status: Int
        let code: String
        let detail: String

        var response: HTTPServerResponse {
            .jsonError(status: status, code: code, detail: detail, requestID: RequestID.make())
        }
    }

    /// Takes the two limits it reads, not the server's whole configuration, which was copied for the call, its
    /// Strings retained and released (issue 7).
    static func validate(
        method: String,
        target: String,
        headers: HTTPHeaders,
        maxHeaderBytes: Int,
        maxBodyBytes: Int?
    ) -> Result<RequestFraming, Rejection> {
        var headerBytes = target.utf8.count + method.utf8.count + 12
        headerBytes += headers.contentBytes + 4 * headers.count
        if headerBytes > maxHeaderBytes {
            return .failure(
                Rejection(status: 431, code: "headers_too_large", detail: "The request headers are too large."))
        }
        if method == "CONNECT" {
            return .failure(Rejection(status: 400, code: "bad_request", detail: "CONNECT is not supported."))
        }
        var target = target  // on the contiguous bytes: the UTF-8 view's iterator cost 600 instructions (callgrind)
        if target.withUTF8({ $0.contains { $0 == 0 || $0 == 13 || $0 == 10 } }) {
            return .failure(
                Rejection(status: 400, code: "bad_request", detail: "The request target has a control character."))
        }
        if target.utf8.first != UInt8(ascii: "/") && !(method == "OPTIONS" && target == "*") {
            return .failure(
                Rejection(status: 400, code: "bad_request", detail: "Only origin-form request targets are accepted."))
        }
        // One pass over the fields, their names told apart by length first: two look-ups by name cost twice that. A
        // body-less request has neither field, and the names' lengths say so without the pass (callgrind, issue 7).
        var encodings: [String] = []
        var lengths: [String] = []
        let framed = headers.mayHaveName(ofCount: 17) || headers.mayHaveName(ofCount: 14)
        if framed {
            headers.forEachField { name, value in
                if name.count == 17 && HTTPHeaders.equalFold(name, "Transfer-Encoding") {
                    encodings.append(String(decoding: value, as: UTF8.self))
                } else if name.count == 14 && HTTPHeaders.equalFold(name, "Content-Length") {
                    lengths.append(String(decoding: value, as: UTF8.self))
                }
            }
        }
        if !encodings.isEmpty {
            if !lengths.isEmpty {
                return .failure(
                    Rejection(
                        status: 400, code: "bad_request",
                        detail: "Content-Length and Transfer-Encoding must not be sent together."))
            }
            let codings = encodings.flatMap { $0.split(separator: ",") }.map {
                $0.trimmingASCIISpaces().lowercased()
            }
            guard codings == ["chunked"] else {
                return .failure(
                    Rejection(
                        status: 501, code: "not_implemented", detail: "Only the chunked transfer coding is supported."))
            }
            return .success(RequestFraming(hasBody: true, contentLength: nil, headBytes: headerBytes))
        }
        guard let first = lengths.first else {
            return .success(RequestFraming(hasBody: false, contentLength: nil, headBytes: headerBytes))
        }
        guard lengths.allSatisfy({ $0 == first }), let length = Self.parseLength(first) else {
            return .failure(Rejection(status: 400, code: "bad_request", detail: "The Content-Length is not valid."))
        }
        if let limit = maxBodyBytes, length > limit {
            return .failure(Rejection(status: 413, code: "body_too_large", detail: "The request body is too large."))
        }
        return .success(RequestFraming(hasBody: length > 0, contentLength: length, headBytes: headerBytes))
    }

    /// Digits only, at most 18 of them (so it fits an Int without overflow checks).
    static func parseLength(_ text: String) -> Int? {
        let digits = text.trimmingASCIISpaces()
        guard !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            return nil
        }
        return Int(digits)
    }
}

/// What the head says about the body.
struct RequestFraming: Equatable {
    var hasBody: Bool
    var contentLength: Int?
    /// The request head's bytes as the validator counts them (request line, header lines, the blank line).
    var headBytes: Int
}

extension StringProtocol {
    func trimmingASCIISpaces() -> String {
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 32 || bytes[start] == 9 { start += 1 }
        while end > start, bytes[end - 1] == 32 || bytes[end - 1] == 9 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
