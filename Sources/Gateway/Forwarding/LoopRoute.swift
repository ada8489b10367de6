import MicroHTTPServer
import NIOCore
import UpstreamLink

/// What the requests relayed to one upstream on one server loop refer to, made once per loop and upstream and
/// attached to the loop (`GatewayResponder.loopRoute`). A relayed request holds this object, which only its loop
/// uses, instead of the objects both loops share: the responder, the upstream and its header rules and client, the
/// credential. Each retain of a shared object, and the credential's lock, was a write to memory the other core also
/// wrote, so the line went back and forth between the cores; the relayed path made about twenty such writes a
/// request (issue 7).
///
/// `@unchecked Sendable` holds because the credential's lines are touched on the loop's thread only
/// (`fixedFields()`, called while writing the request on the loop); the rest is fixed at creation. A report that
/// travels to AsyncHTTPClient's thread reads only the fixed parts.
final class LoopRoute: @unchecked Sendable {
    let responder: GatewayResponder
    let upstream: Upstream
    /// `upstream.filter`'s rules in an object of this loop's own: the shared one was retained several times a request.
    let filter: HeaderFilter
    /// `upstream.credential`, held here: read through the upstream it was retained on every request.
    private let credential: SecretValue
    /// `upstream.link`, kept alive by `upstream` and called without a retain (`withLink`): the client is shared.
    private let link: Unmanaged<LinkClient>?
    /// The loop's metrics (`RequestObserver.tally(for:)`); nil when made off the loop.
    let tally: RequestTally?
    /// The `Host` and `Authorization` lines of every request (`fixedFields()`), and the secret's change count they
    /// are of; nil lines: the credential cannot be sent (a line break in it).
    private var fixed: [UInt8]?
    private var fixedChange = -1

    init(responder: GatewayResponder, upstream: Upstream, tally: RequestTally?) {
        self.responder = responder
        self.upstream = upstream
        let shared = upstream.filter
        self.filter = HeaderFilter(
            upstream: shared.upstream, routePrefix: shared.routePrefix, upstreamPath: shared.upstreamPath)
        self.credential = upstream.credential
        self.link = upstream.link.map { Unmanaged.passUnretained($0) }
        self.tally = tally
    }

    /// Whether the upstream has a client on the server's loops (`Upstream.link`).
    var hasLink: Bool { link != nil }

    /// Calls `body` with the upstream's loop client (which must exist: `hasLink`), not retained.
    func withLink<R>(_ body: (LinkClient) -> R) -> R {
        link!._withUnsafeGuaranteedRef(body)
    }

    /// The `Host: <upstream>` and `Authorization: Bearer <credential>` lines every request to the upstream carries,
    /// written and checked once and again only when the credential has changed (rotation): checking costs a read of
    /// the secret's change count, which both cores can hold at once. In storage of this loop's own: shared storage's
    /// count would be written by both loops. nil when the credential cannot be sent. Loop thread only.
    func fixedFields() -> [UInt8]? {
        if credential.changeCount != fixedChange {
            let (bearer, change) = credential.bearerWithChangeCount()
            let host = filter.upstream.hostHeader
            // "Host", "Authorization" (17 bytes of names), each with ": " and CRLF.
            fixed = LinkRequestHead.lines(fieldRoom: host.utf8.count + bearer.utf8.count + 17 + 2 * 4) { head in
                head.add("Host", host)
                head.add("Authorization", bearer)
                return true
            }
            fixedChange = change
        }
        return fixed
    }

    /// Appends the head of a request for the server loop's client to `buffer` (an upstream connection's own,
    /// `LinkExchange.writeHead`): the forwarded fields written straight into it (`HeaderFilter.forEachForwarded`),
    /// then `X-Request-Id`, `Host`, the credential and, with a body, its framing. Without the list
    /// `HeaderFilter.request` makes, which cost an allocation and a copy of every field (issue 7). Loop thread only.
    /// - Returns: how the body follows the head.
    /// - Throws: `GatewayError` `.badRequest` when the request cannot be forwarded (the header rules, or bytes
    ///   HTTP/1.1 cannot carry); `buffer` is then as it was.
    func writeHead(
        into buffer: inout ByteBuffer, method: String, headers incoming: HTTPHeaders, target: String,
        requestID: String, withBody: Bool
    ) throws(GatewayError) -> LinkExchange.Body {
        // The loop's lines: reading the secret took its lock, on a line both loops wrote (issue 7).
        guard let fixed = fixedFields() else { throw LinkRelay.unforwardable }
        // At most every client field, then "X-Request-Id" (12 bytes of name, ": " and CRLF), the fixed lines and
        // the body's framing ("Transfer-Encoding: chunked" or a Content-Length, 40 bytes at most).
        let room = incoming.contentBytes + 4 * incoming.count + 12 + 4 + requestID.utf8.count + fixed.count + 40
        var refusal: GatewayError?
        var body = LinkExchange.Body.empty
        let written = LinkRequestHead.write(into: &buffer, method: method, target: target, fieldRoom: room) { head in
            let framing: (contentLength: Int?, isChunked: Bool)
            do throws(GatewayError) {
                // Checked by the rules (a token, a value without controls): written as they are.
                framing = try filter.forEachForwarded(incoming) { name, value in head.add(checked: name, value) }
            } catch {
                refusal = error
                return false
            }
            head.add("X-Request-Id", requestID)
            head.add(lines: fixed)
            // The body's framing is the gateway's to write: the client's went with the hop-by-hop fields.
            if withBody, framing.isChunked {
                head.add("Transfer-Encoding", "chunked")
                body = .chunked
            } else if withBody, let length = framing.contentLength, length > 0 {
                head.add("Content-Length", String(length))
                body = .length
            }
            return true
        }
        if let refusal { throw refusal }
        guard written else { throw LinkRelay.unforwardable }
        return body
    }
}
