import PropertyBased
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
}
