import MicroHTTPServer
import Testing

@testable import Gateway

/// Who may use which route: keys off, missing and unknown keys, scopes, the open probes, login.
struct ClientKeysAuthenticatorTests {
    static let reader = "lgk_reader_0123456789abcdefghijklmnopqrstuvwxyzAB"
    static let writer = "lgk_writer_0123456789abcdefghijklmnopqrstuvwxyzAB"
    static let admin = "lgk_admin_0123456789abcdefghijklmnopqrstuvwxyzABC"

    static func authenticator() throws -> ClientAuthenticator {
        ClientAuthenticator(
            enabled: true,
            keys: try ClientKeys([
                .init(name: "reader", keyHash: ClientKeys.hash(reader), scopes: [.init(.labric, .read)]),
                .init(
                    name: "writer", keyHash: ClientKeys.hash(writer),
                    scopes: [.init(.genie, .write), .init(.labric, .read)]),
                .init(name: "admin", keyHash: ClientKeys.hash(admin), scopes: [.init(.labric, .admin)]),
            ])
        )
    }

    static func bearer(_ key: String) -> HTTPHeaders { ["Authorization": "Bearer \(key)"] }

    static let labric = Route.labric(target: "/api/v1/files")
    static let geniePrivate = Route.geniePrivate(target: "/catalog/library")
    static let geniePublic = Route.geniePublic(target: "/public/v1/instruments")

    static func code(_ body: () throws(GatewayError) -> String?) -> GatewayError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.code
        }
    }

    @Test func keysOffAllowsEverythingWithoutAClient() throws {
        let off = ClientAuthenticator.off
        #expect(try off.authenticate(route: Self.labric, method: "DELETE", headers: [:]) == nil)
        #expect(try off.authenticate(route: Self.labric, method: "GET", headers: Self.bearer("anything")) == nil)
        #expect(try off.authenticateLogin(jwt: "whatever") == nil)
    }

    @Test func probesAndUnknownRoutesStayOpen() throws {
        let keys = try Self.authenticator()
        for route in [Route.healthz, .readyz, .metrics, .noRoute, .genieLogin] {
            #expect(try keys.authenticate(route: route, method: "GET", headers: [:]) == nil)
        }
    }

    @Test func aMissingOrMalformedKeyIs401() throws {
        let keys = try Self.authenticator()
        let headers: [HTTPHeaders] = [
            [:],
            ["Authorization": "Bearer"],
            ["Authorization": "Bearer   "],
            ["Authorization": "Basic \(Self.reader)"],
            ["Authorization": Self.reader],
            ["Authorization": "Bearer \(Self.reader)", "authorization": "Bearer \(Self.reader)"],
        ]
        for header in headers {
            #expect(
                Self.code { () throws(GatewayError) in
                    try keys.authenticate(route: Self.labric, method: "GET", headers: header)
                } == .unauthenticated, "\(header)")
        }
    }

    @Test func anUnknownKeyIs401AndTheMessageDoesNotHoldIt() throws {
        let keys = try Self.authenticator()
        let unknown = ClientKeys.generateKey()
        do {
            _ = try keys.authenticate(route: Self.labric, method: "GET", headers: Self.bearer(unknown))
            Issue.record("accepted")
        } catch {
            #expect(error.code == .unauthenticated)
            #expect(error.status == 401)
            #expect(!error.message.contains(unknown))
        }
    }

    @Test func theSchemeIsCaseInsensitiveAndSpacesAreIgnored() throws {
        let keys = try Self.authenticator()
        for value in ["bearer \(Self.reader)", "BEARER  \(Self.reader) ", "  Bearer \(Self.reader)"] {
            #expect(
                try keys.authenticate(route: Self.labric, method: "GET", headers: ["Authorization": value]) == "reader")
        }
    }

    @Test func aReadKeyReadsButDoesNotWrite() throws {
        let keys = try Self.authenticator()
        for method in ["GET", "HEAD", "OPTIONS"] {
            #expect(
                try keys.authenticate(route: Self.labric, method: method, headers: Self.bearer(Self.reader)) == "reader"
            )
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            do {
                _ = try keys.authenticate(route: Self.labric, method: method, headers: Self.bearer(Self.reader))
                Issue.record("\(method) allowed")
            } catch {
                #expect(error.code == .forbidden)
                #expect(error.message.contains("labric:write"))
            }
        }
    }

    @Test func scopesArePerUpstream() throws {
        let keys = try Self.authenticator()
        // reader has nothing on Genie, public or private.
        for route in [Self.geniePrivate, Self.geniePublic] {
            #expect(
                Self.code { () throws(GatewayError) in
                    try keys.authenticate(route: route, method: "GET", headers: Self.bearer(Self.reader))
                } == .forbidden)
        }
        // writer writes Genie but only reads Labric.
        #expect(
            try keys.authenticate(route: Self.geniePublic, method: "POST", headers: Self.bearer(Self.writer))
                == "writer")
        #expect(
            Self.code { () throws(GatewayError) in
                try keys.authenticate(route: Self.labric, method: "POST", headers: Self.bearer(Self.writer))
            } == .forbidden)
        // admin writes Labric.
        #expect(
            try keys.authenticate(route: Self.labric, method: "DELETE", headers: Self.bearer(Self.admin)) == "admin")
    }

    @Test func loginNeedsAKeyWithAGenieScope() throws {
        let keys = try Self.authenticator()
        #expect(try keys.authenticateLogin(jwt: Self.writer) == "writer")
        #expect(
            Self.code { () throws(GatewayError) in try keys.authenticateLogin(jwt: "eyJhbGciOi.placeholder.") }
                == .unauthenticated)
        #expect(Self.code { () throws(GatewayError) in try keys.authenticateLogin(jwt: "") } == .unauthenticated)
        #expect(Self.code { () throws(GatewayError) in try keys.authenticateLogin(jwt: Self.reader) } == .forbidden)
    }

    @Test func keysOnWithoutKeysRefusesEveryKeyedRoute() {
        let keys = ClientAuthenticator(enabled: true)
        #expect(
            Self.code { () throws(GatewayError) in
                try keys.authenticate(route: Self.labric, method: "GET", headers: Self.bearer(Self.reader))
            } == .unauthenticated)
        #expect(
            Self.code { () throws(GatewayError) in try keys.authenticate(route: .healthz, method: "GET", headers: [:]) }
                == nil)
    }

    @Test func replacingTheKeysTakesEffectAtOnce() throws {
        let keys = try Self.authenticator()
        #expect(try keys.authenticate(route: Self.labric, method: "GET", headers: Self.bearer(Self.reader)) == "reader")
        keys.replace(
            try ClientKeys([.init(name: "new", keyHash: ClientKeys.hash(Self.writer), scopes: [.init(.labric, .read)])])
        )
        #expect(
            Self.code { () throws(GatewayError) in
                try keys.authenticate(route: Self.labric, method: "GET", headers: Self.bearer(Self.reader))
            } == .unauthenticated)
        #expect(try keys.authenticate(route: Self.labric, method: "GET", headers: Self.bearer(Self.writer)) == "new")
    }
}
