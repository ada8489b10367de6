import Logging
import Synchronization
import Testing

@testable import Gateway

/// Runs `body` with the manager's background loop running, and always stops the loop afterwards.
@discardableResult
func withRunningManager<T: Sendable>(
    _ manager: TokenManager,
    _ body: @Sendable (TokenManager) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await manager.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(manager)
    }
}

/// Polls `condition` until it holds or the deadline passes (tests never sleep to wait for state).
func eventually(
    within timeout: Duration = .seconds(10),
    _ condition: @Sendable () async -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// An exchange double: counts calls and answers from a script.
final class FakeExchange: Sendable {
    let calls = Atomic<Int>(0)
    let delay: Duration
    let answer: @Sendable (Int) throws -> String

    init(delay: Duration = .zero, answer: @escaping @Sendable (Int) throws -> String = { "token-\($0)" }) {
        self.delay = delay
        self.answer = answer
    }

    var count: Int { calls.load(ordering: .relaxed) }

    func callAsFunction() async throws -> String {
        let call = calls.add(1, ordering: .relaxed).newValue
        if delay > .zero { try await Task.sleep(for: delay) }
        return try answer(call)
    }
}

/// Keeps log records so tests can count them.
struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.records.withLock { $0.append((event.level, event.message.description)) }
    }
}

final class LogStore: Sendable {
    let records = Mutex<[(level: Logger.Level, message: String)]>([])
    var logger: Logger {
        let store = self
        return Logger(label: "test") { _ in CapturingLogHandler(store: store) }
    }
    func count(_ level: Logger.Level) -> Int { records.withLock { $0.filter { $0.level == level }.count } }
}

@Suite struct TokenManagerTests {
    /// Short lifetimes and backoffs so the tests run in milliseconds.
    static func configuration(lifetime: Duration = .seconds(300), backoff: Duration = .milliseconds(20))
        -> TokenManager.Configuration
    {
        TokenManager.Configuration(
            upstreamName: "Genie",
            policy: TokenStateMachine.Policy(
                defaultLifetime: lifetime, initialBackoff: backoff, maximumBackoff: backoff * 2),
            exchangeTimeout: .seconds(5)
        )
    }

    @Test func thousandConcurrentCallersShareOneExchange() async throws {
        let exchange = FakeExchange(delay: .milliseconds(100))
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        let tokens = try await withRunningManager(manager) { manager in
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<1000 { group.addTask { try await manager.token() } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
        }
        #expect(tokens.count == 1000)
        #expect(Set(tokens) == ["token-1"])
        #expect(exchange.count == 1)
    }

    @Test func servesTheCachedTokenWithoutAnotherExchange() async throws {
        let exchange = FakeExchange()
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        try await withRunningManager(manager) { manager in
            for _ in 0..<100 {
                let token = try await manager.token()
                #expect(token == "token-1")
            }
        }
        #expect(exchange.count == 1)
    }

    @Test func fetchesATokenBeforeAnyoneAsks() async throws {
        let exchange = FakeExchange()
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        #expect(manager.status == .starting)
        try await withRunningManager(manager) { manager in
            #expect(await eventually { if case .ready = manager.status { true } else { false } })
            let remaining = try #require(manager.secondsUntilExpiry)
            #expect(remaining > 290 && remaining <= 300)
        }
        #expect(exchange.count == 1)
        #expect(manager.status == .stopped)
    }

    @Test func refreshesInTheBackgroundBeforeExpiry() async throws {
        let exchange = FakeExchange()
        let manager = TokenManager(configuration: Self.configuration(lifetime: .milliseconds(300))) {
            try await exchange()
        }
        try await withRunningManager(manager) { manager in
            #expect(await eventually { exchange.count >= 4 })
            // Refreshed at 65-75% of 300 ms, so callers always find a fresh token without waiting.
            let token = try await manager.token()
            #expect(token.hasPrefix("token-"))
            if case .ready(let expiresIn) = manager.status { #expect(expiresIn > .milliseconds(30)) }
        }
    }

    @Test func readsTheLifetimeFromTheJWT() async throws {
        let exchange = FakeExchange { _ in makeJWT(#"{"iat":1000,"exp":1002}"#) }
        let manager = TokenManager(configuration: Self.configuration(), wallClock: { 1000 }) { try await exchange() }
        try await withRunningManager(manager) { manager in
            _ = try await manager.token()
            let remaining = try #require(manager.secondsUntilExpiry)
            #expect(remaining > 1 && remaining <= 2)
        }
    }

    @Test func invalidationByManyRequestsCausesOneRefresh() async throws {
        let exchange = FakeExchange(delay: .milliseconds(20))
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        let replayed = try await withRunningManager(manager) { manager in
            let first = try await manager.token()
            return try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<1000 {
                    group.addTask {
                        manager.invalidate(first)
                        return try await manager.token()
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
        }
        #expect(exchange.count == 2)
        #expect(replayed == ["token-2"])
    }

    @Test func failingExchangeGivesCredentialUnavailableWithRetryAfter() async throws {
        struct Down: Error {}
        let exchange = FakeExchange { _ in throw Down() }
        let manager = TokenManager(configuration: Self.configuration(backoff: .seconds(2))) { try await exchange() }
        try await withRunningManager(manager) { manager in
            await #expect {
                try await manager.token()
            } throws: { error in
                guard let error = error as? GatewayError else { return false }
                return error.code == .credentialUnavailable && (error.retryAfterSeconds ?? 0) >= 1
                    && error.message.contains("failing")
            }
            #expect(manager.status == .failing(.unavailable))
        }
        #expect(exchange.count == 1)
    }

    @Test func rejectedCredentialIsReportedAndLoggedOnce() async throws {
        let logs = LogStore()
        let exchange = FakeExchange { _ in throw TokenExchangeError.rejected("Genie /authn/login answered 401") }
        let manager = TokenManager(configuration: Self.configuration(backoff: .milliseconds(5)), logger: logs.logger) {
            try await exchange()
        }
        try await withRunningManager(manager) { manager in
            #expect(await eventually { exchange.count >= 5 })
            #expect(manager.status == .failing(.rejected))
            await #expect {
                try await manager.token()
            } throws: { error in
                (error as? GatewayError)?.message.contains("rejected") == true
            }
        }
        #expect(logs.count(.error) == 1)
    }

    @Test func recoversOnceTheExchangeWorksAgain() async throws {
        struct Down: Error {}
        let exchange = FakeExchange { call in
            if call < 3 { throw Down() }
            return "token-\(call)"
        }
        let outcomes = Mutex<[TokenManager.ExchangeOutcome]>([])
        let manager = TokenManager(
            configuration: Self.configuration(backoff: .milliseconds(5)),
            onExchange: { outcome in outcomes.withLock { $0.append(outcome) } }
        ) { try await exchange() }
        try await withRunningManager(manager) { manager in
            #expect(await eventually { if case .ready = manager.status { true } else { false } })
            let token = try await manager.token()
            #expect(token == "token-3")
        }
        #expect(outcomes.withLock { $0 } == [.unavailable, .unavailable, .success])
    }

    @Test func timedOutExchangeCountsAsUnavailable() async throws {
        let exchange = FakeExchange(delay: .seconds(30))
        var configuration = Self.configuration(backoff: .seconds(5))
        configuration.exchangeTimeout = .milliseconds(50)
        let manager = TokenManager(configuration: configuration) { try await exchange() }
        try await withRunningManager(manager) { manager in
            await #expect(throws: GatewayError.self) { try await manager.token() }
            #expect(manager.status == .failing(.unavailable))
        }
    }

    @Test func unusableTokensFromTheExchangeAreRefused() async throws {
        let exchange = FakeExchange { _ in "token\r\nX-Injected: 1" }
        let manager = TokenManager(configuration: Self.configuration(backoff: .seconds(5))) { try await exchange() }
        try await withRunningManager(manager) { manager in
            await #expect(throws: GatewayError.self) { try await manager.token() }
        }
    }

    @Test func credentialChangeFetchesANewToken() async throws {
        let exchange = FakeExchange()
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        try await withRunningManager(manager) { manager in
            let first = try await manager.token()
            #expect(first == "token-1")
            manager.credentialChanged()
            #expect(await eventually { exchange.count == 2 })
            let second = try await manager.token()
            #expect(second == "token-2")
        }
    }

    @Test func tokenFetchedWithAnOldCredentialIsNeverHandedOut() async throws {
        let exchange = FakeExchange(delay: .milliseconds(100))
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        try await withRunningManager(manager) { manager in
            let waiter = Task { try await manager.token() }
            #expect(await eventually { exchange.count == 1 })
            manager.credentialChanged()
            let token = try await waiter.value
            #expect(token == "token-2")
        }
        #expect(exchange.count == 2)
    }

    @Test func cancelledCallerDoesNotDisturbOthers() async throws {
        let exchange = FakeExchange(delay: .milliseconds(200))
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        try await withRunningManager(manager) { manager in
            let impatient = Task { try await manager.token() }
            let patient = Task { try await manager.token() }
            impatient.cancel()
            await #expect(throws: CancellationError.self) { try await impatient.value }
            let token = try await patient.value
            #expect(token == "token-1")
        }
        #expect(exchange.count == 1)
    }

    @Test func stoppingFailsWaitersAndLaterCallers() async throws {
        let exchange = FakeExchange(delay: .seconds(30))
        let manager = TokenManager(configuration: Self.configuration()) { try await exchange() }
        let waiter = Task { try await manager.token() }
        let loop = Task { await manager.run() }
        #expect(await eventually { exchange.count == 1 })
        loop.cancel()
        await loop.value
        await #expect(throws: GatewayError.self) { try await waiter.value }
        await #expect(throws: GatewayError.self) { try await manager.token() }
        #expect(manager.status == .stopped)
    }
}
