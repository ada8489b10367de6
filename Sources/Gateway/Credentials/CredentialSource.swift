#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where a vendor credential comes from: an environment variable's value, or a file named by `NAME_FILE`
/// (a Docker secret, or a Genie `token.txt` exactly as downloaded).
///
/// The value is only ever read by `load()`; `description` names the source but never shows the secret.
public enum CredentialSource: Sendable, Equatable, CustomStringConvertible {
    /// The value of the environment variable `name`.
    case environment(name: String, value: String)
    /// The contents of the file at `path`, named by the environment variable `name` (e.g. `GENIE_API_TOKEN_FILE`).
    case file(name: String, path: String)

    /// Files larger than this are refused: a credential is short, and a large file is a wrong path.
    public static let maximumFileSize = 64 * 1024

    /// Finds the source of the credential `name` (e.g. `GENIE_API_TOKEN`) in an environment.
    ///
    /// Returns nil when neither `NAME` nor `NAME_FILE` is set (or both are empty): the upstream is not configured.
    /// - Throws: `GatewayError` `.upstreamNotConfigured` when both are set, because silently preferring one would
    ///   hide a mistake.
    public static func resolve(_ name: String, environment: [String: String]) throws(GatewayError) -> CredentialSource?
    {
        let value = environment[name].flatMap { $0.isEmpty ? nil : $0 }
        let path = environment[name + "_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        switch (value, path) {
        case (nil, nil): return nil
        case (let value?, nil): return .environment(name: name, value: value)
        case (nil, let path?): return .file(name: name + "_FILE", path: path)
        case (_?, _?): throw GatewayError(.upstreamNotConfigured, "Set only one of \(name) and \(name)_FILE.")
        }
    }

    /// Reads the credential now (files are read on every call, so that a reload sees the new contents).
    /// - Throws: `GatewayError` `.upstreamNotConfigured` when the file cannot be read or the value is unusable;
    ///   the message names the variable and path, never the value.
    public func load() throws(GatewayError) -> String {
        switch self {
        case .environment(let name, let value):
            return try Self.clean(value, from: name)
        case .file(let name, let path):
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw GatewayError(.upstreamNotConfigured, "\(name): the file \(path) could not be read.")
            }
            guard data.count <= Self.maximumFileSize else {
                throw GatewayError(.upstreamNotConfigured, "\(name): the file \(path) is too large for a credential.")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw GatewayError(.upstreamNotConfigured, "\(name): the file \(path) is not UTF-8 text.")
            }
            return try Self.clean(text, from: "\(name) (\(path))")
        }
    }

    /// Trims surrounding whitespace (and a UTF-8 byte-order mark) and checks what remains can go into a header.
    /// - Parameters:
    ///   - raw: The value as read.
    ///   - origin: Names the source in error messages.
    /// - Throws: `GatewayError` `.upstreamNotConfigured` when the value is empty or holds whitespace or control
    ///   characters inside: sending it would break, or inject into, the `Authorization` header.
    public static func clean(_ raw: String, from origin: String) throws(GatewayError) -> String {
        var text = Substring(raw)
        if text.first == "\u{FEFF}" { text.removeFirst() }
        while let first = text.unicodeScalars.first, first.properties.isWhitespace { text.removeFirst() }
        while let last = text.unicodeScalars.last, last.properties.isWhitespace { text.removeLast() }
        guard !text.isEmpty else { throw GatewayError(.upstreamNotConfigured, "\(origin) is empty.") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw GatewayError(
                .upstreamNotConfigured,
                "\(origin) contains spaces, control or non-ASCII characters inside the value."
            )
        }
        return String(text)
    }

    /// Names the source; never the value.
    public var description: String {
        switch self {
        case .environment(let name, _): "environment variable \(name)"
        case .file(let name, let path): "file \(path) (from \(name))"
        }
    }
}
