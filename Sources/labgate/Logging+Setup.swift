import ArgumentParser
import Gateway
import Logging

/// Logging for the executable: JSON lines to stderr for labgate's own messages, and the access log where the
/// configuration says (stdout by default), so that the access log can be collected on its own.
enum LogSetup {
    static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label, sink: .stderr)
            handler.logLevel = level
            return handler
        }
    }

    /// The access log's logger: where `logging.access_log` says, and to the rotating audit file
    /// (`logging.access_log_file`) as well when one is set; nil when both are off.
    /// - Throws: `ExitCode.failure` (the reason printed) when a log file cannot be opened.
    static func accessLogger(_ configuration: GatewayConfiguration) throws -> Logger? {
        do {
            return try JSONLogHandler.accessLogger(configuration)
        } catch {
            printToStandardError("labgate: \(error)")
            throw ExitCode.failure
        }
    }
}
