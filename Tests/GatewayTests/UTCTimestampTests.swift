import Foundation
import Testing

@testable import Gateway

@Suite struct UTCTimestampTests {
    @Test(arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 7, "2000-02-29T00:00:00.007Z"),
        (1_709_211_661, 45, "2024-02-29T13:01:01.045Z"),
        (4_102_444_799, 999, "2099-12-31T23:59:59.999Z"),
    ])
    func formatsKnownInstants(seconds: Int64, milliseconds: Int, expected: String) {
        #expect(UTCTimestamp.format(seconds: seconds, milliseconds: milliseconds) == expected)
    }

    /// The hand-written formatter against Foundation's ISO 8601 style (what the log used before) over random instants.
    @Test func agreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<2_000 {
            let seconds = Int64.random(in: 0...4_102_444_799, using: &generator)
            let milliseconds = Int.random(in: 0...999, using: &generator)
            let date = Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000 + 0.0001)
            #expect(UTCTimestamp.format(seconds: seconds, milliseconds: milliseconds) == date.formatted(style))
        }
    }

    @Test func nowIsTheClock() throws {
        let before = Date()
        let text = UTCTimestamp.now()
        let parsed = try #require(
            try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
        #expect(abs(parsed.timeIntervalSince(before)) < 2)
        #expect(text.count == 24 && text.hasSuffix("Z"))
    }
}
