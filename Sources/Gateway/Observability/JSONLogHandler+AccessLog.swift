import Logging

extension JSONLogHandler {
    /// The access log's logger for a configuration: JSON lines where `logging.access_log` says, and also to the
    /// size-rotated audit file `logging.access_log_file` when set (the same line in both). nil when neither is on.
    /// - Throws: the `POSIXError` of opening a file (a missing directory, no permission).
    public static func accessLogger(_ configuration: GatewayConfiguration) throws -> Logger? {
        var sinks: [Sink] = []
        switch configuration.accessLog {
        case .off: break
        case .stdout: sinks.append(.stdout)
        case .stderr: sinks.append(.stderr)
        case .file(let path): sinks.append(try .file(path))
        }
        if let rotation = configuration.accessLogRotation {
            sinks.append(try .rotatingFile(rotation))
        }
        guard !sinks.isEmpty else { return nil }
        return Logger(label: "labgate.access") { label in JSONLogHandler(label: label, sinks: sinks) }
    }
}
