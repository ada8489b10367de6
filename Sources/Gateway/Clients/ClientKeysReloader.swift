import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps the client keys in step with the keys file: loads it at startup, and reloads it when it changes (polled
/// every second) or when asked (SIGHUP, through `GatewayService.reload`). A reload swaps the whole set at once; a
/// file that is missing or invalid keeps the keys in use and logs why.
public final class ClientKeysReloader: Service, Sendable {
    /// The keys file.
    public let path: String
    let authenticator: ClientAuthenticator
    let logger: Logger
    let pollInterval: Duration
    private let readFile: @Sendable (String) throws -> String?
    /// The file's identity when it was last read (nil: missing); held during a reload, so reloads never overlap.
    private let lastSeen = Mutex<FileStamp?>(nil)
    private let reloads = Atomic(0)

    /// - Parameters:
    ///   - path: The keys file.
    ///   - authenticator: Receives the keys.
    ///   - pollInterval: How often the file's modification time, size and inode are checked.
    ///   - readFile: Reads the file (nil when it does not exist).
    public init(
        path: String,
        authenticator: ClientAuthenticator,
        logger: Logger,
        pollInterval: Duration = .seconds(1),
        readFile: @escaping @Sendable (String) throws -> String? = ConfigurationFileReader.text(atPath:)
    ) {
        self.path = path
        self.authenticator = authenticator
        self.logger = logger
        self.pollInterval = pollInterval
        self.readFile = readFile
    }

    /// Successful loads so far (the first one included).
    public var loadCount: Int { reloads.load(ordering: .relaxed) }

    /// Loads the file for startup.
    /// - Throws: `ClientKeysError` naming the file and every problem, for the startup message.
    public func load() throws(ClientKeysError) {
        try lastSeen.withLock { (stamp: inout FileStamp?) throws(ClientKeysError) in
            stamp = FileStamp(path: path)
            let keys = try read()
            authenticator.replace(keys)
            reloads.add(1, ordering: .relaxed)
            logger.info(
                "client keys loaded",
                metadata: ["labgate.keys_file": "\(path)", "labgate.clients": "\(keys.entries.count)"])
        }
    }

    /// Re-reads the file now; an unusable file keeps the keys in use.
    /// - Parameter reason: Why (for the log), e.g. `SIGHUP` or `file changed`.
    /// - Returns: Whether the new keys are in use.
    @discardableResult
    public func reload(reason: String) -> Bool {
        lastSeen.withLock { stamp in
            stamp = FileStamp(path: path)
            return apply(reason: reason)
        }
    }

    /// Reloads when the file changed since it was last read.
    /// - Returns: nil when it did not change, else whether the new keys are in use.
    @discardableResult
    public func reloadIfChanged() -> Bool? {
        lastSeen.withLock { stamp in
            let current = FileStamp(path: path)
            guard current != stamp else { return nil }
            // Recorded before reading: a write landing after this is seen by the next poll.
            stamp = current
            return apply(reason: "file changed")
        }
    }

    /// Polls the file until graceful shutdown or cancellation.
    public func run() async {
        await pollUntilShutdown(every: pollInterval) { [self] in _ = reloadIfChanged() }
    }

    private func apply(reason: String) -> Bool {
        let metadata: Logger.Metadata = ["labgate.keys_file": "\(path)", "labgate.reason": "\(reason)"]
        do {
            let keys = try read()
            let previous = authenticator.current
            authenticator.replace(keys)
            reloads.add(1, ordering: .relaxed)
            var details = metadata
            details["labgate.clients"] = "\(keys.entries.count)"
            details["labgate.changed"] = "\(previous != keys)"
            logger.info("client keys reloaded", metadata: details)
            return true
        } catch {
            var details = metadata
            details["labgate.problem"] = "\(error)"
            logger.error("client keys file rejected; the keys in use stay", metadata: details)
            return false
        }
    }

    private func read() throws(ClientKeysError) -> ClientKeys {
        let text: String
        do {
            guard let contents = try readFile(path) else {
                throw ClientKeysError(problems: ["The client keys file \(path) does not exist."])
            }
            text = contents
        } catch let error as ClientKeysError {
            throw error
        } catch {
            throw ClientKeysError("The client keys file \(path) could not be read: \(error).")
        }
        do {
            return try ClientKeys(yaml: text)
        } catch {
            throw ClientKeysError(problems: ["The client keys file \(path) is invalid:"] + error.problems)
        }
    }
}

/// What identifies a version of a file cheaply: device, inode, size and modification time (an editor's atomic
/// rename changes the inode, an in-place write the time or size). nil-able at the use site: a missing file.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
            modifiedSeconds = Int(info.st_mtimespec.tv_sec)
            modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
        #else
            modifiedSeconds = Int(info.st_mtim.tv_sec)
            modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        #endif
    }
}
