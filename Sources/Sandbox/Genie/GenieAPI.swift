import Foundation
import MicroHTTPServer
import NIOCore

/// The Genie simulator's handlers. A value holding the shared parts, so routes can capture it without a cycle
/// through the simulator.
struct GenieAPI: Sendable {
    let configuration: GenieSimulator.Configuration
    let lab: GenieLab
    let tokens: GenieTokenStore
    let faults: FaultInjector
    /// The public token accepted now (starts as `configuration.publicToken`; `GenieSimulator.rotatePublicToken`).
    let publicToken: AcceptedCredential

    private var now: Date { configuration.clock.now() }

    // MARK: Private API

    /// `POST /authn/login` with `{"jwt": "<public token>"}`: no Authorization header, the token in the body.
    func login(_ routed: SandboxRouter.Routed) async throws -> HTTPServerResponse {
        faults.increment("genie.login_attempts")
        let body = try await Self.jsonBody(routed.request)
        if let failure = faults.takeTokenExchangeFailure() {
            faults.increment("genie.login_failures")
            return failure
        }
        guard let token = body["jwt"]?.stringValue else {
            throw GenieError.badRequest("the body must be {\"jwt\": \"<public API token>\"}")
        }
        // The vendor's example posts token.txt unstripped, trailing newline included.
        let accepted = publicToken.value
        guard !accepted.isEmpty, token.trimmingCharacters(in: .whitespacesAndNewlines) == accepted else {
            faults.increment("genie.login_rejected")
            throw GenieError.unauthorized("unknown public API token")
        }
        faults.increment("genie.logins")
        return .json(["jwt": .string(tokens.issue(at: now, lifetime: configuration.privateTokenLifetime))])
    }

    /// `GET /catalog/library`: only a live private token opens it.
    func catalog(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        let token = try Self.bearer(routed.request)
        if token == publicToken.value {
            throw .unauthorized("the public API token is not accepted here: exchange it at /authn/login")
        }
        if let refusal = tokens.refusal(of: token, at: now) { throw .unauthorized(refusal) }
        faults.increment("genie.catalog_reads")
        return .json(["data": GenieCatalog.library])
    }

    // MARK: Public API

    func discover(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(GenieSimulator.discovery)
    }

    func listInstruments(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(lab.instrumentList(at: now))
    }

    func getInstrument(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(try lab.instrumentJSON(routed["id"], at: now))
    }

    /// Idempotent: succeeds whether or not the instrument existed.
    func deleteInstrument(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        let existed = lab.deleteInstrument(routed["id"])
        return Self.data(["id": .string(routed["id"]), "deleted": .bool(existed)])
    }

    func listActions(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(.array(try lab.instrument(routed["id"]).actions.map(\.json)))
    }

    /// `{cid}` is the action's name.
    func getAction(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        guard let action = try lab.instrument(routed["id"]).action(named: routed["name"]) else {
            throw .notFound("instrument '\(routed["id"])' has no action '\(routed["name"])'")
        }
        return Self.data(action.json)
    }

    // MARK: Helpers

    /// The public token, and nothing else, opens the public API.
    func authorizePublicAPI(_ request: HTTPServerRequest) throws(GenieError) {
        guard try Self.bearer(request) == publicToken.value else {
            faults.increment("genie.public_rejected")
            throw .unauthorized("the public API needs the public API token as Bearer")
        }
    }

    static func bearer(_ request: HTTPServerRequest) throws(GenieError) -> String {
        guard let header = request.headers["Authorization"]?.trimmingCharacters(in: .whitespaces),
            header.count > 7, header.prefix(7).lowercased() == "bearer "
        else { throw .unauthorized("missing Bearer token") }
        return header.dropFirst(7).trimmingCharacters(in: .whitespaces)
    }

    /// Public API answers are wrapped as `{"data": ...}`.
    static func data(_ value: JSONValue) -> HTTPServerResponse {
        .json(["data": value])
    }

    /// The request body as a JSON object.
    /// - Throws: `GenieError` 413 past 64 KiB, 400 when it is not a JSON object.
    static func jsonBody(_ request: HTTPServerRequest) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 64 * 1024)
        } catch HTTPServerError.bodyTooLarge {
            throw GenieError(413, "body_too_large", "the body is larger than 64 KiB")
        }
        guard let body = JSONValue(parsing: buffer), case .object = body else {
            throw GenieError.badRequest("the body must be a JSON object")
        }
        return body
    }
}
