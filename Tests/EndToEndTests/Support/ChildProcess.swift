import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A subprocess with its stdout and stderr captured as they come (each read on its own thread into memory and into
/// a log file under the test run's artifacts directory). `stop()` always ends it: SIGTERM, then SIGKILL.
final class ChildProcess: Sendable {
    /// How a process ended.
    struct Exit: Equatable, CustomStringConvertible {
        var status: Int32
        var bySignal: Bool

        var description: String { bySignal ? "killed by signal \(status)" : "exit status \(status)" }
        var succeeded: Bool { status == 0 && !bySignal }
    }

    let name: String
    let stdout: OutputCapture
    let stderr: OutputCapture
    private let process: Process

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - name: names the log files (`NAME.stdout`, `NAME.stderr`).
    ///   - environment: the child's whole environment (see `E2EEnvironment.childEnvironment`).
    ///   - directory: the working directory, the artifacts directory when nil.
    init(
        _ executable: String,
        _ arguments: [String],
        name: String,
        environment: [String: String] = E2EEnvironment.childEnvironment(),
        directory: URL? = nil
    ) throws {
        self.name = name
        let base = E2EEnvironment.artifacts.appendingPathComponent(
            "\(name)-\(ChildProcess.sequence.add(1, ordering: .relaxed).newValue)")
        let outPipe = Pipe()
        let errPipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = directory ?? E2EEnvironment.artifacts
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        self.process = process
        stdout = OutputCapture(outPipe.fileHandleForReading, log: base.appendingPathExtension("stdout"))
        stderr = OutputCapture(errPipe.fileHandleForReading, log: base.appendingPathExtension("stderr"))
        // The child has its copies of the write ends; ours must go, or the readers never see end of file.
        try? outPipe.fileHandleForWriting.close()
        try? errPipe.fileHandleForWriting.close()
    }

    private static let sequence = Atomic(0)

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// The exit, once the process ended.
    var exit: Exit? {
        guard !process.isRunning else { return nil }
        return Exit(status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal)
    }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the process to end, and for its output to be read to the end; nil when `timeout` passed first.
    func waitForExit(timeout: Duration) async -> Exit? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let drained = ContinuousClock.now + .seconds(5)
        while !(stdout.isFinished && stderr.isFinished), ContinuousClock.now < drained {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return exit
    }

    /// Polls stdout (or stderr) until `extract` finds what it looks for; nil when the process ended or `timeout`
    /// passed first.
    func waitForOutput<T>(
        onStandardError: Bool = false, timeout: Duration = .seconds(30), _ extract: (String) -> T?
    ) async -> T? {
        let capture = onStandardError ? stderr : stdout
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = extract(capture.text) { return found }
            if !process.isRunning, capture.isFinished { return extract(capture.text) }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return extract(capture.text)
    }

    /// Ends the process, politely first: SIGTERM, up to `grace` to exit, then SIGKILL. Blocks until it has ended, so
    /// that it works from `defer`. Safe to call more than once.
    @discardableResult
    func stop(grace: Duration = .seconds(10)) -> Exit {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + grace
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let drained = ContinuousClock.now + .seconds(5)
        while !(stdout.isFinished && stderr.isFinished), ContinuousClock.now < drained { usleep(5_000) }
        return exit!
    }

    /// Both outputs, for a failure message.
    var diagnostics: String {
        "\(name) stdout (\(stdout.log.path)):\n\(stdout.text.suffix(4000))\n"
            + "\(name) stderr (\(stderr.log.path)):\n\(stderr.text.suffix(4000))"
    }

    /// Runs a command to its end (killed after `timeout`) and returns the finished process.
    static func run(
        _ executable: String,
        _ arguments: [String],
        name: String,
        environment: [String: String] = E2EEnvironment.childEnvironment(),
        directory: URL? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> (ChildProcess, Exit) {
        let child = try ChildProcess(
            executable, arguments, name: name, environment: environment, directory: directory)
        if let exit = await child.waitForExit(timeout: timeout) { return (child, exit) }
        child.stop(grace: .seconds(2))
        throw E2EFailure("\(name) did not finish within \(timeout)\n\(child.diagnostics)")
    }
}

/// One output stream of a child, read on its own thread until end of file: kept in memory for the test and
/// written to a log file for diagnostics.
final class OutputCapture: Sendable {
    let log: URL
    private let bytes = Mutex<[UInt8]>([])
    private let finished = Atomic(false)

    init(_ handle: FileHandle, log: URL) {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try? FileHandle(forWritingTo: log)
        let thread = Thread { [self] in
            let fd = handle.fileDescriptor
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                bytes.withLock { $0.append(contentsOf: chunk[0..<n]) }
                logHandle?.write(Data(chunk[0..<n]))
            }
            try? logHandle?.close()
            try? handle.close()
            finished.store(true, ordering: .releasing)
        }
        thread.start()
    }

    /// Everything read so far, as UTF-8 text.
    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }

    /// True once the stream reached its end.
    var isFinished: Bool { finished.load(ordering: .acquiring) }
}
