import MicroHTTPServer
import UpstreamLink

/// What the requests relayed to one upstream on one server loop refer to, made once per loop and upstream and
/// attached to the loop (`GatewayResponder.loopRoute`). A relayed request holds this object, which only its loop
/// uses, instead of the objects both loops share: the responder, the upstream and its header rules and client, the
/// credential. Each retain of a shared object, and the credential's lock, was a write to memory the other core also
/// wrote, so the line went back and forth between the cores; the relayed path made about twenty such writes a
/// request (issue 7).
///
/// `@unchecked Sendable` holds because the credential's copy is touched on the loop's thread only
/// (`authorization()`, called while writing the request on the loop); the rest is fixed at creation. A report that
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
    /// The credential's `Authorization` value, a copy of this loop's own, and the secret's change count it is of.
    private var bearer = ""
    private var bearerChange = -1

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

    /// `Bearer <credential>`, read again only when the credential has changed (rotation): checking costs a read of
    /// the secret's change count, which both cores can hold at once. Loop thread only.
    func authorization() -> String {
        if credential.changeCount != bearerChange {
            let (value, change) = credential.bearerWithChangeCount()
            // Copied into storage of this loop's own: shared storage's count would be written by both loops.
            bearer = String(decoding: Array(value.utf8), as: UTF8.self)
            bearerChange = change
        }
        return bearer
    }
}
