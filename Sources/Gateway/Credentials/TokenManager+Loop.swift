import Logging
import ServiceLifecycle
import Synchronization

/// Raised by an `Exchange` closure when the exchange answered 401 or 403: the credential itself is bad.
public struct TokenExchangeError: Error, Sendable, CustomStringConvertible {
    public var kind: TokenStateMachine.FailureKind
    /// A sentence without secrets, e.g. "Genie /authn/login answered 401".
    public var message: String

    public init(_ kind: TokenStateMachine.FailureKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func rejected(_ message: String) -> TokenExchangeError { TokenExchangeError(.rejected, message) }

    public var description: String { message }
}

extension TokenManager {
    private enum Step {
        case perform(TokenStateMachine.ExchangeID)
        case sleep(until: ContinuousClock.Instant?)
    }

    /// The background loop: fetches the first token, refreshes ahead of expiry, retries after backoff, and performs
    /// the exchanges callers are waiting for. Returns on cancellation or graceful shutdown (a `ServiceGroup` lists
    /// this service before the HTTP server, so it stops after the server has drained); then fails every waiter.
    public func run() async {
        await cancelWhenGracefulShutdown { [self] in
            await loop()
        }
        let continuations = state.withLock { state in
            let waiters = state.machine.stop()
            return Self.deliver(.failure(stoppedError), to: waiters, in: &state)
        }
        for continuation in continuations { continuation.resume(throwing: stoppedError) }
    }

    private func loop() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let step: Step = state.withLock { state in
                // An exchange decided before a credential change is stale: its successor is queued behind it.
                while !state.pending.isEmpty {
                    let id = state.pending.removeFirst()
                    if state.machine.isCurrent(id) { return .perform(id) }
                }
                switch state.machine.tick(now: now) {
                case .startExchange(let id): return .perform(id)
                case .sleep(let until): return .sleep(until: until)
                }
            }
            switch step {
            case .perform(let id): await perform(id)
            case .sleep(let until): await sleep(until: until)
            }
        }
    }

    /// Performs one exchange and feeds its result to the machine.
    private func perform(_ id: TokenStateMachine.ExchangeID) async {
        let outcome: Result<String, TokenExchangeError>
        do {
            let token = try await withTimeout(configuration.exchangeTimeout, exchange)
            // The token goes into an Authorization header: anything but visible ASCII would break or inject into it.
            if token.isEmpty || !token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                outcome = .failure(TokenExchangeError(.unavailable, "the exchange answered an unusable token"))
            } else {
                outcome = .success(token)
            }
        } catch let error as TokenExchangeError {
            outcome = .failure(error)
        } catch {
            if Task.isCancelled { return }  // Stopping: `run` fails the waiters.
            outcome = .failure(TokenExchangeError(.unavailable, String(describing: error)))
        }
        let now = ContinuousClock.now
        switch outcome {
        case .success(let token):
            let lifetime = JWT.lifetime(of: token, now: wallClock())
            let (continuations, recovered) = state.withLock { state in
                let waiters = state.machine.exchangeSucceeded(id, token: token, lifetime: lifetime, now: now)
                let recovered = state.loggedFailure != nil
                state.loggedFailure = nil
                return (Self.deliver(.success(token), to: waiters, in: &state), recovered)
            }
            for continuation in continuations { continuation.resume(returning: token) }
            onExchange(.success)
            if recovered { logger.notice("Token exchange works again", metadata: upstreamMetadata) }
        case .failure(let error):
            let (continuations, action, firstOfKind) = state.withLock { state in
                let action = state.machine.exchangeFailed(id, kind: error.kind, now: now)
                let first = state.loggedFailure != error.kind
                state.loggedFailure = error.kind
                let refusal = self.failure(action.kind, retryAfter: action.retryAfter)
                return (Self.deliver(.failure(refusal), to: action.waiters, in: &state), action, first)
            }
            let refusal = failure(action.kind, retryAfter: action.retryAfter)
            for continuation in continuations { continuation.resume(throwing: refusal) }
            onExchange(error.kind == .rejected ? .rejected : .unavailable)
            log(error, retryAfter: action.retryAfter, first: firstOfKind)
        }
    }

    /// A rejected credential is logged once per streak (retrying will not fix it); an unavailable exchange is logged
    /// at each failure, with the next attempt, because that is what an operator watching an outage wants to see.
    private func log(_ error: TokenExchangeError, retryAfter: Duration, first: Bool) {
        var metadata = upstreamMetadata
        metadata["labgate.reason"] = .string(error.message)
        metadata["labgate.retry_in_seconds"] = .stringConvertible(Double(retryAfter.components.seconds))
        switch error.kind {
        case .rejected where first:
            logger.error(
                "The upstream rejected the configured credential; not ready until it changes", metadata: metadata)
        case .rejected:
            logger.debug("Token exchange still rejected", metadata: metadata)
        case .unavailable:
            logger.warning("Token exchange failed; retrying with backoff", metadata: metadata)
        }
    }

    /// Runs the exchange, giving up after `timeout`.
    private func withTimeout(_ timeout: Duration, _ operation: @escaping Exchange) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let token = first else {
                throw TokenExchangeError(.unavailable, "the exchange timed out")
            }
            return token
        }
    }

    // MARK: - Waking the loop

    /// Wakes the loop if it sleeps, or makes its next sleep return at once.
    func wakeLoop() {
        let continuation = state.withLock { state in
            if let waiter = state.loopWaiter {
                state.loopWaiter = nil
                return Optional(waiter)
            }
            state.wakeRequested = true
            return nil
        }
        continuation?.resume()
    }

    /// Sleeps until `deadline` (nil: indefinitely) or until `wakeLoop()`, whichever comes first.
    private func sleep(until deadline: ContinuousClock.Instant?) async {
        await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            }
            group.addTask { [self] in await waitForWake() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Checked under the lock, so a cancellation either sees the stored continuation or is seen here.
                let resumeNow = state.withLock { state in
                    if state.wakeRequested {
                        state.wakeRequested = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.loopWaiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state in
                defer { state.loopWaiter = nil }
                return state.loopWaiter
            }
            continuation?.resume()
        }
    }
}
