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
    /// Where lines go: a file descriptor shared by every handler made for it, or a file that rotates by size.
    public final class Sink: Sendable {
        private struct State {
            var fd: Int32
            /// Bytes in the current file (rotating sinks only).
            var size: Int
        }

        /// Size-based rotation: past `maxBytes` the file becomes `path.1`, `path.1` becomes `path.2`, ..., and
        /// `path.<keep>` is deleted.
        public struct Rotation: Sendable, Equatable {
            public var path: String
            public var maxBytes: Int
            /// Rotated files kept beside the current one (0: the current file is truncated instead).
            public var keep: Int

            public init(path: String, maxBytes: Int, keep: Int) {
                self.path = path
                self.maxBytes = max(1, maxBytes)
                self.keep = max(0, keep)
            }

            /// The name of the `index`th rotated file (0: the current one).
            public func file(_ index: Int) -> String { index == 0 ? path : "\(path).\(index)" }
        }

        private let state: Mutex<State>
        let rotation: Rotation?

        public static let stdout = Sink(fd: 1)
        public static let stderr = Sink(fd: 2)

        init(fd: Int32, rotation: Rotation? = nil, size: Int = 0) {
            state = Mutex(State(fd: fd, size: size))
            self.rotation = rotation
        }

        /// Appends to `path`, creating it (mode 0640) when missing.
        public static func file(_ path: String) throws -> Sink {
            Sink(fd: try openAppending(path))
        }

        /// Appends to `rotation.path` (created with mode 0640), rotating it by size.
        public static func rotatingFile(_ rotation: Rotation) throws -> Sink {
            let fd = try openAppending(rotation.path)
            var info = stat()
            let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
            return Sink(fd: fd, rotation: rotation, size: size)
        }

        private static func openAppending(_ path: String) throws -> Int32 {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return fd
        }

        deinit {
            let fd = state.withLock { $0.fd }
            if fd > 2 { close(fd) }
        }

        public func write(_ line: String) {
            var line = line
            line.withUTF8 { bytes in
                state.withLock { state in
                    if let rotation, state.size > 0, state.size + bytes.count > rotation.maxBytes {
                        Self.rotate(rotation, &state)
                    }
                    var offset = 0
                    while offset < bytes.count {
                        let n = Glibc.write(state.fd, bytes.baseAddress! + offset, bytes.count - offset)
                        if n <= 0 { return }
                        offset += n
                        state.size += n
                    }
                }
            }
        }

        /// Shifts the rotated files up by one and starts an empty current file. When the new file cannot be
        /// opened, lines keep going to the old descriptor (whatever its name now is) rather than being lost.
        private static func rotate(_ rotation: Rotation, _ state: inout State) {
            if rotation.keep == 0 {
                if ftruncate(state.fd, 0) == 0 { state.size = 0 }
                return
            }
            unlink(rotation.file(rotation.keep))
            for index in stride(from: rotation.keep - 1, through: 0, by: -1) {
                rename(rotation.file(index), rotation.file(index + 1))
            }
            guard let fd = try? openAppending(rotation.path) else { return }
            close(state.fd)
            state.fd = fd
            state.size = 0
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let sinks: [Sink]

    public init(label: String, sink: Sink) {
        self.init(label: label, sinks: [sink])
    }

    /// A handler writing every line to each of `sinks` (e.g. stdout and a rotating file).
    public init(label: String, sinks: [Sink]) {
        self.label = label
        self.sinks = sinks
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
        line += "}\n"
        for sink in sinks { sink.write(line) }
    }

    static func timestamp() -> String { UTCTimestamp.now() }

    static func quote(_ text: String) -> String { JSONText.quote(text) }
}
