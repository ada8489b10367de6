import Testing

@testable import Gateway

/// A random source that always answers the same, so jitter is at one end of its range.
struct FixedRandom: RandomNumberGenerator, Sendable {
    /// 0: jitter at its low end (refresh at the lowest fraction, backoff not shortened); .max: at its high end.
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

@Suite struct TokenStateMachineTests {
    typealias Machine = TokenStateMachine
    let start = ContinuousClock.now

    func waiter(_ n: UInt64) -> Machine.WaiterID { Machine.WaiterID(n) }

    /// A machine holding a token of the given lifetime obtained at `start`.
    func machineWithToken(
        _ value: String = "t1",
        lifetime: Duration = .seconds(100),
        random: UInt64 = 0
    ) throws -> Machine {
        var machine = Machine(random: FixedRandom(value: random))
        guard case .startExchange(let id) = machine.acquire(waiter(0), now: start) else {
            throw MachineTestError.unexpected
        }
        #expect(machine.exchangeSucceeded(id, token: value, lifetime: lifetime, now: start) == [waiter(0)])
        return machine
    }

    enum MachineTestError: Error { case unexpected }

    /// Durations computed with a fraction of a lifetime can be off by a few attoseconds.
    func isClose(_ a: Duration, _ b: Duration) -> Bool { a - b < .microseconds(1) && b - a < .microseconds(1) }

    @Test func singleExchangeForManyWaiters() throws {
        var machine = Machine()
        guard case .startExchange(let id) = machine.acquire(waiter(1), now: start) else {
            Issue.record("the first caller should start the exchange")
            return
        }
        for n in 2...1000 {
            #expect(machine.acquire(waiter(UInt64(n)), now: start) == .wait)
        }
        #expect(machine.waiterCount == 1000)
        #expect(machine.tick(now: start) == .sleep(until: nil))
        let resumed = machine.exchangeSucceeded(id, token: "tok", lifetime: .seconds(300), now: start)
        #expect(resumed == (1...1000).map { waiter(UInt64($0)) })
        #expect(machine.waiterCount == 0)
        #expect(machine.acquire(waiter(1001), now: start) == .useToken("tok"))
    }

    @Test func refreshesBeforeExpiry() throws {
        var low = try machineWithToken(lifetime: .seconds(100), random: 0)
        guard case .sleep(let lowUntil?) = low.tick(now: start) else {
            Issue.record("expected a sleep until the refresh")
            return
        }
        #expect(isClose(lowUntil - start, .seconds(65)))
        var high = try machineWithToken(lifetime: .seconds(100), random: .max)
        guard case .sleep(let until?) = high.tick(now: start) else {
            Issue.record("expected a sleep until the refresh")
            return
        }
        #expect(until > start + .seconds(74) && until <= start + .seconds(75) + .microseconds(1))

        // At the refresh point the loop starts an exchange while callers keep using the current token.
        guard case .startExchange(let id) = low.tick(now: start + .seconds(65)) else {
            Issue.record("expected a refresh")
            return
        }
        #expect(low.acquire(waiter(5), now: start + .seconds(66)) == .useToken("t1"))
        #expect(low.exchangeSucceeded(id, token: "t2", lifetime: .seconds(100), now: start + .seconds(66)).isEmpty)
        #expect(low.acquire(waiter(6), now: start + .seconds(67)) == .useToken("t2"))
    }

    @Test(arguments: [
        (Duration.seconds(10), Duration.seconds(1)),  // 10% is shorter than 30 s
        (.seconds(300), .seconds(30)),  // Genie's 5 minutes: both are 30 s
        (.seconds(3600), .seconds(30)),  // 30 s is shorter than 10%
        (.seconds(3), .milliseconds(300)),  // the tests' short lifetimes
    ])
    func neverServesTokenInItsLastMargin(lifetime: Duration, margin: Duration) throws {
        var machine = try machineWithToken(lifetime: lifetime)
        let unusableAt = start + lifetime - margin
        #expect(machine.acquire(waiter(1), now: unusableAt - .milliseconds(1)) == .useToken("t1"))
        guard case .ready(let expiresIn) = machine.status(now: unusableAt - .milliseconds(1)) else {
            Issue.record("the token should still be usable")
            return
        }
        #expect(isClose(expiresIn, margin + .milliseconds(1)))
        guard case .startExchange = machine.acquire(waiter(2), now: unusableAt + .microseconds(1)) else {
            Issue.record("a token in its last margin must not be served")
            return
        }
        #expect(machine.acquire(waiter(3), now: unusableAt + .milliseconds(1)) == .wait)
    }

    @Test func assumesFiveMinutesWithoutALifetime() throws {
        for lifetime in [nil, Duration.zero, .seconds(-5)] {
            var machine = Machine(random: FixedRandom(value: 0))
            guard case .startExchange(let id) = machine.acquire(waiter(1), now: start) else { return }
            _ = machine.exchangeSucceeded(id, token: "t", lifetime: lifetime, now: start)
            #expect(machine.expiresAt == start + .seconds(300))
            #expect(machine.acquire(waiter(2), now: start + .seconds(269)) == .useToken("t"))
            #expect(machine.acquire(waiter(3), now: start + .seconds(270)) != .useToken("t"))
        }
    }

    /// Issue 3's load test, simulated: a 3 s lifetime, a request every 10 ms for 60 s, exchanges taking 5 ms.
    @Test(arguments: 0..<5)
    func threeSecondTokensNeedAtMostThirtyExchangesPerMinute(run: Int) {
        var machine = Machine()
        var now = start
        var exchanges = 0
        var running: (id: Machine.ExchangeID, doneAt: ContinuousClock.Instant)?
        var waits = 0
        var n: UInt64 = 0
        while now < start + .seconds(60) {
            if let exchange = running, now >= exchange.doneAt {
                _ = machine.exchangeSucceeded(exchange.id, token: "t\(exchanges)", lifetime: .seconds(3), now: now)
                running = nil
            }
            if running == nil, case .startExchange(let id) = machine.tick(now: now) {
                exchanges += 1
                running = (id, now + .milliseconds(5))
            }
            n += 1
            switch machine.acquire(waiter(n), now: now) {
            case .useToken: break
            case .startExchange(let id):
                exchanges += 1
                waits += 1
                running = (id, now + .milliseconds(5))
            case .wait: waits += 1
            case .fail, .stopped: Issue.record("no request may fail")
            }
            now = now + .milliseconds(10)
        }
        #expect(exchanges <= 30)
        #expect(exchanges >= 25)
        // Only the very first request waits; afterwards the background refresh always wins the race.
        #expect(waits <= 1)
    }

    @Test func nearlyExpiredTokensDoNotCauseATightRefreshLoop() throws {
        var machine = try machineWithToken(lifetime: .milliseconds(10))
        #expect(machine.tick(now: start) == .sleep(until: start + .milliseconds(250)))
    }

    @Test func backoffGrowsAndCaps() {
        var machine = Machine(random: FixedRandom(value: 0))
        var now = start
        var delays: [Duration] = []
        for _ in 0..<9 {
            guard case .startExchange(let id) = machine.tick(now: now) else {
                Issue.record("the loop should retry once the backoff is over")
                return
            }
            let action = machine.exchangeFailed(id, kind: .unavailable, now: now)
            delays.append(action.retryAfter)
            #expect(machine.tick(now: now) == .sleep(until: now + action.retryAfter))
            now = now + action.retryAfter
        }
        #expect(delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30].map { Duration.milliseconds(Int($0 * 1000)) })
        #expect(machine.consecutiveFailures == 9)
    }

    @Test func backoffJitterStaysWithinHalfAndAllOfTheNominalDelay() {
        var machine = Machine()
        var now = start
        for failure in 1...12 {
            guard case .startExchange(let id) = machine.tick(now: now) else { return }
            let delay = machine.exchangeFailed(id, kind: .unavailable, now: now).retryAfter
            let nominal = min(Duration.seconds(30), .milliseconds(500) * (1 << (failure - 1)))
            #expect(delay >= nominal / 2 && delay <= nominal)
            now = now + delay
        }
    }

    @Test func callersFailFastDuringBackoffWithRetryAfter() {
        var machine = Machine(random: FixedRandom(value: 0))
        guard case .startExchange(let id) = machine.acquire(waiter(1), now: start) else { return }
        #expect(machine.acquire(waiter(2), now: start) == .wait)
        let failure = machine.exchangeFailed(id, kind: .unavailable, now: start)
        #expect(failure.waiters == [waiter(1), waiter(2)])
        #expect(failure.retryAfter == .milliseconds(500))
        #expect(
            machine.acquire(waiter(3), now: start + .milliseconds(200))
                == .fail(.unavailable, retryAfter: .milliseconds(300)))
        guard case .startExchange = machine.acquire(waiter(4), now: start + .milliseconds(500)) else {
            Issue.record("after the backoff a caller starts the next exchange")
            return
        }
    }

    @Test func rejectedIsToldApartFromUnavailable() {
        var machine = Machine(random: FixedRandom(value: 0))
        #expect(machine.status(now: start) == .starting)
        guard case .startExchange(let first) = machine.tick(now: start) else { return }
        #expect(machine.exchangeFailed(first, kind: .rejected, now: start).kind == .rejected)
        #expect(machine.status(now: start) == .failing(.rejected))
        #expect(machine.acquire(waiter(1), now: start) == .fail(.rejected, retryAfter: .milliseconds(500)))

        let later = start + .seconds(1)
        guard case .startExchange(let second) = machine.tick(now: later) else { return }
        _ = machine.exchangeFailed(second, kind: .unavailable, now: later)
        #expect(machine.status(now: later) == .failing(.unavailable))

        let recovered = later + .seconds(2)
        guard case .startExchange(let third) = machine.tick(now: recovered) else { return }
        _ = machine.exchangeSucceeded(third, token: "t", lifetime: .seconds(60), now: recovered)
        #expect(machine.status(now: recovered) == .ready(expiresIn: .seconds(60)))
        #expect(machine.consecutiveFailures == 0)
    }

    @Test func failedRefreshKeepsServingTheUsableToken() throws {
        var machine = try machineWithToken(lifetime: .seconds(100))
        let refresh = start + .seconds(65)
        guard case .startExchange(let id) = machine.tick(now: refresh) else { return }
        _ = machine.exchangeFailed(id, kind: .unavailable, now: refresh)
        #expect(machine.acquire(waiter(1), now: refresh + .seconds(1)) == .useToken("t1"))
        #expect(machine.status(now: refresh + .seconds(1)) == .ready(expiresIn: .seconds(34)))
        #expect(machine.tick(now: refresh) == .sleep(until: refresh + .milliseconds(500)))
        // Past its unusable point the token is gone; the backoff is over, so the next caller starts an exchange.
        #expect(machine.status(now: start + .seconds(91)) == .failing(.unavailable))
        guard case .startExchange = machine.acquire(waiter(2), now: start + .seconds(91)) else {
            Issue.record("expected a new exchange once the old token is unusable")
            return
        }
    }

    @Test func invalidateIsIdempotent() throws {
        var machine = try machineWithToken()
        let dropped = machine.invalidate("t1")
        let droppedAgain = machine.invalidate("t1")
        #expect(dropped && !droppedAgain)
        #expect(machine.status(now: start) == .starting)
        guard case .startExchange(let id) = machine.acquire(waiter(1), now: start) else { return }
        _ = machine.exchangeSucceeded(id, token: "t2", lifetime: .seconds(100), now: start)
        // A late 401 for the old token must not throw away the new one.
        let late = machine.invalidate("t1")
        #expect(!late)
        #expect(machine.acquire(waiter(2), now: start) == .useToken("t2"))
    }

    @Test func thousandRejectedRequestsCauseOneRefresh() throws {
        var machine = try machineWithToken()
        var exchanges = 0
        for n in 1...1000 {
            machine.invalidate("t1")
            switch machine.acquire(waiter(UInt64(n)), now: start) {
            case .startExchange: exchanges += 1
            case .wait: break
            default: Issue.record("replays should wait for the one refresh")
            }
        }
        #expect(exchanges == 1)
        #expect(machine.waiterCount == 1000)
    }

    @Test func credentialChangedDropsEverything() throws {
        var machine = try machineWithToken()
        #expect(machine.credentialChanged() == nil)
        #expect(machine.status(now: start) == .starting)
        #expect(machine.expiresAt == nil)

        // A failure streak is forgotten too: the new credential is tried at once.
        guard case .startExchange(let failed) = machine.tick(now: start) else { return }
        _ = machine.exchangeFailed(failed, kind: .rejected, now: start)
        _ = machine.credentialChanged()
        #expect(machine.consecutiveFailures == 0)
        guard case .startExchange(let old) = machine.acquire(waiter(1), now: start) else {
            Issue.record("no backoff after a credential change")
            return
        }
        // An exchange made with the old credential is stale once the credential changes.
        let changed = machine.credentialChanged()
        let new = try #require(changed)
        #expect(new != old)
        #expect(machine.exchangeSucceeded(old, token: "old", lifetime: nil, now: start).isEmpty)
        #expect(machine.expiresAt == nil)
        #expect(machine.exchangeFailed(old, kind: .unavailable, now: start).waiters.isEmpty)
        #expect(machine.exchangeSucceeded(new, token: "new", lifetime: nil, now: start) == [waiter(1)])
        #expect(machine.acquire(waiter(2), now: start) == .useToken("new"))
    }

    @Test func cancelledWaitersAreNotResumed() {
        var machine = Machine()
        guard case .startExchange(let id) = machine.acquire(waiter(1), now: start) else { return }
        #expect(machine.acquire(waiter(2), now: start) == .wait)
        let removed = machine.removeWaiter(waiter(2))
        let removedAgain = machine.removeWaiter(waiter(2))
        #expect(removed && !removedAgain)
        #expect(machine.exchangeSucceeded(id, token: "t", lifetime: nil, now: start) == [waiter(1)])
    }

    @Test func stopFailsWaitersAndRefusesNewCallers() {
        var machine = Machine()
        guard case .startExchange(let id) = machine.acquire(waiter(1), now: start) else { return }
        #expect(machine.stop() == [waiter(1)])
        #expect(machine.acquire(waiter(2), now: start) == .stopped)
        #expect(machine.tick(now: start) == .sleep(until: nil))
        #expect(machine.exchangeSucceeded(id, token: "t", lifetime: nil, now: start).isEmpty)
        #expect(machine.status(now: start) == .stopped)
    }
}
