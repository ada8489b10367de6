import Foundation
import Logging
import MicroHTTPServer
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes one JSON object per line: what log collectors (Docker, Kubernetes) expect.
/// Metadata values are written as strings; nothing here ever formats a secret, since none is ever logged.
public struct JSONLogHandler: LogHandler {
    /// Where lines go: a file descriptor shared by every handler made for it.
    public final class Sink: Sendable {
        let fd: Int32
        private let lock = Mutex(())

        public static let stdout = Sink(fd: 1)
        public static let stderr = Sink(fd: 2)

        init(fd: Int32) { self.fd = fd }

        /// Appends to `path`, creating it (mode 0640) when missing.
        public static func file(_ path: String) throws -> Sink {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return Sink(fd: fd)
        }

        public func write(_ line: String) {
            var line = line
            line.withUTF8 { bytes in
                lock.withLock { _ in
                    var offset = 0
                    while offset < bytes.count {
                        let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                        if n <= 0 { return }
                        offset += n
                    }
                }
            }
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let sink: Sink

    public init(label: String, sink: Sink) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\(JSONLogHandler.quote(Self.timestamp())),\"level\":\"\(event.level)\""
        line += ",\"logger\":\(Self.quote(label)),\"msg\":\(Self.quote(event.message.description))"
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += ",\(Self.quote(key)):\(Self.quote(value.description))"
        }
        sink.write(line + "}\n")
    }

    static func timestamp() -> String {
        Date().formatted(
            .iso8601.year().month().day().timeZone(separator: .omitted).time(includingFractionalSeconds: true))
    }

    static func quote(_ text: String) -> String { JSONText.quote(text) }
}
