import MicroHTTPServer
import NIOCore
import Synchronization

/// Test-only misbehaviour for a simulator: added latency, forced statuses, failing token exchanges, revoked tokens,
/// connections dropped mid-body, and counters a test can read. A simulator owns one (or shares one) and sends every
/// request through `respond(to:next:)`; tests drive it in process with the methods below or over HTTP under the
/// control prefix (see `FaultInjector+Control.swift` for the endpoints).
///
/// Rules are consumed in the order they were added; a rule with a count applies to that many matching requests.
/// Path prefixes are plain string prefixes of the path the simulator receives (no query).
public final class FaultInjector: Sendable {
    /// Requests whose path starts with this are control requests, never counted or faulted.
    public let controlPrefix: String
    let sleep: @Sendable (Duration) async -> Void
    let state = Mutex(State())

    /// - Parameters:
    ///   - controlPrefix: the reserved path prefix for the control endpoints.
    ///   - sleep: how latency is waited for; tests may replace it.
    public init(
        controlPrefix: String = "/_sandbox",
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) {
        self.controlPrefix = controlPrefix.hasSuffix("/") ? String(controlPrefix.dropLast()) : controlPrefix
        self.sleep = sleep
    }

    // MARK: The pipeline

    /// Answers control requests, applies faults, and otherwise calls `next`: the one call a simulator needs.
    public func respond(
        to request: HTTPServerRequest,
        next: @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse
    ) async throws -> HTTPServerResponse {
        if let control = await handleControl(request) { return control }
        if let faulted = await intercept(request) { return faulted }
        return try await finish(next(request), for: request)
    }

    /// Counts the request, waits any added latency, and answers a forced status when a rule says so; nil means
    /// "serve it normally". Control requests are not counted.
    public func intercept(_ request: HTTPServerRequest) async -> HTTPServerResponse? {
        let path = String(request.path)
        guard !isControl(path) else { return nil }
        let (delay, forced) = state.withLock { state in
            state.count(path)
            return (state.takeLatency(path), state.takeForcedStatus(path, method: request.method))
        }
        if delay > .zero { await sleep(delay) }
        guard let forced else { return nil }
        return Self.failure(
            status: forced.status,
            retryAfter: forced.retryAfter,
            detail: "sandbox fault: forced \(forced.status) for \(request.method) \(path)"
        )
    }

    /// Applies a pending drop rule to a response about to be sent: the body is cut after the rule's byte count and
    /// the stream then throws, so the server aborts the connection mid-body.
    public func finish(_ response: HTTPServerResponse, for request: HTTPServerRequest) async -> HTTPServerResponse {
        let path = String(request.path)
        guard !isControl(path), let afterBytes = state.withLock({ $0.takeDrop(path) }) else { return response }
        // A streamed body is read whole first: ResponseBodyWriter cannot be wrapped from outside MicroHTTPServer,
        // and sandbox bodies are small.
        let full = (try? await response.collectBody()) ?? ByteBuffer()
        let head = full.getSlice(at: full.readerIndex, length: min(afterBytes, full.readableBytes)) ?? ByteBuffer()
        var cut = response
        cut.body = .stream(length: full.readableBytes) { writer in
            try await writer.write(head)
            throw SandboxError(
                .connectionDropped, "sandbox fault: connection dropped after \(head.readableBytes) bytes")
        }
        return cut
    }

    /// For a simulator's token-exchange endpoint: the failure to answer instead of a token, if one is pending.
    public func takeTokenExchangeFailure() -> HTTPServerResponse? {
        guard let failure = state.withLock({ $0.takeExchangeFailure() }) else { return nil }
        return Self.failure(
            status: failure.status,
            retryAfter: failure.retryAfter,
            detail: "sandbox fault: token exchange answers \(failure.status)"
        )
    }

    func isControl(_ path: String) -> Bool {
        path == controlPrefix || path.hasPrefix(controlPrefix + "/")
    }

    /// The error body every injected failure carries: `{"detail": ...}`, which the Labric SDK parses as a typed
    /// error and Genie clients only look at the status of.
    static func failure(status: Int, retryAfter: String?, detail: String) -> HTTPServerResponse {
        var headers: HTTPHeaders = [:]
        if let retryAfter { headers.add("Retry-After", retryAfter) }
        return .json(["detail": .string(detail)], status: status, headers: headers)
    }

    // MARK: Rules, in process

    /// Delays the next `count` matching requests (every one when nil) by `delay`.
    public func addLatency(_ delay: Duration, pathPrefix: String = "/", count: Int? = nil) {
        state.withLock { $0.latencies.append(.init(pathPrefix: pathPrefix, delay: delay, remaining: count)) }
    }

    /// Answers the next `count` matching requests with `status` (and `Retry-After` when given) without serving them.
    public func forceStatus(
        _ status: Int,
        pathPrefix: String = "/",
        method: String? = nil,
        count: Int = 1,
        retryAfter: String? = nil
    ) {
        let rule = ForcedStatus(
            pathPrefix: pathPrefix,
            method: method?.uppercased(),
            status: status,
            remaining: count,
            retryAfter: retryAfter
        )
        state.withLock { $0.forced.append(rule) }
    }

    /// Makes the next `count` token exchanges answer `status` (503 or 401 are the interesting ones).
    public func failTokenExchanges(status: Int = 503, count: Int = 1, retryAfter: String? = nil) {
        state.withLock {
            $0.exchangeFailures.append(.init(status: status, remaining: count, retryAfter: retryAfter))
        }
    }

    /// Cuts the bodies of the next `count` matching responses after `afterBytes` bytes.
    public func dropConnections(afterBytes: Int, pathPrefix: String = "/", count: Int = 1) {
        state.withLock {
            $0.drops.append(.init(pathPrefix: pathPrefix, afterBytes: max(0, afterBytes), remaining: count))
        }
    }

    /// Registers what "revoke every issued token" means for a simulator; the handler returns how many it revoked.
    public func onRevokeTokens(_ handler: @escaping @Sendable () -> Int) {
        state.withLock { $0.revokers.append(handler) }
    }

    /// Revokes every token the registered simulators issued; returns how many were revoked.
    @discardableResult
    public func revokeTokens() -> Int {
        let revokers = state.withLock { $0.revokers }
        // Called outside the lock: a simulator's handler takes its own lock.
        return revokers.reduce(0) { $0 + $1() }
    }

    /// Registers what "accept only this credential from now on" means for a simulator (Genie: the public token,
    /// Labric: the API key), for `POST /_sandbox/credentials/rotate`.
    public func onRotateCredential(_ handler: @escaping @Sendable (String) -> Void) {
        state.withLock { $0.rotators.append(handler) }
    }

    /// Makes the registered simulators accept only `credential`; returns how many simulators rotated.
    @discardableResult
    public func rotateCredential(to credential: String) -> Int {
        let rotators = state.withLock { $0.rotators }
        for rotate in rotators { rotate(credential) }
        return rotators.count
    }

    /// Registers what `POST /_sandbox/reset` restores in a simulator (its seeded data).
    public func onReset(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.resetters.append(handler) }
    }

    /// Removes every fault rule, zeroes the counters and restores the simulators' seeded data.
    public func reset() {
        let resetters = state.withLock { state in
            state.clearFaults()
            state.resetStats()
            return state.resetters
        }
        for resetter in resetters { resetter() }
    }

    /// Removes every pending fault rule (counters and revocation handlers stay).
    public func clearFaults() {
        state.withLock { $0.clearFaults() }
    }

    // MARK: Counters

    /// Adds to a named counter, e.g. `genie.logins`; shown by `stats()` and `GET /_sandbox/stats`.
    public func increment(_ counter: String, by amount: Int = 1) {
        state.withLock { $0.counters[counter, default: 0] += amount }
    }

    /// What was seen since the start or the last reset.
    public func stats() -> Stats {
        state.withLock { Stats(total: $0.total, requests: $0.requests, counters: $0.counters) }
    }

    public func resetStats() {
        state.withLock { $0.resetStats() }
    }

    /// Request and event counts.
    public struct Stats: Sendable, Equatable {
        /// Requests served or faulted, control requests excluded.
        public var total: Int
        /// Requests per path (no query).
        public var requests: [String: Int]
        /// Named counters that simulators increment.
        public var counters: [String: Int]

        public func requests(for path: String) -> Int { requests[path] ?? 0 }
        public func counter(_ name: String) -> Int { counters[name] ?? 0 }

        public var json: JSONValue {
            [
                "total": .number(Double(total)),
                "requests": .object(requests.mapValues { .number(Double($0)) }),
                "counters": .object(counters.mapValues { .number(Double($0)) }),
            ]
        }
    }
}
