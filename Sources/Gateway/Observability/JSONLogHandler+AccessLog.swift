import Foundation
import Logging

extension JSONLogHandler {
    /// The access log's logger for a configuration: JSON lines where `logging.access_log` says, and also to the
    /// size-rotated audit file `logging.access_log_file` when set (the same line in both). nil when neither is on.
    /// - Throws: `ConfigurationError` naming the setting and file when a file cannot be opened (a missing
    ///   directory, no permission).
    public static func accessLogger(_ configuration: GatewayConfiguration) throws(ConfigurationError) -> Logger? {
        var sinks: [Sink] = []
        switch configuration.accessLog {
        case .off: break
        case .stdout: sinks.append(.stdout)
        case .stderr: sinks.append(.stderr)
        case .file(let path):
            sinks.append(try opening(path, for: .accessLog) { try .file(path) })
        }
        if let rotation = configuration.accessLogRotation {
            sinks.append(try opening(rotation.path, for: .accessLogFile) { try .rotatingFile(rotation) })
        }
        guard !sinks.isEmpty else { return nil }
        return Logger(label: "labgate.access") { label in JSONLogHandler(label: label, sinks: sinks) }
    }

    private static func opening(_ path: String, for key: ConfigurationKey, _ open: () throws -> Sink)
        throws(ConfigurationError) -> Sink
    {
        do {
            return try open()
        } catch {
            let reason = (error as? POSIXError).map { String(cString: strerror($0.code.rawValue)) } ?? "\(error)"
            throw ConfigurationError("\(key): the file \(path) cannot be opened for appending: \(reason).")
        }
    }
}
