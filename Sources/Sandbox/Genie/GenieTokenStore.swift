import Foundation
import Synchronization

/// The private tokens the simulator issued, with their expiry. A token is JWT-shaped (header, claims with `iat` and
/// `exp`, signature) so that clients reading `exp` see the lifetime, but only this store decides validity: the
/// signature is random bytes, and revoking forgets every token.
final class GenieTokenStore: Sendable {
    private let issued = Mutex<[String: Date]>([:])

    /// Issues a token valid from `now` for `lifetime` seconds.
    func issue(at now: Date, lifetime: TimeInterval) -> String {
        let expiry = now.addingTimeInterval(lifetime)
        let header: JSONValue = ["alg": "HS256", "typ": "JWT"]
        let claims: JSONValue = [
            "iss": "genie-sandbox",
            "sub": "sandbox-user",
            "scope": "private",
            "iat": .number(now.timeIntervalSince1970.rounded(.down)),
            // Rounded down so that `exp` never promises more than the store keeps.
            "exp": .number(expiry.timeIntervalSince1970.rounded(.down)),
            "jti": .string(Self.randomBase64URL(count: 9)),
        ]
        let token = [
            Self.base64URL(Data(header.jsonText.utf8)), Self.base64URL(Data(claims.jsonText.utf8)),
            Self.randomBase64URL(count: 32),
        ].joined(separator: ".")
        issued.withLock { tokens in
            // Forget expired tokens as new ones come, so memory stays bounded however long the sandbox runs.
            tokens = tokens.filter { $0.value > now }
            tokens[token] = expiry
        }
        return token
    }

    /// Why a bearer token is refused, or nil when it is a live private token.
    func refusal(of token: String, at now: Date) -> String? {
        guard let expiry = issued.withLock({ $0[token] }) else { return "unknown or revoked private token" }
        return now < expiry ? nil : "private token expired"
    }

    /// Forgets every issued token; returns how many were live.
    func revokeAll(at now: Date) -> Int {
        issued.withLock { tokens in
            let live = tokens.values.filter { $0 > now }.count
            tokens = [:]
            return live
        }
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func randomBase64URL(count: Int) -> String {
        base64URL(Data((0..<count).map { _ in UInt8.random(in: .min ... .max) }))
    }
}
