#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the configuration's files (the YAML file, `*_FILE` secrets, the keys and TLS files) for the loader.
///
/// Plain POSIX calls so that "does not exist" (nil: the default YAML file is optional) is told apart from "exists
/// but cannot be read" (an error with the system's reason, e.g. "Permission denied").
public enum ConfigurationFileReader {
    /// Files larger than this are refused: no configuration file is that large, and reading `/dev/zero` by
    /// mistake must not hang startup.
    public static let maximumSize = 4 << 20

    /// Why a file could not be read.
    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a file as UTF-8 text.
    /// - Returns: The text, or nil when the file (or a directory on its path) does not exist.
    /// - Throws: `ReadError` when it exists but cannot be read, is a directory, is too large or is not UTF-8.
    public static func text(atPath path: String) throws -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw ReadError(description: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        var status = stat()
        if fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            throw ReadError(description: "it is a directory")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(description: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > maximumSize { throw ReadError(description: "it is larger than \(maximumSize >> 20) MiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReadError(description: "it is not UTF-8 text")
        }
        return text
    }
}
