import Testing

@testable import Gateway

@Suite struct RouterTests {
    let router = Router(Router.Configuration(geniePublicPath: "/public/v1"))

    func route(_ method: String, _ target: String) throws -> Route {
        try router.route(method: method, target: target)
    }

    @Test func routesLabricWithPathAndQueryUnchanged() throws {
        #expect(
            try route("GET", "/labric/api/v1/files?limit=2&extensions=csv,txt")
                == .labric(target: "/api/v1/files?limit=2&extensions=csv,txt"))
        #expect(
            try route("POST", "/labric/api/v1/files/a%2Fb/confirm-upload")
                == .labric(target: "/api/v1/files/a%2Fb/confirm-upload"))
        #expect(try route("GET", "/labric/x?") == .labric(target: "/x?"))
        #expect(try route("GET", "/labric") == .labric(target: "/"))
        #expect(try route("GET", "/labric/") == .labric(target: "/"))
        #expect(try route("GET", "/labric?q=1") == .labric(target: "/?q=1"))
    }

    @Test func putsTheLabricBasePathFirst() throws {
        let router = Router(Router.Configuration(labricBasePath: "/proxy/"))
        #expect(
            try router.route(method: "GET", target: "/labric/api/v1/jobs?a=%20")
                == .labric(target: "/proxy/api/v1/jobs?a=%20"))
        #expect(try router.route(method: "GET", target: "/labric") == .labric(target: "/proxy"))
    }

    @Test func routesGeniePublicPathsWithThePublicToken() throws {
        #expect(try route("GET", "/genie/public/v1/discover") == .geniePublic(target: "/public/v1/discover"))
        #expect(try route("GET", "/genie/public/v1") == .geniePublic(target: "/public/v1"))
        #expect(try route("GET", "/genie/public/v1/") == .geniePublic(target: "/public/v1/"))
        #expect(try route("GET", "/genie/public/v1?x=1") == .geniePublic(target: "/public/v1?x=1"))
        #expect(
            try route("POST", "/genie/public/v1/instruments/abc/commands")
                == .geniePublic(target: "/public/v1/instruments/abc/commands"))
    }

    @Test func publicMatchIsSegmentBoundaryAware() throws {
        #expect(try route("GET", "/genie/public/v10/x") == .geniePrivate(target: "/public/v10/x"))
        #expect(try route("GET", "/genie/public/v1x") == .geniePrivate(target: "/public/v1x"))
        #expect(try route("GET", "/genie/public") == .geniePrivate(target: "/public"))
        #expect(try route("GET", "/genie/PUBLIC/v1/x") == .geniePrivate(target: "/PUBLIC/v1/x"))
    }

    @Test func escapesCannotChangeTheCredential() throws {
        // Matching sees through escapes of unreserved characters; the forwarded target stays raw.
        #expect(try route("GET", "/genie/%70ublic/v1/discover") == .geniePublic(target: "/%70ublic/v1/discover"))
        #expect(try route("GET", "/%67enie/public/v1/discover") == .geniePublic(target: "/public/v1/discover"))
        #expect(try route("GET", "/genie//public/v1/x") == .geniePublic(target: "//public/v1/x"))
        #expect(try route("GET", "/genie/public%2Fv1/x") == .geniePrivate(target: "/public%2Fv1/x"))
    }

    @Test func publicPathIsNormalisedFromConfiguration() throws {
        for path in ["/public/v1/", "public/v1", "/public/v1"] {
            let router = Router(Router.Configuration(geniePublicPath: path))
            #expect(
                try router.route(method: "GET", target: "/genie/public/v1/x") == .geniePublic(target: "/public/v1/x"))
            #expect(try router.route(method: "GET", target: "/genie/catalog") == .geniePrivate(target: "/catalog"))
        }
    }

    @Test func routesOtherGeniePathsWithThePrivateToken() throws {
        #expect(try route("GET", "/genie/catalog/library") == .geniePrivate(target: "/catalog/library"))
        #expect(try route("GET", "/genie/catalog/library?a=b") == .geniePrivate(target: "/catalog/library?a=b"))
        #expect(try route("GET", "/genie") == .geniePrivate(target: "/"))
    }

    @Test func answersLoginLocallyAndNeverForwardsIt() throws {
        #expect(try route("POST", "/genie/authn/login") == .genieLogin)
        #expect(try route("POST", "/genie/authn/login/") == .genieLogin)
        #expect(try route("POST", "/genie/authn/login?x=1") == .genieLogin)
        #expect(try route("POST", "/genie/authn/%6Cogin") == .genieLogin)
        #expect(try route("POST", "//genie//authn//login") == .genieLogin)
        #expect(try route("GET", "/genie/authn/login") == .noRoute)
        #expect(try route("PUT", "/genie/authn/login") == .noRoute)
        #expect(try route("POST", "/genie/authn/logins") == .geniePrivate(target: "/authn/logins"))
    }

    @Test func routesOperationalEndpoints() throws {
        #expect(try route("GET", "/healthz") == .healthz)
        #expect(try route("HEAD", "/healthz") == .healthz)
        #expect(try route("GET", "/readyz?verbose=1") == .readyz)
        #expect(try route("GET", "/metrics") == .metrics)
        #expect(try route("POST", "/metrics") == .noRoute)
        #expect(try route("GET", "/healthz/x") == .noRoute)
    }

    @Test func unknownPathsHaveNoRoute() throws {
        #expect(try route("GET", "/") == .noRoute)
        #expect(try route("GET", "/genies/x") == .noRoute)
        #expect(try route("GET", "/labrics") == .noRoute)
        #expect(try route("GET", "/Labric/x") == .noRoute)
    }

    @Test func refusesConnectAndHostileTargets() {
        #expect(throws: GatewayError.self) { try route("CONNECT", "platform.labric.co:443") }
        #expect(throws: GatewayError.self) { try route("CONNECT", "/labric/x") }
        #expect(throws: GatewayError.self) { try route("GET", "http://evil.example/labric/x") }
        #expect(throws: GatewayError.self) { try route("GET", "/labric/%2e%2e/admin") }
        #expect(throws: GatewayError.self) { try route("GET", "/genie/public/v1/%2E%2E/%2e%2e/catalog/library") }
    }

    @Test func describesRoutes() {
        #expect(Route.labric(target: "/").upstream == .labric)
        #expect(Route.geniePrivate(target: "/").upstream == .genie)
        #expect(Route.genieLogin.upstream == nil)
        #expect(Route.geniePublic(target: "/x?y").upstreamTarget == "/x?y")
        #expect(Route.metrics.upstreamTarget == nil)
        let all: [Route] = [
            .labric(target: "/"), .geniePublic(target: "/"), .geniePrivate(target: "/"), .genieLogin, .healthz,
            .readyz, .metrics, .noRoute,
        ]
        #expect(all.map(\.name) == Route.names)
    }
}
