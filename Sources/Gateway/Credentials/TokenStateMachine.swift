/// The decisions of the private-token cache, as a pure state machine: no I/O, no clock of its own, no locks.
///
/// Every input carries `now`; every output is an action for `TokenManager` to carry out (start an exchange, resume
/// waiters, sleep). The rules are DESIGN.md's: one exchange at a time shared by all waiters; refresh in the background
/// at about 60-70% of the lifetime with jitter; never hand out a token in its last 30 s or last 10% of its lifetime,
/// whichever is shorter; capped exponential backoff with jitter after a failed exchange, with "rejected" (the
/// credential is bad) told apart from "unavailable" (the exchange could not be made).
public struct TokenStateMachine {
    public typealias Instant = ContinuousClock.Instant

    /// Identifies one caller waiting for a token.
    public struct WaiterID: Hashable, Sendable {
        public let rawValue: UInt64
        public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    }

    /// Identifies one exchange, so that a result arriving after `credentialChanged` is recognised as stale.
    public struct ExchangeID: Hashable, Sendable {
        let rawValue: UInt64
    }

    /// Why an exchange failed.
    public enum FailureKind: Sendable, Equatable {
        /// The exchange answered 401 or 403: the configured credential is bad.
        case rejected
        /// The exchange could not be made or failed otherwise (network, timeout, 5xx).
        case unavailable
    }

    /// The answer to a caller asking for a token.
    public enum AcquireAction: Sendable, Equatable {
        /// A usable token: send it.
        case useToken(String)
        /// The caller was added to the waiters and an exchange must start now; report its result with this id.
        case startExchange(ExchangeID)
        /// The caller was added to the waiters of the exchange already running.
        case wait
        /// No token now and none is being fetched: the last exchange failed and the next try is after `retryAfter`.
        case fail(FailureKind, retryAfter: Duration)
        /// The manager stopped; no token will come.
        case stopped
    }

    /// What the background loop should do next.
    public enum TickAction: Sendable, Equatable {
        /// Start an exchange now (first token, refresh, or retry after backoff).
        case startExchange(ExchangeID)
        /// Nothing to do until `until` (nil: until something changes, such as an exchange result).
        case sleep(until: Instant?)
    }

    /// What a failed exchange means for its waiters.
    public struct FailureAction: Sendable, Equatable {
        /// Callers to fail now.
        public var waiters: [WaiterID]
        /// When the next exchange will be tried, for `Retry-After`.
        public var retryAfter: Duration
        public var kind: FailureKind
    }

    /// Readiness, as `/readyz` and the metrics report it.
    public enum Status: Sendable, Equatable {
        /// A usable token is held; it expires in `expiresIn`.
        case ready(expiresIn: Duration)
        /// No token yet, and no exchange has failed since the start or the last credential change.
        case starting
        /// No usable token, and the last exchange failed.
        case failing(FailureKind)
        case stopped
    }

    /// A token and the instants its lifetime was cut into when it arrived.
    struct Token: Equatable {
        var value: String
        var refreshAt: Instant
        var unusableAt: Instant
        var expiresAt: Instant
    }

    public let policy: Policy
    private var random: any RandomNumberGenerator
    private(set) var token: Token?
    /// The exchange running now, if any.
    private var inFlight: ExchangeID?
    private var waiters: [WaiterID] = []
    private var failures = 0
    private var lastFailure: FailureKind?
    private var retryAt: Instant?
    private var nextExchange: UInt64 = 0
    private var stopped = false

    /// Creates a machine with no token.
    /// - Parameters:
    ///   - policy: Lifetimes, margins and backoff.
    ///   - random: The source of jitter (inject a fixed one in tests).
    public init(policy: Policy = Policy(), random: some RandomNumberGenerator = SystemRandomNumberGenerator()) {
        self.policy = policy
        self.random = random
    }

    // MARK: - Callers

    /// A caller wants a token.
    public mutating func acquire(_ waiter: WaiterID, now: Instant) -> AcquireAction {
        if stopped { return .stopped }
        if let token, now < token.unusableAt { return .useToken(token.value) }
        token = nil
        if inFlight != nil {
            waiters.append(waiter)
            return .wait
        }
        if let retryAt, now < retryAt { return .fail(lastFailure ?? .unavailable, retryAfter: retryAt - now) }
        waiters.append(waiter)
        return .startExchange(beginExchange())
    }

    /// A waiting caller gave up (its task was cancelled). Returns whether it was still waiting.
    @discardableResult
    public mutating func removeWaiter(_ waiter: WaiterID) -> Bool {
        guard let index = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// An upstream answered 401 to a request that carried `token`. Drops it only if it is still the current token,
    /// so that many requests failing with the same token cause one refresh. Returns whether it was dropped.
    @discardableResult
    public mutating func invalidate(_ token: String) -> Bool {
        guard self.token?.value == token else { return false }
        self.token = nil
        return true
    }

    /// The credential changed (e.g. a new public token was loaded): forget the token, the failures and any running
    /// exchange, which used the old credential. Returns an exchange to start when callers are waiting.
    public mutating func credentialChanged() -> ExchangeID? {
        token = nil
        failures = 0
        lastFailure = nil
        retryAt = nil
        inFlight = nil
        guard !stopped, !waiters.isEmpty else { return nil }
        return beginExchange()
    }

    /// The manager is stopping: returns the waiters to fail; every later `acquire` answers `.stopped`.
    public mutating func stop() -> [WaiterID] {
        stopped = true
        inFlight = nil
        defer { waiters = [] }
        return waiters
    }

    // MARK: - Background loop

    /// The background loop asks what to do: start the first exchange, refresh ahead of expiry, retry after backoff,
    /// or sleep. It keeps a token fresh even without traffic, so that readiness is true and no request waits.
    public mutating func tick(now: Instant) -> TickAction {
        if stopped || inFlight != nil { return .sleep(until: nil) }
        if let retryAt, now < retryAt { return .sleep(until: retryAt) }
        if let token, now < token.refreshAt { return .sleep(until: token.refreshAt) }
        return .startExchange(beginExchange())
    }

    // MARK: - Exchange results

    /// An exchange returned a token. Returns the callers to resume with it (none when the result is stale).
    /// - Parameters:
    ///   - lifetime: From the JWT's claims; nil (or not positive) means the policy's default, 5 minutes.
    public mutating func exchangeSucceeded(
        _ exchange: ExchangeID,
        token value: String,
        lifetime: Duration?,
        now: Instant
    ) -> [WaiterID] {
        guard inFlight == exchange else { return [] }
        inFlight = nil
        failures = 0
        lastFailure = nil
        retryAt = nil
        let lifetime = lifetime.flatMap { $0 > .zero ? $0 : nil } ?? policy.defaultLifetime
        let fraction =
            policy.refreshFraction.lowerBound
            + Double.random(in: 0..<1, using: &random)
            * (policy.refreshFraction.upperBound - policy.refreshFraction.lowerBound)
        let margin = min(policy.maximumUnusableMargin, lifetime * policy.unusableFraction)
        token = Token(
            value: value,
            refreshAt: now + max(lifetime * fraction, policy.minimumRefreshDelay),
            unusableAt: now + lifetime - margin,
            expiresAt: now + lifetime
        )
        defer { waiters = [] }
        return waiters
    }

    /// An exchange failed. Schedules the next try after a capped, jittered exponential backoff and returns the callers
    /// to fail (none when the result is stale).
    public mutating func exchangeFailed(_ exchange: ExchangeID, kind: FailureKind, now: Instant) -> FailureAction {
        guard inFlight == exchange else { return FailureAction(waiters: [], retryAfter: .zero, kind: kind) }
        inFlight = nil
        failures += 1
        lastFailure = kind
        let delay = backoff(afterFailures: failures)
        retryAt = now + delay
        defer { waiters = [] }
        return FailureAction(waiters: waiters, retryAfter: delay, kind: kind)
    }

    // MARK: - Observation

    /// Readiness at `now`.
    public func status(now: Instant) -> Status {
        if stopped { return .stopped }
        if let token, now < token.unusableAt { return .ready(expiresIn: token.expiresAt - now) }
        if let lastFailure { return .failing(lastFailure) }
        return .starting
    }

    /// When the current token expires, if there is one (for `labgate_token_expiry_seconds`).
    public var expiresAt: Instant? { token?.expiresAt }

    /// How many exchanges have failed in a row.
    public var consecutiveFailures: Int { failures }

    /// Whether an exchange is running.
    public var isExchanging: Bool { inFlight != nil }

    /// Whether `exchange` is the one running now (false once a credential change made it stale).
    public func isCurrent(_ exchange: ExchangeID) -> Bool { inFlight == exchange }

    /// How many callers wait for the running exchange.
    public var waiterCount: Int { waiters.count }

    // MARK: - Helpers

    private mutating func beginExchange() -> ExchangeID {
        nextExchange += 1
        let id = ExchangeID(rawValue: nextExchange)
        inFlight = id
        return id
    }

    /// The delay after `failures` failures in a row: the initial delay doubled each time, capped, then jittered
    /// down by up to `backoffJitter` so that many gateways restarted together do not retry in step.
    private mutating func backoff(afterFailures failures: Int) -> Duration {
        let doublings = min(failures - 1, 30)
        let nominal = min(policy.maximumBackoff, policy.initialBackoff * (1 << doublings))
        let jitter = Double.random(in: 0..<1, using: &random) * policy.backoffJitter
        return nominal * (1 - jitter)
    }
}
