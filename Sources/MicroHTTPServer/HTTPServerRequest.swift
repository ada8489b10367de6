import NIOCore

/// A request as the handler sees it: the head exactly as received, and the body still streaming in.
public struct HTTPServerRequest: Sendable {
    /// The method as sent, e.g. "GET".
    public var method: String
    /// The request target exactly as sent (path and query, percent-encoding untouched).
    public var target: String
    /// "HTTP/1.1" or "HTTP/1.0".
    public var version: String
    public var headers: HTTPHeaders
    /// The client's numeric address, when known (`description` formats it).
    public var peer: PeerAddress?
    public var body: RequestBody

    public init(
        method: String,
        target: String,
        version: String = "HTTP/1.1",
        headers: HTTPHeaders = [:],
        peer: PeerAddress? = nil,
        body: RequestBody = .empty
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.peer = peer
        self.body = body
    }

    /// The target up to its query string.
    public var path: Substring {
        guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target[...] }
        return target[..<q]
    }

    /// The query string without its "?", or nil when there is none.
    public var query: Substring? {
        guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        return target[target.index(after: q)...]
    }
}
