import Foundation
import Logging
import NIOCore
import Synchronization

/// Keeps every log record as one text line (level, message, metadata, error), so tests can count and scan them.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])

    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { [self] label in Handler(label: label, log: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [String] { lines.withLock { $0 } }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let label: String
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { _, new in new } }
            var line = "\(event.level) \(label) \(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
            if let error = event.error { line += " error=\(String(reflecting: error))" }
            log.append(line)
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes: tests wait for state this way, never with bare sleeps.
func poll(
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(5),
    _ condition: @Sendable () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var description: String { "deadline exceeded: \(what)" }
}

/// Runs `operation`, failing with `DeadlineExceeded` when it takes longer than `timeout` (it is then cancelled).
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded(what: what) }
        return value
    }
}

/// A count several tasks add to.
final class Tally: Sendable {
    private let atomic = Atomic(0)
    func add(_ n: Int = 1) { atomic.add(n, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// A one-shot signal a handler can wait for.
final class Gate: Sendable {
    private enum State {
        case closed([CheckedContinuation<Void, Never>])
        case open
    }

    private let state = Mutex(State.closed([]))

    func open() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard case .closed(let waiters) = state else { return [] }
            state = .open
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { state.withLock { if case .open = $0 { true } else { false } } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                switch state {
                case .open: return true
                case .closed(var waiters):
                    waiters.append(continuation)
                    state = .closed(waiters)
                    return false
                }
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// The value of the Prometheus sample `name{...}` whose labels include every one of `labels` (e.g. `route="labric"`).
func metricValue(_ text: String, _ name: String, _ labels: [String] = []) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        guard labels.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last else { continue }
        return Double(value)
    }
    return nil
}

/// A JSON number from `JSONSerialization` as an Int, however it was spelled (`1` or `1.0`).
func jsonInt(_ value: Any?) -> Int? {
    if let int = value as? Int { return int }
    if let number = value as? NSNumber { return number.intValue }
    if let double = value as? Double { return Int(exactly: double) }
    return nil
}
