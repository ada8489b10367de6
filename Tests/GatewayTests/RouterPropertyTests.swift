import Foundation
import PropertyBased
import Synchronization
import Testing

@testable import Gateway

@Suite struct RouterPropertyTests {
    let router = Router(Router.Configuration(geniePublicPath: "/public/v1"))

    @Test func labricForwardsRestAndQueryByteForByte() async {
        await propertyCheck(count: 500, input: safeSegment.array(of: 1...6), querySuffix) { segments, query in
            let rest = "/" + segments.joined(separator: "/")
            let route = try router.route(method: "GET", target: "/labric" + rest + query)
            #expect(route == .labric(target: rest + query))
        }
    }

    @Test func genieUsesThePublicTokenExactlyUnderThePublicPath() async {
        let segment = pick(["public", "v1", "v10", "catalog", "library", "%70ublic", "x", "PUBLIC"])
        await propertyCheck(count: 500, input: segment.array(of: 0...4), querySuffix, pick(["GET", "POST", "DELETE"])) {
            segments, query, method in
            let rest = "/" + segments.joined(separator: "/")
            let route = try router.route(method: method, target: "/genie" + rest + query)
            let decoded = segments.map { $0 == "%70ublic" ? "public" : $0 }
            let isPublic = decoded.count >= 2 && decoded[0] == "public" && decoded[1] == "v1"
            #expect(route == (isPublic ? .geniePublic(target: rest + query) : .geniePrivate(target: rest + query)))
        }
    }

    @Test func acceptedTargetsAreForwardedByteForByte() async {
        let piece = pick(["a", "/", "%2F", "%2e", ".", "-", "%41", "?", "=", "&", "%0a", ";", "~", "%25"])
        await propertyCheck(count: 1000, input: pick(["/labric", "/genie"]), piece.array(of: 0...10)) {
            prefix, pieces in
            let suffix = pieces.joined()
            guard suffix.isEmpty || suffix.first == "/" || suffix.first == "?" else { return }
            guard let route = try? router.route(method: "GET", target: prefix + suffix) else { return }
            guard let forwarded = route.upstreamTarget else {
                #expect(route == .noRoute || route == .genieLogin)
                return
            }
            // The forwarded target is what followed the prefix, with "/" standing in for an empty path.
            let expected = suffix.isEmpty || suffix.first == "?" ? "/" + suffix : suffix
            #expect(Array(forwarded.utf8) == Array(expected.utf8))
        }
    }

    @Test func refusedTargetsNeverRoute() async {
        await propertyCheck(count: 300, input: pick(["/labric/", "/genie/"]), separator, dotSegment) {
            prefix, sep, dot in
            #expect(throws: GatewayError.self) { try router.route(method: "GET", target: prefix + "x" + sep + dot) }
        }
    }

    /// Pieces an attacker would use to reach another host: absolute forms, authority-looking text, encoded slashes.
    static let hostilePiece = pick([
        "/", "//", "labric", "genie", "http://evil.example", "https:", "//evil.example", "@evil.example", ":8443",
        "%2F%2Fevil", "\\evil", "evil.example", "%40", "?", "#", "..", "%2e", "public", "v1", "authn", "login",
        "%00", " ", "*", "%23", "x",
    ])

    static let labricOrigin = UpstreamOrigin("https://platform.labric.co/base")!
    static let genieOrigin = UpstreamOrigin("https://genie.example.org/public/v1")!

    /// Whatever the target and method, a routed request goes to a configured upstream's own origin: the URL built
    /// from the route starts with that origin and a `/`, and every URL parser reads the configured host from it.
    @Test func neverRoutesOutsideTheConfiguredUpstreams() async {
        let router = Router(Router.Configuration(geniePublicPath: "/public/v1", labricBasePath: "/base"))
        let upstreams = [
            Route.Upstream.labric: Upstream(name: .labric, origin: Self.labricOrigin, credential: SecretValue("k")),
            Route.Upstream.genie: Upstream(name: .genie, origin: Self.genieOrigin, credential: SecretValue("t")),
        ]
        let method = pick(["GET", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH"])
        let forwardedCount = Atomic(0)
        let prefix = pick(["/labric/", "/genie/", "/genie/public/v1/", "//labric/", "/labric", "/genie", "", "/"])
        await propertyCheck(count: 2000, input: method, prefix, Self.hostilePiece.array(of: 0...8)) {
            method, prefix, pieces in
            let target = prefix + pieces.joined()
            guard let route = try? router.route(method: method, target: target) else { return }
            if route.upstreamTarget != nil { forwardedCount.add(1, ordering: .relaxed) }
            #expect(method != "CONNECT", "CONNECT is never routed")
            #expect(target.hasPrefix("/"), "only origin-form targets route: \(target)")
            guard let upstreamName = route.upstream, let forwarded = route.upstreamTarget else { return }
            let upstream = upstreams[upstreamName]!
            let url = upstream.url(for: forwarded)
            #expect(url.hasPrefix(upstream.origin.origin + "/"), "\(url)")
            #expect(URL(string: url).map { $0.host == upstream.origin.host } ?? true, "\(url)")
            // The route's prefix is where the request said it goes.
            let first = PathNormalizer.matchingForm(target.drop { $0 == "/" }.prefix { $0 != "/" && $0 != "?" })
            #expect(first == upstreamName.rawValue, "\(target) went to \(upstreamName)")
        }
        // The generator reaches both kinds of outcome: a property over refusals alone would prove nothing.
        #expect(forwardedCount.load(ordering: .relaxed) > 50)
    }

    @Test func absoluteFormAndAsteriskTargetsNeverRoute() async {
        let scheme = pick(["http://", "https://", "HTTP://", "ftp://", "", "//"])
        let host = pick(["platform.labric.co", "genie.example.org", "evil.example", "127.0.0.1:8080", "[::1]"])
        await propertyCheck(count: 300, input: scheme, host, pick(["/labric/api", "/genie/public/v1/x", "", "*"])) {
            scheme, host, path in
            let target = scheme + host + path
            guard !target.hasPrefix("/") else { return }
            let route = try? router.route(method: "GET", target: target)
            #expect(route == nil || route == .noRoute, "\(target) routed to \(String(describing: route))")
        }
    }
}
