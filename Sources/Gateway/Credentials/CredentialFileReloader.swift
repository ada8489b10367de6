import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the vendor credentials read from files (`GENIE_API_TOKEN_FILE`, `LABRIC_API_KEY_FILE`) in step with those
/// files, and watches the TLS files: each file's device, inode, size and modification time are polled every second,
/// and SIGHUP re-reads them all (through `GatewayService.reload`).
///
/// A credential is swapped whole in its `SecretValue`, which every request reads, so a request uses either the old
/// or the new value, never a mix. A file that is missing, unreadable, empty or unusable keeps the value in use and
/// the reason is logged (the path and the problem, never the value). A changed Genie public token calls the entry's
/// `onChange`, which drops the private token so the next request exchanges the new one.
///
/// libmicrohttpd reads the TLS certificate and key only when the listener starts; a changed, valid pair is checked
/// and logged as waiting for a restart (see docs/DECISIONS.md), a broken one is logged as an error.
public final class CredentialFileReloader: Service, Sendable {
    /// One credential file and the value it feeds.
    public struct Credential: Sendable {
        /// The setting that names the file, e.g. `GENIE_API_TOKEN_FILE` (for the log).
        public var name: String
        public var path: String
        /// The value requests read.
        public var secret: SecretValue
        /// Called after the value changed (not when the file was rewritten with the same value).
        public var onChange: @Sendable () -> Void

        public init(name: String, path: String, secret: SecretValue, onChange: @escaping @Sendable () -> Void = {}) {
            self.name = name
            self.path = path
            self.secret = secret
            self.onChange = onChange
        }
    }

    /// What one reload of one file came to.
    public enum Outcome: Sendable, Equatable {
        /// Read; `changed` tells whether the value differs from the one in use.
        case applied(changed: Bool)
        /// Refused; the value in use stays.
        case rejected
        /// TLS files: valid and different from what the listener serves; they apply at the next start.
        case pendingRestart
    }

    let credentials: [Credential]
    let tls: TLSFiles?
    let logger: Logger
    let pollInterval: Duration
    private let readCredential: @Sendable (_ name: String, _ path: String) throws(GatewayError) -> String
    /// Each watched path's identity when last read (nil: missing); held during a reload, so reloads never overlap.
    private let stamps: Mutex<[String: FileStamp?]>
    private let applied = Atomic(0)

    /// - Parameters:
    ///   - credentials: The credential files to watch.
    ///   - tls: The listener's TLS files, if TLS is on.
    ///   - pollInterval: How often the files' identities are checked.
    ///   - readCredential: Reads and cleans one credential file (tests replace it).
    public init(
        credentials: [Credential],
        tls: TLSFiles? = nil,
        logger: Logger,
        pollInterval: Duration = .seconds(1),
        readCredential: @escaping @Sendable (String, String) throws(GatewayError) -> String = {
            name, path throws(GatewayError) in
            try CredentialSource.file(name: name, path: path).load()
        }
    ) {
        self.credentials = credentials
        self.tls = tls
        self.logger = logger
        self.pollInterval = pollInterval
        self.readCredential = readCredential
        var initial: [String: FileStamp?] = [:]
        for credential in credentials { initial[credential.path] = FileStamp(path: credential.path) }
        if let tls {
            for path in tls.paths { initial[path] = FileStamp(path: path) }
        }
        stamps = Mutex(initial)
    }

    /// Credential values replaced so far (a rewrite with the same value does not count).
    public var changeCount: Int { applied.load(ordering: .relaxed) }

    /// Re-reads every watched file now (SIGHUP).
    /// - Parameter reason: Why, for the log.
    /// - Returns: Each credential's outcome by setting name, and `tls` for the TLS pair.
    @discardableResult
    public func reload(reason: String) -> [String: Outcome] {
        stamps.withLock { stamps in
            var outcomes: [String: Outcome] = [:]
            for credential in credentials {
                stamps[credential.path] = FileStamp(path: credential.path)
                outcomes[credential.name] = apply(credential, reason: reason)
            }
            if let tls {
                for path in tls.paths { stamps[path] = FileStamp(path: path) }
                outcomes["tls"] = tls.check(reason: reason, logger: logger)
            }
            return outcomes
        }
    }

    /// Re-reads the files that changed since they were last read.
    /// - Returns: The outcomes of the files that changed (empty when none did).
    @discardableResult
    public func reloadIfChanged() -> [String: Outcome] {
        stamps.withLock { stamps in
            var outcomes: [String: Outcome] = [:]
            for credential in credentials {
                let current = FileStamp(path: credential.path)
                guard stamps[credential.path] != .some(current) else { continue }
                // Recorded before reading: a write landing after this is seen by the next poll.
                stamps[credential.path] = current
                outcomes[credential.name] = apply(credential, reason: "file changed")
            }
            if let tls {
                let current = tls.paths.map { FileStamp(path: $0) }
                let changed = zip(tls.paths, current).contains { stamps[$0.0] != .some($0.1) }
                if changed {
                    for (path, stamp) in zip(tls.paths, current) { stamps[path] = stamp }
                    outcomes["tls"] = tls.check(reason: "file changed", logger: logger)
                }
            }
            return outcomes
        }
    }

    /// Polls the files until graceful shutdown or cancellation.
    public func run() async {
        await pollUntilShutdown(every: pollInterval) { [self] in _ = reloadIfChanged() }
    }

    private func apply(_ credential: Credential, reason: String) -> Outcome {
        var metadata: Logger.Metadata = [
            "labgate.setting": "\(credential.name)", "labgate.file": "\(credential.path)",
            "labgate.reason": "\(reason)",
        ]
        let value: String
        do {
            value = try readCredential(credential.name, credential.path)
        } catch {
            // GatewayError messages name the setting and path, never the value.
            metadata["labgate.problem"] = "\(error.message)"
            logger.error("credential file rejected; the credential in use stays", metadata: metadata)
            return .rejected
        }
        let changed = credential.secret.replace(with: value)
        metadata["labgate.changed"] = "\(changed)"
        logger.info("credential file reloaded", metadata: metadata)
        if changed {
            applied.add(1, ordering: .relaxed)
            credential.onChange()
        }
        return .applied(changed: changed)
    }
}
