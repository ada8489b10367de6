import MicroHTTPServer

/// The control endpoints, reserved under the prefix (default `/_sandbox`). They exist only in the sandbox and need no
/// credential; through the gateway they are reached as `/genie/_sandbox/...` and `/labric/_sandbox/...`.
/// Bodies are JSON; every field but the fault's own number is optional. `Retry-After` may be a number or a string.
///
/// - `GET /_sandbox/stats`: `{"total": n, "requests": {path: n}, "counters": {"genie.logins": n, ...}}`.
/// - `POST /_sandbox/stats/reset`: zeroes the counters.
/// - `GET /_sandbox/faults`: the pending rules. `DELETE /_sandbox/faults`: removes them all.
/// - `POST /_sandbox/faults/latency` `{"ms": 250, "pathPrefix": "/", "count": 3}`: delays matching requests
///   (without a count, until cleared).
/// - `POST /_sandbox/faults/status` `{"status": 503, "pathPrefix": "/", "method": "POST", "count": 2, "retryAfter": 1}`
///   (method optional): the next matching requests get that status (and `Retry-After`) without being served.
/// - `POST /_sandbox/faults/token-exchange` `{"status": 503, "count": 1, "retryAfter": 1}`: the next logins fail.
/// - `POST /_sandbox/faults/drop` `{"afterBytes": 100, "pathPrefix": "/", "count": 1}`: the next matching responses
///   announce their full length, send that many bytes, then the connection is aborted.
/// - `POST /_sandbox/tokens/revoke`: every issued private token stops working; answers `{"revoked": n}`.
/// - `POST /_sandbox/credentials/rotate` `{"credential": "..."}`: the simulator accepts only this credential from now
///   on (Genie: the public token; Labric: the API key, with the scopes the first key had); answers `{"rotated": n}`.
///   Rejections are counted: `genie.login_rejected`, `genie.public_rejected`, `labric.unauthorized`.
/// - `POST /_sandbox/reset`: removes every rule, zeroes the counters, restores the simulators' seeded data.
///
/// Answers are 200 with a JSON body, 400 `{"detail": ...}` for a bad body, 404 for an unknown control path.
extension FaultInjector {
    /// Answers a control request; nil when the request is not under the control prefix.
    public func handleControl(_ request: HTTPServerRequest) async -> HTTPServerResponse? {
        let path = String(request.path)
        guard isControl(path) else { return nil }
        let action = String(path.dropFirst(controlPrefix.count)).split(separator: "/").joined(separator: "/")
        let method = request.method.uppercased()
        switch (method, action) {
        case ("GET", "stats"):
            return .json(stats().json)
        case ("POST", "stats/reset"):
            resetStats()
            return .json(["reset": true])
        case ("GET", "faults"):
            return .json(state.withLock { $0.json })
        case ("DELETE", "faults"):
            clearFaults()
            return .json(["cleared": true])
        case ("POST", "reset"):
            reset()
            return .json(["reset": true])
        case ("POST", "credentials/rotate"):
            guard let buffer = try? await request.body.collect(upTo: 64 * 1024),
                let body = JSONValue(parsing: buffer), let credential = body["credential"]?.stringValue,
                !credential.isEmpty
            else { return Self.badRule("the body must be {\"credential\": \"...\"}") }
            return .json(["rotated": .number(Double(rotateCredential(to: credential)))])
        case ("POST", "tokens/revoke"):
            return .json(["revoked": .number(Double(revokeTokens()))])
        case ("POST", "faults/latency"), ("POST", "faults/status"), ("POST", "faults/token-exchange"),
            ("POST", "faults/drop"):
            return await addRule(action, request)
        default:
            return Self.failure(status: 404, retryAfter: nil, detail: "no sandbox control endpoint \(method) \(path)")
        }
    }

    private func addRule(_ action: String, _ request: HTTPServerRequest) async -> HTTPServerResponse {
        guard let buffer = try? await request.body.collect(upTo: 64 * 1024),
            let body = buffer.readableBytes == 0 ? JSONValue.object([:]) : JSONValue(parsing: buffer),
            case .object = body
        else { return Self.badRule("the body must be a JSON object") }
        let pathPrefix = body["pathPrefix"]?.stringValue ?? "/"
        let retryAfter = body["retryAfter"].flatMap { $0.stringValue ?? $0.intValue.map(String.init) }
        let count = body["count"]?.intValue
        if let count, count < 1 { return Self.badRule("count must be at least 1") }

        switch action {
        case "faults/latency":
            guard let ms = body["ms"]?.doubleValue, ms >= 0 else { return Self.badRule("ms must be a number >= 0") }
            addLatency(.milliseconds(ms), pathPrefix: pathPrefix, count: count)
        case "faults/status":
            guard let status = body["status"]?.intValue, (100...599).contains(status) else {
                return Self.badRule("status must be an HTTP status code")
            }
            let method = body["method"]?.stringValue
            forceStatus(status, pathPrefix: pathPrefix, method: method, count: count ?? 1, retryAfter: retryAfter)
        case "faults/token-exchange":
            let status = body["status"]?.intValue ?? 503
            guard (400...599).contains(status) else { return Self.badRule("status must be 4xx or 5xx") }
            failTokenExchanges(status: status, count: count ?? 1, retryAfter: retryAfter)
        default:
            guard let afterBytes = body["afterBytes"]?.intValue, afterBytes >= 0 else {
                return Self.badRule("afterBytes must be an integer >= 0")
            }
            dropConnections(afterBytes: afterBytes, pathPrefix: pathPrefix, count: count ?? 1)
        }
        return .json(state.withLock { $0.json })
    }

    private static func badRule(_ detail: String) -> HTTPServerResponse {
        failure(status: 400, retryAfter: nil, detail: detail)
    }
}
