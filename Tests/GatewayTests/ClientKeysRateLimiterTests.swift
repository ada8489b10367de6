import Synchronization
import Testing

@testable import Gateway

/// Token buckets driven by a manual clock.
struct ClientKeysRateLimiterTests {
    /// A clock that moves only when told.
    final class ManualClock: Sendable {
        let start = ContinuousClock.now
        private let offset = Mutex(Duration.zero)

        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
        func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
    }

    @Test func aBucketAllowsItsBurstThenRefillsAtTheRate() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(limit: .init(rate: 2, burst: 3), now: start)
        for _ in 0..<3 { #expect(bucket.take(now: start) == nil) }
        #expect(bucket.take(now: start) == .milliseconds(500))
        // Half a second later one token is back, and only one.
        #expect(bucket.take(now: start + .milliseconds(500)) == nil)
        let wait = bucket.take(now: start + .milliseconds(500))
        #expect(wait == .milliseconds(500))
        // A long idle time fills the bucket to its burst, not beyond.
        let later = start + .seconds(60)
        for _ in 0..<3 { #expect(bucket.take(now: later) == nil) }
        #expect(bucket.take(now: later) != nil)
        #expect(bucket.isFull(now: later + .seconds(2)))
    }

    @Test func theBurstDefaultsToTheRateRoundedUp() {
        #expect(TokenBucket.Limit(rate: 2.5).burst == 3)
        #expect(TokenBucket.Limit(rate: 0.1).burst == 1)
        #expect(TokenBucket.Limit(rate: 10, burst: 0).burst == 1)
    }

    @Test func aClockGoingBackwardsChangesNothing() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(limit: .init(rate: 1, burst: 1), now: start)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start - .seconds(10)) != nil)
    }

    @Test func eachClientHasItsOwnBucketAnd429CarriesRetryAfter() {
        let clock = ManualClock()
        let limiter = RateLimiter(limit: .init(rate: 0.5, burst: 2)) { clock.now }
        #expect(throws: Never.self) { try limiter.admit(client: "alice") }
        #expect(throws: Never.self) { try limiter.admit(client: "alice") }
        do {
            try limiter.admit(client: "alice")
            Issue.record("a third request passed")
        } catch {
            #expect(error.code == .rateLimited)
            #expect(error.status == 429)
            #expect(error.retryAfterSeconds == 2)
            #expect(error.message.contains("alice"))
            let response = error.response(requestID: "r1")
            #expect(response.headers["Retry-After"] == "2")
        }
        // bob is not slowed down by alice.
        #expect(throws: Never.self) { try limiter.admit(client: "bob") }
        clock.advance(.seconds(2))
        #expect(throws: Never.self) { try limiter.admit(client: "alice") }
        #expect(throws: GatewayError.self) { try limiter.admit(client: "alice") }
    }

    @Test func requestsWithoutAClientShareOneBucket() {
        let clock = ManualClock()
        let limiter = RateLimiter(limit: .init(rate: 1, burst: 1)) { clock.now }
        #expect(throws: Never.self) { try limiter.admit(client: nil) }
        #expect(throws: GatewayError.self) { try limiter.admit(client: nil) }
        clock.advance(.milliseconds(1500))
        #expect(throws: Never.self) { try limiter.admit(client: nil) }
    }

    @Test func idleBucketsArePrunedPastTheThreshold() {
        let clock = ManualClock()
        let limiter = RateLimiter(limit: .init(rate: 1, burst: 1)) { clock.now }
        for index in 0..<RateLimiter.pruneThreshold { try? limiter.admit(client: "c\(index)") }
        clock.advance(.seconds(5))
        // All earlier buckets are full again: they are dropped, and nobody is limited wrongly.
        #expect(throws: Never.self) { try limiter.admit(client: "newcomer") }
        #expect(throws: Never.self) { try limiter.admit(client: "c0") }
    }
}
