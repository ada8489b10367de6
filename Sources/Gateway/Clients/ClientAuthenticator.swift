import MicroHTTPServer
import Synchronization

/// Decides whether a request may use a route: who the client is (its `Authorization: Bearer <key>`) and whether its
/// key's scopes allow the route's upstream at the level the method needs.
///
/// With client keys off every request is allowed and has no client name. With keys on, the probes (`/healthz`,
/// `/readyz`, `/metrics`) and unknown routes stay open, `POST /genie/authn/login` is checked on its body's `jwt`
/// instead (`authenticateLogin`), and every forwarded route needs a key. The keys can be swapped at any time
/// (`replace`, by `ClientKeysReloader`); a request sees either the old set or the new one, whole.
public final class ClientAuthenticator: Sendable {
    /// Whether client keys are on (a keys file is configured).
    public let isEnabled: Bool
    private let keys: Mutex<ClientKeys>

    /// Keys off: everything is allowed.
    public static var off: ClientAuthenticator { ClientAuthenticator(enabled: false, keys: .empty) }

    /// - Parameters:
    ///   - enabled: Whether requests must present a key.
    ///   - keys: The accepted keys (with `enabled` and no keys, every keyed route is refused).
    public init(enabled: Bool, keys: ClientKeys = .empty) {
        self.isEnabled = enabled
        self.keys = Mutex(keys)
    }

    /// Swaps in a new set of keys, atomically.
    public func replace(_ newKeys: ClientKeys) {
        keys.withLock { $0 = newKeys }
    }

    /// The keys in use now.
    public var current: ClientKeys { keys.withLock { $0 } }

    /// Who sent a request, and whether they may.
    public struct Decision: Sendable, Equatable {
        /// The client's name when its key is known (also when the request is refused for lack of scope, so that
        /// the access log names who tried); nil with keys off, on open routes, and for unknown keys.
        public var client: String?
        /// Why the request is refused (401 or 403), or nil when it may go.
        public var refusal: GatewayError?
    }

    /// Decides on a request to `route`: 401 `unauthenticated` for a missing, malformed or unknown key, 403
    /// `forbidden` when the key lacks the scope; messages never hold the key.
    public func decide(route: Route, method: String, headers: HTTPHeaders) -> Decision {
        guard isEnabled, let upstream = route.upstream else { return Decision() }
        let entry: ClientKeys.Entry
        do {
            entry = try self.entry(presented: Self.bearer(in: headers))
        } catch {
            return Decision(refusal: error)
        }
        let needed = ClientScope(upstream, .required(forMethod: method))
        guard entry.allows(needed) else {
            return Decision(
                client: entry.name,
                refusal: GatewayError(
                    .forbidden, "The client key \(entry.name) does not have the scope \(needed) needed for \(method)."))
        }
        return Decision(client: entry.name)
    }

    /// Decides on `POST /genie/authn/login`, whose body's `jwt` must be a client key with a Genie scope: 401 for an
    /// unknown key, 403 for a key without any Genie scope.
    public func decideLogin(jwt: String) -> Decision {
        guard isEnabled else { return Decision() }
        let entry: ClientKeys.Entry
        do {
            entry = try self.entry(presented: jwt)
        } catch {
            return Decision(refusal: error)
        }
        guard entry.reaches(.genie) else {
            return Decision(
                client: entry.name,
                refusal: GatewayError(.forbidden, "The client key \(entry.name) has no Genie scope."))
        }
        return Decision(client: entry.name)
    }

    /// `decide`, as a throwing call.
    /// - Returns: The client's name, or nil when keys are off or the route needs no key.
    public func authenticate(route: Route, method: String, headers: HTTPHeaders) throws(GatewayError) -> String? {
        let decision = decide(route: route, method: method, headers: headers)
        if let refusal = decision.refusal { throw refusal }
        return decision.client
    }

    /// `decideLogin`, as a throwing call.
    public func authenticateLogin(jwt: String) throws(GatewayError) -> String? {
        let decision = decideLogin(jwt: jwt)
        if let refusal = decision.refusal { throw refusal }
        return decision.client
    }

    private func entry(presented: Substring?) throws(GatewayError) -> ClientKeys.Entry {
        guard let presented, !presented.isEmpty else {
            throw GatewayError(
                .unauthenticated, "This gateway needs a client key: send Authorization: Bearer <key>.")
        }
        // Hash and compare outside the lock: the copy shares the array, so this costs a retain.
        guard let entry = current.match(presented) else {
            throw GatewayError(.unauthenticated, "The client key is not known to this gateway.")
        }
        return entry
    }

    private func entry(presented: String) throws(GatewayError) -> ClientKeys.Entry {
        try entry(presented: Substring(presented))
    }

    /// The key of `Authorization: Bearer <key>` (scheme case-insensitive, surrounding spaces ignored); nil when the
    /// header is missing, sent twice, or of another scheme.
    static func bearer(in headers: HTTPHeaders) -> Substring? {
        let values = headers.values("Authorization")
        guard values.count == 1, let value = values.first else { return nil }
        let trimmed = value.drop(while: { $0 == " " || $0 == "\t" })
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        var key = trimmed.dropFirst(7).drop(while: { $0 == " " || $0 == "\t" })
        while key.last == " " || key.last == "\t" { key.removeLast() }
        return key
    }
}
