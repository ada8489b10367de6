import MicroHTTPServer
import UpstreamLink

/// One configured upstream as the forwarder sees it: where it is, its header rules, and its credential.
/// A class: each request passes it along several times, and a struct of this many references costs a retain and a
/// release per field on every copy.
public final class Upstream: Sendable {
    public let name: Route.Upstream
    public let origin: UpstreamOrigin
    public let filter: HeaderFilter
    /// The long-lived credential (Labric API key, Genie public token), read per request so rotation takes effect.
    public let credential: SecretValue
    /// `origin.origin`, made once: it starts every forwarded URL.
    let originURL: String
    /// Answers body-less requests with the fixed credential from the server's own loop (`UpstreamClient.makeLink`);
    /// nil: AsyncHTTPClient answers every request.
    public let link: LinkClient?

    public init(name: Route.Upstream, origin: UpstreamOrigin, credential: SecretValue, link: LinkClient? = nil) {
        self.name = name
        self.origin = origin
        self.credential = credential
        self.link = link
        self.originURL = origin.origin
        switch name {
        case .labric:
            filter = HeaderFilter(upstream: origin, routePrefix: "/labric", upstreamPath: origin.basePath)
        case .genie:
            filter = HeaderFilter(upstream: origin, routePrefix: "/genie", upstreamPath: "")
        }
    }

    /// The absolute URL for an upstream target from `Route.upstreamTarget` (which already carries any base path).
    func url(for target: String) -> String {
        originURL + target
    }
}
