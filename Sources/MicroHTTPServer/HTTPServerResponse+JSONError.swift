import NIOCore

extension HTTPServerResponse {
    /// The error shape of every error labgate makes itself (DESIGN.md, "Errors made by labgate"), which the Labric SDK
    /// parses as a typed error: `{"detail": ..., "code": ..., "request_id": ...}`.
    public static func jsonError(
        status: Int,
        code: String,
        detail: String,
        requestID: String,
        headers extra: HTTPHeaders = [:]
    ) -> HTTPServerResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-Id": requestID]
        for field in extra { headers.add(field.name, field.value) }
        let body =
            "{\"detail\":\(JSONText.quote(detail)),\"code\":\(JSONText.quote(code)),\"request_id\":\(JSONText.quote(requestID))}"
        return HTTPServerResponse(status: status, headers: headers, body: .string(body))
    }
}

/// Minimal JSON string quoting, so that error bodies need no encoder.
public enum JSONText {
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Request ids for errors made before any handler runs.
public enum RequestID {
    /// 16 random hex digits.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
