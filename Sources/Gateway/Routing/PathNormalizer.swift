/// Checks request targets against the hostile-input rules of DESIGN.md, and derives the form routes are matched on.
///
/// The target itself is never rewritten: what is accepted is forwarded byte for byte (`a%2Fb` stays `a%2Fb`). Only
/// the matching form is normalised, so that `/genie/%70ublic/v1` cannot pick a different credential than
/// `/genie/public/v1` would.
public enum PathNormalizer {
    /// A request target that passed validation.
    public struct Target: Sendable, Equatable {
        /// The target exactly as received.
        public let raw: String
        /// The path, up to the query string.
        public var path: Substring { query.map { raw[..<raw.index(before: $0.startIndex)] } ?? raw[...] }
        /// The query string without its "?", or nil when there is none.
        public let query: Substring?
        /// The path's length in bytes: the offset of the "?", or the target's length.
        let pathEnd: Int

        /// `pathEnd`: the byte offset of the "?" (or the length), which `validate` has found already.
        fileprivate init(raw: String, pathEnd: Int) {
            self.raw = raw
            self.pathEnd = pathEnd
            if pathEnd < raw.utf8.count {
                query = raw[raw.utf8.index(raw.utf8.startIndex, offsetBy: pathEnd + 1)...]
            } else {
                query = nil
            }
        }
    }

    /// Validates a request target.
    ///
    /// Refused: anything but origin-form (absolute-form, authority-form, `*`); raw control characters, spaces or `#`
    /// in the path; malformed percent-escapes in the path; `%00`, `%0D` and `%0A` in the path; and dot-segments,
    /// raw or percent-encoded in any mix of cases. Segments are split at `/` and `\`, raw or encoded, and cut at a
    /// raw `;`, because some upstreams decode `%2F` or treat `\` and `..;` as path syntax.
    /// - Throws: `GatewayError` with code `.badRequest`.
    public static func validate(_ target: String) throws(GatewayError) -> Target {
        var target = target
        var pathEnd = 0
        let problem: String? = target.withUTF8 { bytes in
            guard let first = bytes.first else { return "The request target is empty." }
            guard first == UInt8(ascii: "/") else {
                return bytes.count == 1 && first == UInt8(ascii: "*")
                    ? "Asterisk-form targets are not served."
                    : "Only origin-form targets (starting with \"/\") are accepted; absolute URLs are never followed."
            }
            pathEnd = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
            if let problem = checkPath(UnsafeBufferPointer(rebasing: bytes[..<pathEnd])) { return problem }
            for byte in bytes[pathEnd...] where byte < 0x20 || byte == 0x7F {
                return "The query string contains a control character."
            }
            return nil
        }
        if let problem { throw GatewayError(.badRequest, problem) }
        return Target(raw: target, pathEnd: pathEnd)
    }

    /// Whether the path contains a dot-segment under the rules of `validate`; for tests and for callers that check
    /// paths assembled from parts.
    public static func containsDotSegment(_ path: some StringProtocol) -> Bool {
        var path = String(path)
        return path.withUTF8 { hasDotSegment($0) }
    }

    /// The form a path is matched against routes in: escapes of unreserved characters decoded (RFC 3986 6.2.2.2)
    /// and runs of "/" collapsed. Reserved escapes such as `%2F` stay encoded, so segment boundaries are the raw ones.
    public static func matchingForm(_ path: some StringProtocol) -> String {
        // The usual path has neither escapes nor doubled slashes: it is its own matching form.
        var previous: UInt8 = 0
        if !path.utf8.contains(where: { byte in
            defer { previous = byte }
            return byte == UInt8(ascii: "%") || (byte == UInt8(ascii: "/") && previous == UInt8(ascii: "/"))
        }) {
            return String(path)
        }
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count)
        let bytes = Array(path.utf8)
        var i = 0
        while i < bytes.count {
            var byte = bytes[i]
            var width = 1
            if byte == UInt8(ascii: "%"), let value = hexPair(bytes, at: i + 1), isUnreserved(value) {
                byte = value
                width = 3
            }
            if !(byte == UInt8(ascii: "/") && width == 1 && out.last == UInt8(ascii: "/")) {
                out.append(byte)
            }
            i += width
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Rules

    private static func checkPath(_ path: UnsafeBufferPointer<UInt8>) -> String? {
        // A dot-segment needs a ".", raw or escaped: a path with neither "." nor "%" skips that walk (issue 7).
        var mayHaveDots = false
        var i = 0
        while i < path.count {
            let byte = path[i]
            if byte <= 0x20 || byte == 0x7F { return "The path contains a space or control character." }
            if byte == UInt8(ascii: "#") { return "The path contains a fragment." }
            if byte == UInt8(ascii: ".") { mayHaveDots = true }
            if byte == UInt8(ascii: "%") {
                mayHaveDots = true
                guard let value = hexPair(path, at: i + 1) else {
                    return "The path contains a malformed percent-escape."
                }
                if value == 0x00 || value == 0x0D || value == 0x0A {
                    return "The path contains an encoded NUL, CR or LF."
                }
                i += 3
            } else {
                i += 1
            }
        }
        if mayHaveDots && hasDotSegment(path) {
            return "The path contains a dot-segment (\".\" or \"..\", possibly percent-encoded)."
        }
        return nil
    }

    /// Whether a segment (split at "/" and "\", raw or encoded; percent-decoded; cut at a raw ";") is "." or "..".
    /// One pass over the bytes with a little state per segment: building each segment as an array cost an
    /// allocation per segment on every request (issue 7).
    private static func hasDotSegment(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var length = 0  // decoded bytes of this segment before a raw ";"
        var onlyDots = true
        var parameters = false
        var i = 0
        while i <= bytes.count {
            var byte = UInt8(ascii: "/")  // the end of the path closes the last segment
            var width = 1
            var encoded = false
            if i < bytes.count {
                byte = bytes[i]
                if byte == UInt8(ascii: "%"), let value = hexPair(bytes, at: i + 1) {
                    byte = value
                    width = 3
                    encoded = true
                }
            }
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                if onlyDots && (length == 1 || length == 2) { return true }
                (length, onlyDots, parameters) = (0, true, false)
            } else if !encoded && byte == UInt8(ascii: ";") {
                parameters = true
            } else if !parameters {
                length += 1
                if byte != UInt8(ascii: ".") { onlyDots = false }
            }
            i += width
        }
        return false
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    private static func hexPair<C: Collection<UInt8>>(_ bytes: C, at index: C.Index) -> UInt8?
    where C.Index == Int {
        guard index >= bytes.startIndex, index + 1 < bytes.endIndex,
            let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1])
        else { return nil }
        return high << 4 | low
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
