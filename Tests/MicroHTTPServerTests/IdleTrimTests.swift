import Testing

@testable import MicroHTTPServer

/// The heap is trimmed once per burst, only after `quietSweeps` sweeps with no new request and nothing in flight.
@Suite struct IdleTrimTests {
    /// Feeds `rounds` of (requests, inFlight) and returns the sweeps (0-based) that said to trim.
    func trims(_ rounds: [(Int, Int)], quietSweeps: Int = 4) -> [Int] {
        var trim = IdleTrim(quietSweeps: quietSweeps)
        return rounds.enumerated().compactMap { index, round in
            trim.sweep(requests: round.0, inFlight: round.1) ? index : nil
        }
    }

    @Test func aFreshServerIsNeverTrimmed() {
        #expect(trims(Array(repeating: (0, 0), count: 20)).isEmpty)
    }

    @Test func trimsOnceAfterABurstOnceQuiet() {
        // Requests grow for 3 sweeps, then stay: the 4th quiet sweep trims, and no later one.
        let rounds = [(10, 2), (50, 3), (90, 0)] + Array(repeating: (90, 0), count: 10)
        #expect(trims(rounds) == [6])
    }

    @Test func anExchangeInFlightHoldsTheTrimBack() {
        // A long download: no new request, but one exchange runs; the trim waits until it is over.
        let rounds = [(5, 1)] + Array(repeating: (5, 1), count: 8) + Array(repeating: (5, 0), count: 5)
        #expect(trims(rounds) == [12])
    }

    @Test func eachNewBurstEarnsOneMoreTrim() {
        let quiet = Array(repeating: (7, 0), count: 5)
        let later = Array(repeating: (9, 0), count: 5)
        #expect(trims([(7, 0)] + quiet + [(8, 0), (9, 0)] + later) == [4, 11])
    }

    @Test func aTrickleOfRequestsNeverLooksQuiet() {
        // One request per sweep, for as long as it lasts: never four quiet sweeps in a row.
        #expect(trims((1...30).map { ($0, 0) }).isEmpty)
    }
}
