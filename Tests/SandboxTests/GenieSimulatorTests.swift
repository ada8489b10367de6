import Foundation
import MicroHTTPServer
import Sandbox
import Testing

/// The token exchange, the catalog and the public instrument API, called directly on the responder.
@Suite struct GenieSimulatorTests {
    typealias T = GenieTestSupport
    let clock = ManualClock()
    let shaker = "6458048287f19b42eb065089"

    @Test func loginTrimsTheTokenAndAnswersAJWTWithExp() async throws {
        let simulator = T.simulator(clock: clock, lifetime: 300)
        let reply = try await T.send(simulator, "POST", "/authn/login", body: #"{"jwt": "  \#(T.publicToken)\n"}"#)
        #expect(reply.status == 200)
        let jwt = try #require(reply.json?["jwt"]?.stringValue)
        #expect(reply.json?["data"] == nil, "login answers at the top level, not wrapped")
        let claims = try #require(T.claims(jwt))
        let now = clock.now.timeIntervalSince1970
        #expect(claims["exp"]?.doubleValue == now + 300)
        #expect(claims["iat"]?.doubleValue == now)
    }

    @Test func loginRefusesAWrongToken() async throws {
        let simulator = T.simulator(clock: clock)
        let wrong = try await T.send(simulator, "POST", "/authn/login", body: #"{"jwt": "not-the-token"}"#)
        #expect(wrong.status == 401)
        let missing = try await T.send(simulator, "POST", "/authn/login", body: #"{"token": "x"}"#)
        #expect(missing.status == 400)
        let notJSON = try await T.send(simulator, "POST", "/authn/login", body: "jwt=abc")
        #expect(notJSON.status == 400)
    }

    @Test func catalogOpensWithThePrivateToken() async throws {
        let simulator = T.simulator(clock: clock)
        let jwt = try await T.login(simulator)
        let reply = try await T.send(simulator, "GET", "/catalog/library", bearer: jwt)
        #expect(reply.status == 200)
        let items = try #require(reply.data?.arrayValue)
        #expect(items.count >= 10)
        #expect(items.contains { $0["id"]?.stringValue == "corning_96_wellplate_360ul_flat" })
    }

    @Test func catalogRefusesThePublicTokenAndNoToken() async throws {
        let simulator = T.simulator(clock: clock)
        let withPublic = try await T.send(simulator, "GET", "/catalog/library", bearer: T.publicToken)
        #expect(withPublic.status == 401)
        #expect(withPublic.headers["WWW-Authenticate"] == "Bearer")
        let withNothing = try await T.send(simulator, "GET", "/catalog/library")
        #expect(withNothing.status == 401)
        let withGarbage = try await T.send(simulator, "GET", "/catalog/library", bearer: "a.b.c")
        #expect(withGarbage.status == 401)
    }

    @Test func catalogRefusesAnExpiredPrivateToken() async throws {
        let simulator = T.simulator(clock: clock, lifetime: 5)
        let jwt = try await T.login(simulator)
        clock.advance(by: 4.9)
        #expect(try await T.send(simulator, "GET", "/catalog/library", bearer: jwt).status == 200)
        clock.advance(by: 0.1)
        let expired = try await T.send(simulator, "GET", "/catalog/library", bearer: jwt)
        #expect(expired.status == 401)
        #expect(expired.error?["message"]?.stringValue == "private token expired")
        // A new exchange works again.
        let fresh = try await T.login(simulator)
        #expect(try await T.send(simulator, "GET", "/catalog/library", bearer: fresh).status == 200)
    }

    @Test func publicAPIWantsThePublicToken() async throws {
        let simulator = T.simulator(clock: clock)
        #expect(try await T.send(simulator, "GET", "/public/v1/discover").status == 401)
        let jwt = try await T.login(simulator)
        #expect(try await T.send(simulator, "GET", "/public/v1/discover", bearer: jwt).status == 401)
        let discover = try await T.send(simulator, "GET", "/public/v1/discover", bearer: T.publicToken)
        #expect(discover.status == 200)
        let paths = try #require(discover.data?.arrayValue).compactMap { $0["path"]?.stringValue }
        #expect(paths.contains("/public/v1/instruments/:id?"))
    }

    @Test func listsAndGetsInstruments() async throws {
        let simulator = T.simulator(clock: clock)
        for target in ["/public/v1/instruments", "/public/v1/instruments/"] {
            let list = try await T.send(simulator, "GET", target, bearer: T.publicToken)
            #expect(list.status == 200)
            let ids = try #require(list.data?.arrayValue).compactMap { $0["id"]?.stringValue }
            #expect(ids.count == 3)
            #expect(ids.allSatisfy { $0.count == 24 && $0.allSatisfy(\.isHexDigit) })
        }
        let one = try await T.send(simulator, "GET", "/public/v1/instruments/\(shaker)", bearer: T.publicToken)
        #expect(one.data?["type"] == "shaker")
        #expect(one.data?["status"] == "idle")
        let unknown = try await T.send(
            simulator, "GET", "/public/v1/instruments/000000000000000000000000", bearer: T.publicToken)
        #expect(unknown.status == 404)
        #expect(try await T.send(simulator, "GET", "/public/v2/nothing", bearer: T.publicToken).status == 404)
        #expect(try await T.send(simulator, "PUT", "/public/v1/instruments", bearer: T.publicToken).status == 405)
    }

    @Test func deletingAnInstrumentIsIdempotent() async throws {
        let simulator = T.simulator(clock: clock)
        let path = "/public/v1/instruments/\(shaker)"
        let first = try await T.send(simulator, "DELETE", path, bearer: T.publicToken)
        #expect(first.status == 200)
        #expect(first.data?["deleted"] == true)
        let second = try await T.send(simulator, "DELETE", path, bearer: T.publicToken)
        #expect(second.status == 200)
        #expect(try await T.send(simulator, "GET", path, bearer: T.publicToken).status == 404)
        simulator.resetLab()
        #expect(try await T.send(simulator, "GET", path, bearer: T.publicToken).status == 200)
    }

    @Test func actionsCarryTheirParameterSchemas() async throws {
        let simulator = T.simulator(clock: clock)
        let base = "/public/v1/instruments/\(shaker)/actions"
        let action = try await T.send(simulator, "GET", "\(base)/set_timed_shake", bearer: T.publicToken)
        #expect(action.data?["action"] == "set_timed_shake")
        let parameters = try #require(action.data?["parameters"]?.arrayValue)
        #expect(parameters.map { $0["id"] } == ["gokzgzjt", "lkwkkevp"])
        #expect(parameters.map { $0["type"] } == ["time", "number"])
        #expect(parameters[1]["min"] == 0)
        let all = try await T.send(simulator, "GET", base, bearer: T.publicToken)
        #expect(all.data?.arrayValue?.count == 3)
        #expect(try await T.send(simulator, "GET", "\(base)/fly", bearer: T.publicToken).status == 404)
        let handler = "/public/v1/instruments/645804b187f19b42eb065095/actions/Execute%20Commands"
        let spaced = try await T.send(simulator, "GET", handler, bearer: T.publicToken)
        #expect(spaced.data?["parameters"]?[0]?["type"] == "file")
    }

    @Test func revokingForgetsEveryPrivateToken() async throws {
        let simulator = T.simulator(clock: clock)
        let jwt = try await T.login(simulator)
        let revoke = try await T.send(simulator, "POST", "/_sandbox/tokens/revoke")
        #expect(revoke.json?["revoked"] == 1)
        #expect(try await T.send(simulator, "GET", "/catalog/library", bearer: jwt).status == 401)
    }

    @Test func tokenExchangeFailuresAreInjectedAndCounted() async throws {
        let simulator = T.simulator(clock: clock)
        simulator.faults.failTokenExchanges(status: 503, count: 2, retryAfter: "1")
        let body = #"{"jwt": "\#(T.publicToken)"}"#
        for _ in 0..<2 {
            let failed = try await T.send(simulator, "POST", "/authn/login", body: body)
            #expect(failed.status == 503)
            #expect(failed.headers["Retry-After"] == "1")
        }
        #expect(try await T.send(simulator, "POST", "/authn/login", body: body).status == 200)
        let stats = try await T.send(simulator, "GET", "/_sandbox/stats")
        #expect(stats.json?["counters"]?["genie.logins"] == 1)
        #expect(stats.json?["counters"]?["genie.login_failures"] == 2)
        #expect(stats.json?["requests"]?["/authn/login"] == 3)
    }
}
