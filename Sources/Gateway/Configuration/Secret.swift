/// A credential read from the configuration: the value is only reachable through `value`, every textual form
/// of it is masked.
///
/// `description`, `debugDescription` and the mirror (used by `dump` and `print` of enclosing structs) all show
/// `lbk_…(redacted)`, so logging a configuration, an upstream or a secret by mistake never leaks the credential.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The credential itself; read it only where it is sent (an `Authorization` header, a token exchange).
    public let value: String
    /// Where the value came from, for humans: e.g. `GENIE_API_TOKEN_FILE (/run/secrets/genie_token)`. Never the value.
    public let source: String
    /// The file the value was read from, if any: SIGHUP re-reads it.
    public let file: String?

    /// Wraps a credential.
    /// - Parameters:
    ///   - value: The credential, already trimmed.
    ///   - source: Where it came from, shown in summaries instead of the value.
    ///   - file: The file it was read from, if any.
    public init(_ value: String, source: String = "set in code", file: String? = nil) {
        self.value = value
        self.source = source
        self.file = file
    }

    /// The masked form: a short well-known prefix such as `lbk_` (vendors' key prefixes carry no secret) and only
    /// when the value is much longer than it, then `…(redacted)`.
    public var description: String {
        "\(Self.visiblePrefix(of: value))…(redacted)"
    }

    public var debugDescription: String { "Secret(\(description), from \(source))" }

    /// No children: `dump` and reflection-based printing must not reach `value`.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// The prefix that may be shown: letters up to and including the first `_` (at most 5 characters, e.g. `lbk_`),
    /// and only when at least 12 more characters follow, so a short or unusual value shows nothing at all.
    static func visiblePrefix(of value: String) -> Substring {
        guard let underscore = value.prefix(5).firstIndex(of: "_") else { return "" }
        let prefix = value[...underscore]
        guard prefix.dropLast().allSatisfy({ $0.isASCII && $0.isLetter }), value.count >= prefix.count + 12 else {
            return ""
        }
        return prefix
    }
}
