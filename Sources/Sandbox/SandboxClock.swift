import Foundation
import Synchronization

/// Wall-clock time as the simulators see it. Token expiry and command progress are computed from `now()` when a
/// request reads them, so a test that swaps in a `ManualClock` controls both without sleeping.
public struct SandboxClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ now: @escaping @Sendable () -> Date) {
        self.read = now
    }

    public func now() -> Date { read() }

    /// The real clock.
    public static let system = SandboxClock { Date() }
}

/// A clock that only moves when told to (tests).
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    /// Starts at `start`; the default is a fixed instant so that test output is stable.
    public init(start: Date = Date(timeIntervalSince1970: 1_767_225_600)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }

    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }

    /// This clock as a `SandboxClock` for a simulator.
    public var clock: SandboxClock {
        SandboxClock { [self] in self.now }
    }
}

/// Timestamps as the vendors write them: ISO 8601 UTC with milliseconds, e.g. `2026-01-01T00:00:00.000Z`.
enum Timestamp {
    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
