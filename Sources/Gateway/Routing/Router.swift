#if canImport(Glibc)
    import Glibc
#endif

/// Decides the route of a request from its method and target, by the table in DESIGN.md. Pure: no sockets, no state.
///
/// Matching uses `PathNormalizer.matchingForm`, so an escaped unreserved character or a doubled "/" cannot move a
/// request to another route or credential; the target forwarded upstream is always the raw one.
public struct Router: Sendable {
    /// What the route table depends on in the configuration.
    public struct Configuration: Sendable, Equatable {
        /// The path of `GENIE_API_URL`, e.g. `/public/v1`: `/genie/<rest>` under it uses the public token.
        public var geniePublicPath: String
        /// The path of `LABRIC_API_BASE_URL` (empty for `https://platform.labric.co`), put before `/<rest>`.
        public var labricBasePath: String

        public init(geniePublicPath: String = "/public/v1", labricBasePath: String = "") {
            self.geniePublicPath = geniePublicPath
            self.labricBasePath = labricBasePath
        }
    }

    public let configuration: Configuration
    /// The public path in matching form without a trailing "/", so that `/public/v1/` and `/public/v1` agree.
    private let publicPrefix: String
    /// The Labric base path as sent upstream, without a trailing "/".
    private let labricBase: String

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        publicPrefix = Self.trimmed(PathNormalizer.matchingForm(configuration.geniePublicPath))
        labricBase = Self.trimmed(configuration.labricBasePath)
    }

    /// Validates the target and routes the request.
    /// - Parameters:
    ///   - method: The request method as sent.
    ///   - target: The request target exactly as sent.
    /// - Throws: `GatewayError` `.badRequest` for `CONNECT` and for targets `PathNormalizer.validate` refuses.
    public func route(method: String, target: String) throws(GatewayError) -> Route {
        // CONNECT would turn the gateway into a tunnel to anywhere; it is refused before the target is even read.
        if method == "CONNECT" { throw GatewayError(.badRequest, "CONNECT is not supported.") }
        return route(method: method, target: try PathNormalizer.validate(target))
    }

    /// Routes a request whose target was already validated.
    public func route(method: String, target: PathNormalizer.Target) -> Route {
        let (name, rest) = Self.firstSegment(of: target)
        switch name {
        case .genie:
            return genieRoute(method: method, rest: rest, query: target.query)
        case .labric:
            // The rest is the upstream path as it is, where appending it to "" cost 770 instructions (callgrind).
            let upstreamPath = labricBase.isEmpty ? (rest.isEmpty ? "/" : rest) : labricBase + rest
            return .labric(target: Self.join(upstreamPath, target.query))
        case .healthz where rest.isEmpty && Self.isRead(method): return .healthz
        case .readyz where rest.isEmpty && Self.isRead(method): return .readyz
        case .metrics where rest.isEmpty && Self.isRead(method): return .metrics
        default: return .noRoute
        }
    }

    /// The names a target's first segment is routed by.
    private enum SegmentName {
        case genie, labric, healthz, readyz, metrics, other

        /// `matching`: the segment in matching form.
        init(_ matching: UnsafeBufferPointer<UInt8>) {
            for (name, value) in Self.named
            where name.utf8CodeUnitCount == matching.count && matching.begins(with: name) {
                self = value
                return
            }
            self = .other
        }

        private static let named: [(StaticString, SegmentName)] = [
            ("labric", .labric), ("genie", .genie), ("healthz", .healthz), ("readyz", .readyz), ("metrics", .metrics),
        ]
    }

    /// The first segment's name in matching form (leading slashes skipped, which matching collapses anyway), and
    /// the path after it: "/rest", or "" when there is none.
    ///
    /// One walk over the target's bytes. A segment holds no "/", so without a "%" it is its own matching form and is
    /// compared as it is. Substrings and the matching form's String cost 1,500 instructions a request here, and
    /// Substring's own search walks grapheme clusters (3,500; issue 7). The rest is cut at an ASCII "/" of a valid
    /// UTF-8 String, so decoding it changes nothing.
    private static func firstSegment(of target: PathNormalizer.Target) -> (name: SegmentName, rest: String) {
        var raw = target.raw
        return raw.withUTF8 { bytes in
            let path = UnsafeBufferPointer(rebasing: bytes[..<target.pathEnd])
            var start = 0
            while start < path.count && path[start] == UInt8(ascii: "/") { start += 1 }
            var end = start
            var escaped = false
            while end < path.count && path[end] != UInt8(ascii: "/") {
                if path[end] == UInt8(ascii: "%") { escaped = true }
                end += 1
            }
            let segment = UnsafeBufferPointer(rebasing: path[start..<end])
            let name: SegmentName
            if escaped {
                var matching = PathNormalizer.matchingForm(String(decoding: segment, as: UTF8.self))
                name = matching.withUTF8 { SegmentName($0) }
            } else {
                name = SegmentName(segment)
            }
            return (name, String(decoding: UnsafeBufferPointer(rebasing: path[end...]), as: UTF8.self))
        }
    }

    private func genieRoute(method: String, rest: String, query: Substring?) -> Route {
        let matching = PathNormalizer.matchingForm(rest)
        // The login path is never forwarded, whatever the method: only POST is answered, the rest are unknown.
        if matching == "/authn/login" || matching == "/authn/login/" {
            return method == "POST" ? .genieLogin : .noRoute
        }
        let target = Self.join(rest.isEmpty ? "/" : rest, query)
        return isPublic(matching) ? .geniePublic(target: target) : .geniePrivate(target: target)
    }

    /// Whether `/<rest>` lies under the public path, at a segment boundary (`/public/v10` is not under `/public/v1`).
    private func isPublic(_ matching: String) -> Bool {
        guard matching.hasPrefix(publicPrefix) else { return false }
        let after = matching.utf8.dropFirst(publicPrefix.utf8.count)
        return after.isEmpty || after.first == UInt8(ascii: "/")
    }

    private static func join(_ path: String, _ query: Substring?) -> String {
        guard let query else { return path }
        return path + "?" + query
    }

    private static func trimmed(_ path: String) -> String {
        var path = Substring(path)
        while path.last == "/" { path.removeLast() }
        if !path.isEmpty && path.first != "/" { return "/" + path }
        return String(path)
    }

    private static func isRead(_ method: String) -> Bool { method == "GET" || method == "HEAD" }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether the bytes begin with the literal's, compared with memcmp: the generic `elementsEqual` and
    /// `String.hasPrefix`, which compares by Unicode rules, cost 200–260 instructions a request each (callgrind,
    /// issue 7).
    func begins(with literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        return self.count >= count && (count == 0 || memcmp(baseAddress!, literal.utf8Start, count) == 0)
    }
}
