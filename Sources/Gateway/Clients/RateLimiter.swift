import Synchronization

/// Per-client rate limits: one `TokenBucket` per client name (or one shared by everyone when client keys are off).
///
/// Only forwarded requests count: probes and labgate's own answers are cheap and never reach a vendor.
public final class RateLimiter: Sendable {
    public let limit: TokenBucket.Limit
    private let now: @Sendable () -> ContinuousClock.Instant
    private let buckets = Mutex<[String: TokenBucket]>([:])

    /// Past this many buckets, full ones (idle clients) are dropped: names come from the keys file, so this only
    /// matters after many reloads with renamed clients.
    static let pruneThreshold = 1024

    /// The bucket of requests without a client (client keys off).
    static let anonymous = "-"

    /// - Parameters:
    ///   - limit: The rate and burst every client gets.
    ///   - now: The clock (tests pass a manual one).
    public init(limit: TokenBucket.Limit, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limit = limit
        self.now = now
    }

    /// Takes one request from `client`'s bucket.
    /// - Throws: `GatewayError(.rateLimited)` (429) with the time until the next request may go as `retryAfter`.
    public func admit(client: String?) throws(GatewayError) {
        let name = client ?? Self.anonymous
        let instant = now()
        let wait: Duration? = buckets.withLock { buckets in
            if buckets.count >= Self.pruneThreshold, buckets[name] == nil {
                buckets = buckets.filter { _, bucket in !bucket.isFull(now: instant) }
            }
            var bucket = buckets[name] ?? TokenBucket(limit: limit, now: instant)
            defer { buckets[name] = bucket }
            return bucket.take(now: instant)
        }
        guard let wait else { return }
        let who = client.map { "The client \($0)" } ?? "This gateway's clients"
        throw GatewayError(
            .rateLimited,
            "\(who) sent more than \(Self.number(limit.rate)) requests a second (burst \(Self.number(limit.burst))).",
            retryAfter: wait
        )
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
