import Foundation
import Logging
import MicroHTTPServer
import Synchronization

/// Runs `body` against a live server on 127.0.0.1 and a port from the OS, and always shuts the server down.
func withServer<T>(
    _ configure: (inout HTTPServer.Configuration) -> Void = { _ in },
    responder: @escaping @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let server = HTTPServer(
        configuration: configuration,
        responder: ClosureResponder(responder),
        logger: Logger(label: "test")
    )
    try server.start()
    do {
        let result = try await body(server)
        await server.shutdown(gracePeriod: .seconds(5))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(1))
        throw error
    }
}

/// Polls `condition` until it holds or `timeout` passes; tests wait for state this way, never with bare sleeps.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

enum ProcessStats {
    static func openFileDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// Resident set size in bytes.
    static func residentBytes() -> Int { statusField("VmRSS") }

    /// Peak resident set size since the last `resetPeak()`.
    static func peakResidentBytes() -> Int { statusField("VmHWM") }

    /// Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs).
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    private static func statusField(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? -1
            return kilobytes * 1024
        }
        return -1
    }
}

/// A deterministic byte pattern, so both ends can check a large body without keeping it. Offsets index a 1 MiB
/// pseudo-random block, so filling and checking are memcpy/memcmp (fast even in debug builds).
enum Pattern {
    static let size = 1 << 20
    static let block: [UInt8] = {
        var state: UInt32 = 2_463_534_242
        return (0..<size).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return UInt8(truncatingIfNeeded: state)
        }
    }()

    static func fill(_ buffer: inout [UInt8], from offset: Int) {
        buffer.withUnsafeMutableBytes { target in
            var done = 0
            block.withUnsafeBytes { source in
                while done < target.count {
                    let start = (offset + done) % size
                    let n = min(target.count - done, size - start)
                    (target.baseAddress! + done).copyMemory(from: source.baseAddress! + start, byteCount: n)
                    done += n
                }
            }
        }
    }

    /// True when `bytes` are the pattern's bytes starting at `offset`.
    static func matches(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        block.withUnsafeBytes { source in
            var done = 0
            while done < bytes.count {
                let start = (offset + done) % size
                let n = min(bytes.count - done, size - start)
                if memcmp(bytes.baseAddress! + done, source.baseAddress! + start, n) != 0 { return false }
                done += n
            }
            return true
        }
    }
}

/// A shared count for handlers to report through; a class so that `#expect` can read it.
final class Counter: Sendable {
    private let atomic = Atomic(0)
    func add(_ n: Int) { atomic.add(n, ordering: .relaxed) }
    func store(_ n: Int) { atomic.store(n, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// A shared flag for handlers to report through.
final class Flag: Sendable {
    private let atomic = Atomic(false)
    func set() { atomic.store(true, ordering: .relaxed) }
    var value: Bool { atomic.load(ordering: .relaxed) }
}
