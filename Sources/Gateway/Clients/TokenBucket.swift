/// One client's token bucket, as a pure value: no clock of its own, every input carries `now`.
///
/// The bucket holds up to `burst` tokens and refills at `rate` tokens a second; a request takes one token, or is
/// refused with the time until one is back.
public struct TokenBucket: Sendable, Equatable {
    public typealias Instant = ContinuousClock.Instant

    /// How fast and how far a bucket fills.
    public struct Limit: Sendable, Equatable {
        /// Tokens added per second (> 0).
        public var rate: Double
        /// The most tokens a bucket holds: the requests a client may send at once after being idle (>= 1).
        public var burst: Double

        /// - Parameters:
        ///   - rate: Requests per second, sustained.
        ///   - burst: Requests at once; nil: the rate rounded up, at least 1.
        public init(rate: Double, burst: Double? = nil) {
            self.rate = rate
            self.burst = max(1, burst ?? rate.rounded(.up))
        }
    }

    public let limit: Limit
    private(set) var tokens: Double
    private(set) var updated: Instant

    /// A full bucket.
    public init(limit: Limit, now: Instant) {
        self.limit = limit
        self.tokens = limit.burst
        self.updated = now
    }

    /// Takes a token.
    /// - Returns: nil when the request may go, else how long until a token is back (for `Retry-After`).
    public mutating func take(now: Instant) -> Duration? {
        refill(now: now)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return .seconds((1 - tokens) / limit.rate)
    }

    /// Whether the bucket is full at `now` (an idle client: its bucket can be dropped and made again).
    public func isFull(now: Instant) -> Bool {
        tokens(at: now) >= limit.burst
    }

    private mutating func refill(now: Instant) {
        guard now > updated else { return }
        tokens = tokens(at: now)
        updated = now
    }

    /// The tokens the bucket holds at `now` (never more than `burst`; a clock going backwards adds none).
    private func tokens(at now: Instant) -> Double {
        guard now > updated else { return tokens }
        let elapsed = updated.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return min(limit.burst, tokens + seconds * limit.rate)
    }
}
