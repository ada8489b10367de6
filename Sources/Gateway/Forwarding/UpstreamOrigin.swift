/// Scheme, host, port and base path of an upstream URL such as `https://HOST/public/v1`.
///
/// A deliberately small parser: only `http` and `https`, no user info, no query or fragment, because an upstream URL
/// that needs more than that is a configuration mistake worth refusing.
public struct UpstreamOrigin: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`, lowercased.
    public let scheme: String
    /// The host, lowercased; an IPv6 literal keeps its brackets.
    public let host: String
    /// The port as written, or nil for the scheme's default.
    public let port: Int?
    /// The path without a trailing "/", or "" (e.g. `/public/v1` for Genie's public URL).
    public let basePath: String
    /// The value of the `Host` header for this upstream (the port only when it is not the default). Made once:
    /// every forwarded request carries it, and building it cost 800 instructions each time (callgrind, issue 7).
    public let hostHeader: String

    /// Parses an upstream URL; nil when it is not `http(s)://host[:port][/path]`.
    public init?(_ url: String) {
        guard let (scheme, afterScheme) = Self.splitScheme(url[...]) else { return nil }
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        let path = afterScheme[authorityEnd...]
        guard !path.contains("?"), !path.contains("#"), let (host, port) = Self.splitAuthority(authority) else {
            return nil
        }
        var base = path
        while base.last == "/" { base.removeLast() }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = String(base)
        if let port, port != Self.defaultPort(scheme) {
            self.hostHeader = "\(host):\(port)"
        } else {
            self.hostHeader = host
        }
    }

    /// The port connections go to.
    public var effectivePort: Int { port ?? Self.defaultPort(scheme) }

    static func defaultPort(_ scheme: String) -> Int { scheme == "https" ? 443 : 80 }

    /// `scheme://host[:port]`, without the base path.
    public var origin: String { "\(scheme)://\(hostHeader)" }

    public var description: String { origin + basePath }

    /// Whether an absolute URL's scheme, host and port are this upstream's (after the default port is applied).
    func isSameOrigin(scheme: String, host: String, port: Int?) -> Bool {
        let otherPort = port ?? Self.defaultPort(scheme)
        return scheme == self.scheme && host == self.host && otherPort == effectivePort
    }

    /// Splits `scheme://rest`, lowercasing the scheme; only http and https are accepted.
    static func splitScheme(_ url: Substring) -> (scheme: String, rest: Substring)? {
        guard let colon = url.firstIndex(of: ":") else { return nil }
        let scheme = url[..<colon].lowercased()
        let rest = url[url.index(after: colon)...]
        guard scheme == "http" || scheme == "https", rest.hasPrefix("//") else { return nil }
        return (scheme, rest.dropFirst(2))
    }

    /// Splits `host[:port]` (IPv6 in brackets), lowercasing the host; nil for user info or a bad port.
    static func splitAuthority(_ authority: Substring) -> (host: String, port: Int?)? {
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var hostPart = authority
        var portPart: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return nil }
        guard let portPart else { return (hostPart.lowercased(), nil) }
        if portPart.isEmpty { return (hostPart.lowercased(), nil) }
        guard portPart.utf8.count <= 5, portPart.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let port = Int(portPart), (1...65535).contains(port)
        else { return nil }
        return (hostPart.lowercased(), port)
    }
}
