extension FaultInjector {
    struct Latency: Sendable {
        var pathPrefix: String
        var delay: Duration
        /// nil: applies until cleared.
        var remaining: Int?
    }

    struct ForcedStatus: Sendable {
        var pathPrefix: String
        var method: String?
        var status: Int
        var remaining: Int
        var retryAfter: String?
    }

    struct ExchangeFailure: Sendable {
        var status: Int
        var remaining: Int
        var retryAfter: String?
    }

    struct Drop: Sendable {
        var pathPrefix: String
        var afterBytes: Int
        var remaining: Int
    }

    /// Everything behind the injector's lock. Decisions are made here; sleeping and calling revocation handlers
    /// happen after the lock is released.
    struct State: Sendable {
        var latencies: [Latency] = []
        var forced: [ForcedStatus] = []
        var exchangeFailures: [ExchangeFailure] = []
        var drops: [Drop] = []
        var revokers: [@Sendable () -> Int] = []
        var resetters: [@Sendable () -> Void] = []
        var rotators: [@Sendable (String) -> Void] = []
        var total = 0
        var requests: [String: Int] = [:]
        var counters: [String: Int] = [:]

        mutating func count(_ path: String) {
            total += 1
            requests[path, default: 0] += 1
        }

        /// The sum of every matching latency rule, each consuming one use.
        mutating func takeLatency(_ path: String) -> Duration {
            var delay = Duration.zero
            for index in latencies.indices where path.hasPrefix(latencies[index].pathPrefix) {
                delay += latencies[index].delay
                if let remaining = latencies[index].remaining { latencies[index].remaining = remaining - 1 }
            }
            latencies.removeAll { ($0.remaining ?? 1) <= 0 }
            return delay
        }

        mutating func takeForcedStatus(_ path: String, method: String) -> ForcedStatus? {
            let upper = method.uppercased()
            guard
                let index = forced.firstIndex(where: { rule in
                    path.hasPrefix(rule.pathPrefix) && (rule.method == nil || rule.method == upper)
                })
            else { return nil }
            let rule = forced[index]
            forced[index].remaining -= 1
            if forced[index].remaining <= 0 { forced.remove(at: index) }
            return rule
        }

        mutating func takeExchangeFailure() -> ExchangeFailure? {
            guard let first = exchangeFailures.first else { return nil }
            exchangeFailures[0].remaining -= 1
            if exchangeFailures[0].remaining <= 0 { exchangeFailures.removeFirst() }
            return first
        }

        mutating func takeDrop(_ path: String) -> Int? {
            guard let index = drops.firstIndex(where: { path.hasPrefix($0.pathPrefix) }) else { return nil }
            let afterBytes = drops[index].afterBytes
            drops[index].remaining -= 1
            if drops[index].remaining <= 0 { drops.remove(at: index) }
            return afterBytes
        }

        mutating func clearFaults() {
            latencies = []
            forced = []
            exchangeFailures = []
            drops = []
        }

        mutating func resetStats() {
            total = 0
            requests = [:]
            counters = [:]
        }

        /// The pending rules, for `GET /_sandbox/faults`.
        var json: JSONValue {
            [
                "latency": .array(
                    latencies.map {
                        [
                            "pathPrefix": .string($0.pathPrefix),
                            "ms": .number(
                                Double($0.delay.components.seconds) * 1000
                                    + Double($0.delay.components.attoseconds) / 1e15),
                            "remaining": $0.remaining.map { .number(Double($0)) } ?? .null,
                        ]
                    }
                ),
                "status": .array(
                    forced.map {
                        [
                            "pathPrefix": .string($0.pathPrefix), "method": $0.method.map { .string($0) } ?? .null,
                            "status": .number(Double($0.status)), "remaining": .number(Double($0.remaining)),
                            "retryAfter": $0.retryAfter.map { .string($0) } ?? .null,
                        ]
                    }
                ),
                "tokenExchange": .array(
                    exchangeFailures.map {
                        [
                            "status": .number(Double($0.status)), "remaining": .number(Double($0.remaining)),
                            "retryAfter": $0.retryAfter.map { .string($0) } ?? .null,
                        ]
                    }
                ),
                "drop": .array(
                    drops.map {
                        [
                            "pathPrefix": .string($0.pathPrefix), "afterBytes": .number(Double($0.afterBytes)),
                            "remaining": .number(Double($0.remaining)),
                        ]
                    }
                ),
            ]
        }
    }
}
