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

    static func accessLogger(_ setting: GatewayConfiguration.AccessLog) throws -> Logger? {
        let sink: JSONLogHandler.Sink
        switch setting {
        case .off: return nil
        case .stdout: sink = .stdout
        case .stderr: sink = .stderr
        case .file(let path): sink = try .file(path)
        }
        return Logger(label: "labgate.access") { label in JSONLogHandler(label: label, sink: sink) }
    }
}
