extension TokenStateMachine {
    /// The numbers behind the token rules; the defaults are DESIGN.md's.
    public struct Policy: Sendable, Equatable {
        /// The lifetime assumed when a token carries no usable `exp`: Genie's documented 5 minutes.
        public var defaultLifetime: Duration
        /// Where in its lifetime a token is refreshed, picked uniformly per token (the jitter).
        ///
        /// About two thirds rather than exactly 60%: the refresh must land well before the unusable margin, and
        /// with a 3 s lifetime 60 s of load must need at most 30 exchanges, i.e. a refresh every 2 s or later.
        public var refreshFraction: ClosedRange<Double>
        /// The background refresh never comes sooner than this after a token arrived, so that an upstream handing
        /// out tokens that are already (nearly) expired cannot drive the loop into a tight exchange loop.
        public var minimumRefreshDelay: Duration
        /// A token is never handed out in the last `min(maximumUnusableMargin, unusableFraction * lifetime)`.
        public var maximumUnusableMargin: Duration
        public var unusableFraction: Double
        /// The delay after the first failed exchange; doubled after each further failure up to `maximumBackoff`.
        public var initialBackoff: Duration
        public var maximumBackoff: Duration
        /// Each backoff is shortened by a random fraction up to this (0.5: between half and all of the nominal delay).
        public var backoffJitter: Double

        public init(
            defaultLifetime: Duration = .seconds(300),
            refreshFraction: ClosedRange<Double> = 0.65...0.75,
            minimumRefreshDelay: Duration = .milliseconds(250),
            maximumUnusableMargin: Duration = .seconds(30),
            unusableFraction: Double = 0.1,
            initialBackoff: Duration = .milliseconds(500),
            maximumBackoff: Duration = .seconds(30),
            backoffJitter: Double = 0.5
        ) {
            precondition(refreshFraction.lowerBound > 0 && refreshFraction.upperBound < 1 - unusableFraction)
            precondition(initialBackoff > .zero && maximumBackoff >= initialBackoff)
            precondition((0...1).contains(backoffJitter))
            self.defaultLifetime = defaultLifetime
            self.refreshFraction = refreshFraction
            self.minimumRefreshDelay = minimumRefreshDelay
            self.maximumUnusableMargin = maximumUnusableMargin
            self.unusableFraction = unusableFraction
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.backoffJitter = backoffJitter
        }
    }
}
