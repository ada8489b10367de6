import Logging
import ServiceLifecycle
import Synchronization

/// Keeps one upstream's short-lived private token: the effects around `TokenStateMachine`.
///
/// `run()` is the background loop (a `Service`): it performs every exchange, one at a time, so a client that goes away
/// never cancels an exchange other requests wait for. `token()` answers from the cache, or waits for the exchange in
/// progress; it needs `run()` to be running.
public final class TokenManager: Service, Sendable {
    /// Exchanges the long-lived credential for a private token. Throw `TokenExchangeError.rejected` for a 401/403;
    /// any other error counts as "unavailable". Messages must never contain a credential or token.
    public typealias Exchange = @Sendable () async throws -> String

    /// What an exchange came to, for `labgate_token_refreshes_total{result}`.
    public enum ExchangeOutcome: String, Sendable {
        case success
        case rejected
        case unavailable
    }

    public struct Configuration: Sendable {
        /// The upstream's name in messages and logs, e.g. "Genie".
        public var upstreamName: String
        public var policy: TokenStateMachine.Policy
        /// An exchange taking longer than this counts as unavailable.
        public var exchangeTimeout: Duration

        public init(
            upstreamName: String = "Genie",
            policy: TokenStateMachine.Policy = .init(),
            exchangeTimeout: Duration = .seconds(10)
        ) {
            self.upstreamName = upstreamName
            self.policy = policy
            self.exchangeTimeout = exchangeTimeout
        }
    }

    /// A waiting caller's place: registered in the machine before its continuation exists, so that a result or a
    /// cancellation arriving in between is kept rather than lost.
    enum Slot {
        case registered
        case waiting(CheckedContinuation<String, any Error>)
        case finished(Result<String, any Error>)
        case cancelled
    }

    struct State {
        var machine: TokenStateMachine
        var slots: [TokenStateMachine.WaiterID: Slot] = [:]
        var nextWaiter: UInt64 = 0
        /// Exchanges decided by `acquire` or `credentialChanged`, for the loop to perform.
        var pending: [TokenStateMachine.ExchangeID] = []
        var loopWaiter: CheckedContinuation<Void, Never>?
        var wakeRequested = false
        /// The failure last logged, so that a rejected credential is logged once, not on every retry.
        var loggedFailure: TokenStateMachine.FailureKind?
    }

    let configuration: Configuration
    let exchange: Exchange
    let logger: Logger
    let wallClock: @Sendable () -> Double
    let onExchange: @Sendable (ExchangeOutcome) -> Void
    let state: Mutex<State>

    /// Creates a manager; nothing happens until `run()` starts.
    /// - Parameters:
    ///   - configuration: Names, policy and exchange timeout.
    ///   - logger: Where exchange failures are reported (never with a secret).
    ///   - random: The jitter source.
    ///   - wallClock: Seconds since 1970, for reading the JWT's `exp`.
    ///   - onExchange: Called after every exchange, for metrics.
    ///   - exchange: Performs one exchange.
    public init(
        configuration: Configuration = .init(),
        logger: Logger = Logger(label: "labgate.token"),
        random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        wallClock: @escaping @Sendable () -> Double = JWT.currentTime,
        onExchange: @escaping @Sendable (ExchangeOutcome) -> Void = { _ in },
        exchange: @escaping Exchange
    ) {
        self.configuration = configuration
        self.exchange = exchange
        self.logger = logger
        self.wallClock = wallClock
        self.onExchange = onExchange
        state = Mutex(State(machine: TokenStateMachine(policy: configuration.policy, random: random)))
    }

    // MARK: - Callers

    /// A usable private token: the cached one, or the result of the exchange in progress.
    /// - Throws: `GatewayError` `.credentialUnavailable` (with a `Retry-After`) when the exchange fails or the
    ///   manager stopped; `CancellationError` when the calling task is cancelled while waiting.
    public func token() async throws -> String {
        let now = ContinuousClock.now
        let (waiter, action) = state.withLock { state in
            state.nextWaiter += 1
            let waiter = TokenStateMachine.WaiterID(state.nextWaiter)
            let action = state.machine.acquire(waiter, now: now)
            switch action {
            case .wait: state.slots[waiter] = .registered
            case .startExchange(let id):
                state.slots[waiter] = .registered
                state.pending.append(id)
            case .useToken, .fail, .stopped: break
            }
            return (waiter, action)
        }
        switch action {
        case .useToken(let token): return token
        case .fail(let kind, let retryAfter): throw failure(kind, retryAfter: retryAfter)
        case .stopped: throw stoppedError
        case .startExchange: wakeLoop()
        case .wait: break
        }
        return try await waitForToken(waiter)
    }

    /// An upstream answered 401 to a request that carried `token`: drop it (once, however many requests report it),
    /// so that the next `token()` fetches a fresh one.
    public func invalidate(_ token: String) {
        let dropped = state.withLock { $0.machine.invalidate(token) }
        if dropped {
            logger.info("Upstream refused the private token; fetching a new one", metadata: upstreamMetadata)
            wakeLoop()
        }
    }

    /// The credential behind the exchange changed: drop the token and start over with the new credential.
    public func credentialChanged() {
        state.withLock { state in
            state.loggedFailure = nil
            if let id = state.machine.credentialChanged() { state.pending.append(id) }
        }
        wakeLoop()
    }

    // MARK: - Observation

    /// Readiness for `/readyz`.
    public var status: TokenStateMachine.Status {
        let now = ContinuousClock.now
        return state.withLock { $0.machine.status(now: now) }
    }

    /// Seconds until the current token expires (negative once expired), or nil without a token; for
    /// `labgate_token_expiry_seconds`.
    public var secondsUntilExpiry: Double? {
        let now = ContinuousClock.now
        guard let expiresAt = state.withLock({ $0.machine.expiresAt }) else { return nil }
        let (seconds, attoseconds) = (expiresAt - now).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    // MARK: - Helpers

    var upstreamMetadata: Logger.Metadata { ["labgate.upstream": .string(configuration.upstreamName)] }

    var stoppedError: GatewayError {
        GatewayError(.credentialUnavailable, "labgate is shutting down.", retryAfter: .seconds(1))
    }

    func failure(_ kind: TokenStateMachine.FailureKind, retryAfter: Duration) -> GatewayError {
        let name = configuration.upstreamName
        let message =
            switch kind {
            case .rejected: "\(name) rejected the configured API token; check the credential."
            case .unavailable: "The \(name) token exchange is failing; it is retried with backoff."
            }
        return GatewayError(.credentialUnavailable, message, retryAfter: retryAfter)
    }

    /// Waits for the exchange the caller was registered with, honouring task cancellation.
    private func waitForToken(_ waiter: TokenStateMachine.WaiterID) async throws -> String {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<String, any Error>? = state.withLock { state in
                    switch state.slots[waiter] {
                    case .registered:
                        state.slots[waiter] = .waiting(continuation)
                        return nil
                    case .finished(let result):
                        state.slots[waiter] = nil
                        return result
                    case .cancelled, .waiting, nil:
                        state.slots[waiter] = nil
                        return .failure(CancellationError())
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<String, any Error>? = state.withLock { state in
                switch state.slots[waiter] {
                case .registered:
                    state.machine.removeWaiter(waiter)
                    state.slots[waiter] = .cancelled
                    return nil
                case .waiting(let continuation):
                    state.machine.removeWaiter(waiter)
                    state.slots[waiter] = nil
                    return continuation
                case .finished, .cancelled, nil:
                    return nil
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Hands results to waiters: resumes those already suspended, parks the result for those about to suspend.
    /// Call with the lock held; resume the returned continuations after releasing it.
    static func deliver(
        _ result: Result<String, any Error>,
        to waiters: [TokenStateMachine.WaiterID],
        in state: inout State
    ) -> [CheckedContinuation<String, any Error>] {
        var ready: [CheckedContinuation<String, any Error>] = []
        ready.reserveCapacity(waiters.count)
        for waiter in waiters {
            switch state.slots[waiter] {
            case .waiting(let continuation):
                state.slots[waiter] = nil
                ready.append(continuation)
            case .registered:
                state.slots[waiter] = .finished(result)
            case .finished, .cancelled, nil:
                break
            }
        }
        return ready
    }
}
