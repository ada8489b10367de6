import MicroHTTPServer

/// `/readyz`: 200 when every configured upstream's credential is usable, else 503 with the reasons; 503 from the
/// first moment of shutdown.
public final class Readiness: Sendable {
    let genieTokens: TokenManager?
    let shuttingDown = ByteCounter()

    public init(genieTokens: TokenManager?) {
        self.genieTokens = genieTokens
    }

    public func beginShutdown() { shuttingDown.add(1) }

    /// Why the gateway is not ready; empty when it is.
    public var reasons: [String] {
        var reasons: [String] = []
        if shuttingDown.value > 0 { reasons.append("labgate is shutting down") }
        switch genieTokens?.status {
        case nil, .ready: break
        case .starting: reasons.append("Genie: no private token obtained yet")
        case .failing(.rejected): reasons.append("Genie: the public token was rejected by the token exchange")
        case .failing(.unavailable): reasons.append("Genie: the token exchange is failing")
        case .stopped: reasons.append("Genie: the token manager has stopped")
        }
        return reasons
    }

    func response(requestID: String) -> HTTPServerResponse {
        let reasons = self.reasons
        if reasons.isEmpty { return .json(#"{"status":"ready"}"#, requestID: requestID) }
        let list = reasons.map(JSONText.quote).joined(separator: ",")
        return .json("{\"status\":\"unready\",\"reasons\":[\(list)]}", status: 503, requestID: requestID)
    }
}
