/// Where a request goes, decided by `Router` from the table in DESIGN.md.
public enum Route: Sendable, Hashable {
    /// Forwarded to Labric with the Labric API key. `target` is the request target to send to the upstream:
    /// the base path of `LABRIC_API_BASE_URL`, then `/<rest>` and the query string exactly as received.
    case labric(target: String)
    /// Forwarded to Genie with the public API token; `target` is `/<rest>` and the query exactly as received.
    case geniePublic(target: String)
    /// Forwarded to Genie with the private token; `target` is `/<rest>` and the query exactly as received.
    case geniePrivate(target: String)
    /// `POST /genie/authn/login`: answered by labgate, never forwarded.
    case genieLogin
    case healthz
    case readyz
    case metrics
    case noRoute

    /// The two upstreams labgate can forward to.
    public enum Upstream: String, Sendable, CaseIterable {
        case genie
        case labric
    }

    /// The upstream this route forwards to, or nil for routes labgate answers itself.
    public var upstream: Upstream? {
        switch self {
        case .labric: .labric
        case .geniePublic, .geniePrivate: .genie
        case .genieLogin, .healthz, .readyz, .metrics, .noRoute: nil
        }
    }

    /// The request target to send upstream, byte for byte as the client sent it after the route prefix.
    public var upstreamTarget: String? {
        switch self {
        case .labric(let target), .geniePublic(let target), .geniePrivate(let target): target
        case .genieLogin, .healthz, .readyz, .metrics, .noRoute: nil
        }
    }

    /// A short, bounded label for metrics and the access log (never the path, which is unbounded).
    public var name: String {
        switch self {
        case .labric: "labric"
        case .geniePublic: "genie_public"
        case .geniePrivate: "genie_private"
        case .genieLogin: "genie_login"
        case .healthz: "healthz"
        case .readyz: "readyz"
        case .metrics: "metrics"
        case .noRoute: "no_route"
        }
    }

    /// Every label `name` can take, so that metrics can be pre-registered.
    public static let names = [
        "labric", "genie_public", "genie_private", "genie_login", "healthz", "readyz", "metrics", "no_route",
    ]
}
