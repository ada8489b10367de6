extension HeaderFilter {
    /// Rewrites a `Location` value that points at this upstream to the gateway URL of the same resource.
    ///
    /// Absolute URLs (and `//host` references) are rewritten when their scheme, host and port are the upstream's and
    /// their path lies under `upstreamPath`; absolute-path references (`/x`) are relative to the upstream, so they are
    /// rewritten by the same path rule. Anything else (another origin, such as a signed storage URL, or a relative
    /// path) is returned unchanged.
    /// - Parameters:
    ///   - value: The upstream's `Location` value.
    ///   - gatewayOrigin: The gateway's `scheme://host:port`, or nil for an absolute-path result.
    public func rewriteLocation(_ value: String, gatewayOrigin: String? = nil) -> String {
        let location = Substring(value)
        let pathPart: Substring
        if location.hasPrefix("//") {
            guard let rest = sameOriginRest(scheme: upstream.scheme, afterScheme: location.dropFirst(2)) else {
                return value
            }
            pathPart = rest
        } else if let (scheme, afterScheme) = UpstreamOrigin.splitScheme(location) {
            guard let rest = sameOriginRest(scheme: scheme, afterScheme: afterScheme) else { return value }
            pathPart = rest
        } else if location.hasPrefix("/") {
            pathPart = location
        } else {
            return value
        }
        guard let remainder = remainderUnderUpstreamPath(pathPart) else { return value }
        return (gatewayOrigin.map(Self.withoutTrailingSlash) ?? "") + routePrefix + remainder
    }

    /// The path, query and fragment after the authority, when the authority is the upstream's.
    private func sameOriginRest(scheme: String, afterScheme: Substring) -> Substring? {
        let end = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        guard let (host, port) = UpstreamOrigin.splitAuthority(afterScheme[..<end]),
            upstream.isSameOrigin(scheme: scheme, host: host, port: port)
        else { return nil }
        return afterScheme[end...]
    }

    /// What follows `upstreamPath` in an upstream path (segment-boundary aware), as a gateway path suffix.
    private func remainderUnderUpstreamPath(_ pathPart: Substring) -> String? {
        guard pathPart.hasPrefix(upstreamPath) else { return nil }
        let remainder = pathPart.dropFirst(upstreamPath.count)
        guard let first = remainder.first else { return upstreamPath.isEmpty ? "/" : "" }
        switch first {
        case "/": return String(remainder)
        case "?", "#": return (upstreamPath.isEmpty ? "/" : "") + remainder
        default: return nil
        }
    }
}
