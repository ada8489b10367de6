import Foundation
import MicroHTTPServer

/// A faithful stand-in for Genie LabOS (UPSTREAMS.md, section 1): the token exchange, the labware catalog behind the
/// private token, and the public instrument API with actions and commands that run in simulated time. Requests first
/// pass its `FaultInjector`, whose control endpoints live under `/_sandbox/`.
///
/// Routes, relative to the host: `POST /authn/login`, `GET /catalog/library`, and under `/public/v1`: `discover`,
/// `instruments[/{id}]` (GET, idempotent DELETE), `instruments/{id}/actions[/{name}]`,
/// `instruments/{id}/commands[/{cid}]` (POST, GET, DELETE) and `instruments/{id}/commands/{cid}/kill`.
public final class GenieSimulator: HTTPResponder {
    /// What a simulator instance accepts and how fast its time runs.
    public struct Configuration: Sendable {
        /// The public API token (what token.txt holds). Login and the public API accept it, whitespace trimmed.
        public var publicToken: String
        /// How long issued private tokens live, in seconds (Genie: 5 minutes). Written into the JWT's `exp`.
        public var privateTokenLifetime: TimeInterval
        /// Simulated seconds per clock second: at 10, a 15 s shake is over after 1.5 s.
        public var timeScale: Double
        /// Where time comes from: token expiry and command progress follow it.
        public var clock: SandboxClock
        /// The `createdBy` of commands.
        public var user: String

        public init(
            publicToken: String,
            privateTokenLifetime: TimeInterval = 300,
            timeScale: Double = 10,
            clock: SandboxClock = .system,
            user: String = "sandbox@labgate.local"
        ) {
            self.publicToken = publicToken.trimmingCharacters(in: .whitespacesAndNewlines)
            self.privateTokenLifetime = privateTokenLifetime
            self.timeScale = timeScale > 0 ? timeScale : 1
            self.clock = clock
            self.user = user
        }
    }

    public let configuration: Configuration
    /// The faults and counters of this simulator; tests drive it directly or over `/_sandbox/`.
    public let faults: FaultInjector
    private let api: GenieAPI
    private let router: SandboxRouter

    /// - Parameters:
    ///   - configuration: tokens, lifetimes and clock.
    ///   - faults: the injector to use; pass a shared one to control several simulators together.
    public init(configuration: Configuration, faults: FaultInjector = FaultInjector()) {
        self.configuration = configuration
        self.faults = faults
        let api = GenieAPI(
            configuration: configuration, lab: GenieLab(), tokens: GenieTokenStore(), faults: faults,
            publicToken: AcceptedCredential(configuration.publicToken))
        self.api = api
        self.router = Self.routes(api)
        faults.onRotateCredential { api.publicToken.rotate(to: $0) }
        faults.onRevokeTokens { api.tokens.revokeAll(at: configuration.clock.now()) }
        faults.onReset { api.lab.reset() }
    }

    public func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        try await faults.respond(to: request) { [router] request in
            switch router.match(method: request.method, path: request.path) {
            case .found(let handler, let parameters):
                do {
                    return try await handler(SandboxRouter.Routed(request: request, parameters: parameters))
                } catch let error as GenieError {
                    return error.response
                }
            case .methodNotAllowed(let allowed):
                var response = GenieError(405, "method_not_allowed", "\(request.method) is not allowed here").response
                response.headers.add("Allow", allowed.joined(separator: ", "))
                return response
            case .notFound:
                return GenieError.notFound("no route for \(request.method) \(request.path)").response
            }
        }
    }

    /// Forgets every private token issued so far (as `POST /_sandbox/tokens/revoke` does); returns how many were live.
    @discardableResult
    public func revokePrivateTokens() -> Int {
        api.tokens.revokeAll(at: configuration.clock.now())
    }

    /// Accepts only `token` as the public API token from now on (login and the public API); private tokens issued
    /// so far stay valid until they expire or are revoked.
    public func rotatePublicToken(to token: String) {
        api.publicToken.rotate(to: token.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The public API token accepted now.
    public var publicToken: String { api.publicToken.value }

    /// Restores the seeded instruments and forgets every command.
    public func resetLab() {
        api.lab.reset()
    }

    /// The ids of the seeded instruments, for tests and examples: shaker, plate reader, liquid handler.
    public static let seededInstrumentIDs = GenieInstrument.seed().map(\.id)

    static let publicBase = "/public/v1"

    private static func routes(_ api: GenieAPI) -> SandboxRouter {
        var router = SandboxRouter()
        let base = publicBase
        router.add("POST", "/authn/login") { try await api.login($0) }
        router.add("GET", "/catalog/library") { try api.catalog($0) }
        router.add("GET", "\(base)/discover") { try api.discover($0) }
        router.add("GET", "\(base)/instruments") { try api.listInstruments($0) }
        router.add("GET", "\(base)/instruments/:id") { try api.getInstrument($0) }
        router.add("DELETE", "\(base)/instruments/:id") { try api.deleteInstrument($0) }
        router.add("GET", "\(base)/instruments/:id/actions") { try api.listActions($0) }
        router.add("GET", "\(base)/instruments/:id/actions/:name") { try api.getAction($0) }
        router.add("POST", "\(base)/instruments/:id/commands") { try await api.createCommand($0) }
        router.add("GET", "\(base)/instruments/:id/commands") { try api.listCommands($0) }
        router.add("GET", "\(base)/instruments/:id/commands/:cid") { try api.getCommand($0) }
        router.add("DELETE", "\(base)/instruments/:id/commands/:cid") { try api.deleteCommand($0) }
        router.add("POST", "\(base)/instruments/:id/commands/:cid/kill") { try api.killCommand($0) }
        return router
    }

    /// What `GET /public/v1/discover` lists, in the vendor's notation (`:x` a parameter, `?` optional).
    static let discovery: JSONValue = .array(
        [
            ("GET", "/discover"),
            ("GET", "/instruments/:id?"),
            ("DELETE", "/instruments/:id"),
            ("GET", "/instruments/:id/actions/:cid?"),
            ("GET", "/instruments/:id/commands/:cid?"),
            ("POST", "/instruments/:id/commands"),
            ("POST", "/instruments/:id/commands/:cid/kill"),
            ("DELETE", "/instruments/:id/commands/:cid"),
        ].map { ["method": .string($0.0), "path": .string(publicBase + $0.1)] }
    )
}
