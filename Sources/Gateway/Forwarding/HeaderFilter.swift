import MicroHTTPServer

/// The header rules of DESIGN.md for one upstream route: what is forwarded, what comes back, and `Location` rewrites.
///
/// Pure functions over header lists; the forwarder calls them once per request and once per response. A class, made
/// once per upstream: as a struct, each call from the upstream's properties copied it and retained its strings, about
/// 400 instructions per request (callgrind, issue 7).
public final class HeaderFilter: Sendable {
    /// The upstream whose origin `Location` headers are compared with.
    public let upstream: UpstreamOrigin
    /// The gateway path the route lives under, e.g. `/labric`.
    public let routePrefix: String
    /// The upstream path `routePrefix` maps to: "" for Genie (its routes start at the origin), the base path of
    /// `LABRIC_API_BASE_URL` for Labric.
    public let upstreamPath: String

    /// Headers of a request as they go upstream, and what the body framing said.
    public struct ForwardedRequest: Sendable {
        /// The headers to send, with `Host` and `X-Request-Id` set and no framing headers: the HTTP client frames
        /// the body itself from its length.
        public var headers: HTTPHeaders
        /// The client's `Content-Length`, when it sent one.
        public var contentLength: Int?
        /// Whether the client sent the body chunked (its length is then unknown).
        public var isChunked: Bool
    }

    /// Header names (lowercase) that are never forwarded upstream: the client's credential, the hop-by-hop set,
    /// and the ones labgate sets itself.
    static let droppedFromRequests: Set<String> = hopByHop.union([
        "authorization", "host", "x-request-id", "expect", "content-length",
    ])

    /// Header names (lowercase) that are never returned: the hop-by-hop set and the framing the server sets itself.
    static let droppedFromResponses: Set<String> = hopByHop.union(["content-length", "x-request-id"])

    /// The hop-by-hop header names of RFC 9110 section 7.6.1 plus `Proxy-Connection`, lowercase.
    public static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// Creates the filter of one route.
    /// - Parameters:
    ///   - upstream: The upstream's URL, parsed.
    ///   - routePrefix: The gateway path of the route, e.g. `/genie`.
    ///   - upstreamPath: The upstream path the route prefix maps to ("" when it maps to the origin's root).
    public init(upstream: UpstreamOrigin, routePrefix: String, upstreamPath: String = "") {
        self.upstream = upstream
        self.routePrefix = Self.withoutTrailingSlash(routePrefix)
        self.upstreamPath = Self.withoutTrailingSlash(upstreamPath)
    }

    /// The headers to forward for a client's request.
    /// - Parameters:
    ///   - incoming: The client's headers, as received.
    ///   - requestID: The request id (see `requestID(from:)`), sent upstream as `X-Request-Id`.
    /// - Throws: `GatewayError` `.badRequest` when `Content-Length` is malformed, disagrees with itself, or comes
    ///   together with `Transfer-Encoding` (a request-smuggling shape), or when a header's name is not an HTTP token
    ///   or its value holds control characters (libmicrohttpd lets `Name : value` through; the upstream client
    ///   would refuse to send it, which would look like an upstream failure).
    public func request(_ incoming: HTTPHeaders, requestID: String) throws(GatewayError) -> ForwardedRequest {
        var out = HTTPHeaders()
        // Room for Host, X-Request-Id and the credential the forwarder adds.
        out.reserveCapacity(incoming.count + 3, bytes: incoming.contentBytes + 256)
        let framing = try forEachForwarded(incoming) { name, value in out.add(name, value) }
        out.add("Host", upstream.hostHeader)
        out.add("X-Request-Id", requestID)
        return ForwardedRequest(headers: out, contentLength: framing.contentLength, isChunked: framing.isChunked)
    }

    /// The rules of `request` without a list made: `forward` gets each of the client's fields that goes upstream, in
    /// order (the ones labgate sets itself are not among them), each name a token and each value free of controls but
    /// tabs, and the framing they declare is returned. The server loop's client writes them straight into the
    /// request's bytes (issue 7). A field may be forwarded before a later one makes the request fail: what was
    /// forwarded is then thrown away.
    /// - Throws: `GatewayError` `.badRequest`, as `request`.
    func forEachForwarded(
        _ incoming: HTTPHeaders, _ forward: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) throws(GatewayError) -> (contentLength: Int?, isChunked: Bool) {
        let named = Self.namedByConnection(incoming)
        var contentLength: Int?
        var isChunked = false
        try incoming.forEachField { (name, value) throws(GatewayError) in
            guard Self.isToken(name), Self.isFieldValue(value) else {
                throw GatewayError(.badRequest, "A request header has an invalid name or value.")
            }
            let kind = NameKind.classify(name)
            if kind == .contentLength {
                guard let length = Self.parseContentLength(value), contentLength == nil || contentLength == length
                else { throw GatewayError(.badRequest, "The Content-Length header is malformed.") }
                contentLength = length
            } else if kind == .transferEncoding {
                isChunked = true
            }
            if kind.isDroppedFromRequests || Self.isNamed(name, in: named) { return }
            forward(name, value)
        }
        if isChunked && contentLength != nil {
            throw GatewayError(.badRequest, "Content-Length and Transfer-Encoding must not be sent together.")
        }
        return (contentLength, isChunked)
    }

    /// The headers to return to the client for an upstream's response: `returnField`'s fields, then `X-Request-Id`.
    /// - Parameters:
    ///   - upstreamHeaders: The upstream's response headers.
    ///   - requestID: The request id, returned as `X-Request-Id` (replacing any the upstream sent).
    ///   - gatewayOrigin: The gateway's `scheme://host:port` for absolute `Location` rewrites; nil gives an
    ///     absolute-path reference (`/labric/...`), which every client resolves against the gateway.
    ///   - connectionNamesFields: false when the caller knows that no `Connection` field names other fields: they
    ///     are not looked for.
    public func response(
        _ upstreamHeaders: HTTPHeaders, requestID: String, gatewayOrigin: String? = nil,
        connectionNamesFields: Bool = true
    ) -> HTTPHeaders {
        var out = HTTPHeaders()
        out.reserveCapacity(upstreamHeaders.count + 1, bytes: upstreamHeaders.contentBytes + 64)
        let named = connectionNamesFields ? Self.namedByConnection(upstreamHeaders) : []
        upstreamHeaders.forEachField { name, value in
            returnField(name, value, named: named, gatewayOrigin: gatewayOrigin) { out.add($0, $1) }
        }
        Self.addRequestID(requestID) { out.add($0, $1) }
        return out
    }

    /// The rules for one of an upstream's response fields, without a list made: `give` gets it when it goes back to
    /// the client, a `Location` rewritten. The server loop's relay hands the fields to libmicrohttpd straight from
    /// the upstream's bytes (issue 7); `addRequestID` follows the last.
    /// - Parameter named: the names the upstream's `Connection` fields list (`namedByConnection`), nearly always none.
    func returnField(
        _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, named: [String], gatewayOrigin: String? = nil,
        _ give: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) {
        let kind = NameKind.classify(name)
        if kind.isDroppedFromResponses || Self.isNamed(name, in: named) { return }
        guard kind == .location else { return give(name, value) }
        var location = rewriteLocation(String(decoding: value, as: UTF8.self), gatewayOrigin: gatewayOrigin)
        location.withUTF8 { give(name, UnsafeRawBufferPointer($0)) }
    }

    /// The field every response to the client ends with: `X-Request-Id` (the upstream's own was dropped).
    static func addRequestID(_ requestID: String, _ give: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        let name: StaticString = "X-Request-Id"
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        // In place when contiguous, as a native id is: `withUTF8` needs a mutable copy, a retain and a release.
        if requestID.utf8.withContiguousStorageIfAvailable({ give(nameBytes, UnsafeRawBufferPointer($0)) }) == nil {
            var id = requestID
            id.withUTF8 { give(nameBytes, UnsafeRawBufferPointer($0)) }
        }
    }

    /// Whether `name` is an HTTP token (RFC 9110 `tchar`s, at least one).
    static func isToken(_ name: UnsafeRawBufferPointer) -> Bool {
        let (low, high) = tokenBytes
        return !name.isEmpty
            && name.allSatisfy { byte in
                byte < 64 ? (low >> byte) & 1 == 1 : byte < 128 && (high >> (byte - 64)) & 1 == 1
            }
    }

    /// RFC 9110 `tchar` as a bit set over ASCII (`!#$%&'*+-.^_`|~`, digits, letters): one shift per byte, where
    /// searching the punctuation string for every byte showed in callgrind (issue 7).
    private static let tokenBytes: (UInt64, UInt64) = {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for byte in "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8 {
            if byte < 64 { low |= 1 << byte } else { high |= 1 << (byte - 64) }
        }
        return (low, high)
    }()

    /// Whether `value` is a field value: visible characters, spaces, tabs and non-ASCII bytes; no other controls.
    static func isFieldValue(_ value: UnsafeRawBufferPointer) -> Bool {
        value.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    // MARK: - Request ids

    /// The client's `X-Request-Id` when it is a sane token (1-128 of `A-Z a-z 0-9 . _ -`), else a new one, from
    /// `source` when given (a server loop's own, on that loop's thread).
    public static func requestID(from headers: HTTPHeaders, source: RequestID.Source? = nil) -> String {
        if let offered = headers["X-Request-Id"], isValidRequestID(offered) { return offered }
        return source?.next() ?? RequestID.make()
    }

    /// Whether a request id may be echoed back and logged as is.
    public static func isValidRequestID(_ id: String) -> Bool {
        let bytes = id.utf8
        return (1...128).contains(bytes.count)
            && bytes.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }

    // MARK: - Helpers

    /// The header names listed in `Connection`, lowercase: they are hop-by-hop for this message only.
    public static func connectionTokens(_ headers: HTTPHeaders) -> Set<String> {
        var tokens: Set<String> = []
        forEachConnectionToken(headers) { tokens.insert(lowercasedASCII(String(decoding: $0, as: UTF8.self))) }
        return tokens
    }

    /// Calls `body` with the bytes of each non-empty token of every `Connection` header, trimmed, as sent. Works on
    /// the value's bytes: splitting the String cost an array and a String per token, twice per request (issue 7).
    private static func forEachConnectionToken(_ headers: HTTPHeaders, _ body: (UnsafeRawBufferPointer) -> Void) {
        headers.forEachValue(named: "Connection") { value in
            HTTPHeaders.forEachListElement(value, in: 0..<value.count) { token in
                if !token.isEmpty { body(UnsafeRawBufferPointer(rebasing: value[token])) }
            }
        }
    }

    /// The length a `Content-Length` value states, or nil when it is malformed. A list of equal values (`5, 5`)
    /// counts as one, as RFC 9110 allows.
    public static func parseContentLength(_ value: UnsafeRawBufferPointer) -> Int? {
        // The usual shape, plain digits, without splitting.
        if (1...18).contains(value.count), value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        return parseContentLengthList(String(decoding: value, as: UTF8.self))
    }

    /// `parseContentLength` of a String.
    public static func parseContentLength(_ value: String) -> Int? {
        var value = value
        return value.withUTF8 { parseContentLength(UnsafeRawBufferPointer($0)) }
    }

    /// A `Content-Length` that is not plain digits: a list of equal values, or malformed.
    private static func parseContentLengthList(_ value: String) -> Int? {
        var result: Int?
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let digits = part.trimmingASCIIWhitespace()
            guard (1...18).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let length = Int(digits), result == nil || result == length
            else { return nil }
            result = length
        }
        return result
    }

    /// `connectionTokens` without the hop-by-hop names, which are dropped anyway: for the usual
    /// `Connection: keep-alive` nothing is left, and nothing is allocated (issue 7).
    static func namedByConnection(_ headers: HTTPHeaders) -> [String] {
        var tokens: [String] = []
        forEachConnectionToken(headers) { token in addNamed(token, to: &tokens) }
        return tokens
    }

    /// `namedByConnection` of fields given by a walk (`HTTP1ResponseParser.Head.forEachField`).
    static func namedByConnection(_ fields: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> Void)
        -> [String]
    {
        var tokens: [String] = []
        fields { name, value in
            guard HTTPHeaders.equalFold(name, "Connection") else { return }
            HTTPHeaders.forEachListElement(value, in: 0..<value.count) { token in
                if !token.isEmpty { addNamed(UnsafeRawBufferPointer(rebasing: value[token]), to: &tokens) }
            }
        }
        return tokens
    }

    /// Adds a token of a `Connection` field to `tokens`, lowercase, unless it is a name dropped anyway.
    private static func addNamed(_ token: UnsafeRawBufferPointer, to tokens: inout [String]) {
        switch NameKind.classify(token) {
        case .hopByHop, .transferEncoding: break
        default: tokens.append(lowercasedASCII(String(decoding: token, as: UTF8.self)))
        }
    }

    /// Whether a header is one the `Connection` header named (`named` is lowercase, and nearly always empty).
    static func isNamed(_ name: UnsafeRawBufferPointer, in named: [String]) -> Bool {
        for var token in named where token.withUTF8({ HTTPHeaders.equalFold(UnsafeRawBufferPointer($0), name) }) {
            return true
        }
        return false
    }

    static func lowercasedASCII(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return name }
        return String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    static func withoutTrailingSlash(_ path: String) -> String {
        var path = Substring(path)
        while path.last == "/" { path.removeLast() }
        return String(path)
    }
}

extension Substring {
    /// Drops spaces and tabs at both ends (the optional whitespace of HTTP lists).
    func trimmingASCIIWhitespace() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
    }
}
