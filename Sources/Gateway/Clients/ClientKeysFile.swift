#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Writes the keys file for `labgate keys add`: a new key is made here, only its hash is written, and the file is
/// replaced atomically (a temporary file renamed over it), so a running gateway never reads half an entry.
public enum ClientKeysFile {
    /// Makes a key for a new client and records its hash in the keys file (created, mode 0600, when missing).
    /// - Parameters:
    ///   - name: The client's name, as the access log will show it.
    ///   - scopes: What the key may do; at least one.
    ///   - path: The keys file.
    ///   - generateKey: Makes the key (the default reads the system's CSPRNG).
    /// - Returns: The key, to be shown once; it is not stored anywhere.
    /// - Throws: `ClientKeysError` for a bad or taken name, no scope, an invalid existing file, or a failed write.
    public static func addClient(
        name: String,
        scopes: [ClientScope],
        path: String,
        now: Date = Date(),
        generateKey: () -> String = { ClientKeys.generateKey() }
    ) throws(ClientKeysError) -> String {
        if let problem = ClientKeys.problem(withName: name) {
            throw ClientKeysError("Cannot add the client: \(problem)")
        }
        guard !scopes.isEmpty else {
            throw ClientKeysError("Give the key at least one --scope, e.g. --scope labric:read.")
        }
        let existing: String?
        do {
            existing = try ConfigurationFileReader.text(atPath: path)
        } catch {
            throw ClientKeysError("The keys file \(path) could not be read: \(error).")
        }
        let key = generateKey()
        let entry = ClientKeys.Entry(name: name, keyHash: ClientKeys.hash(key), scopes: scopes)
        let text: String
        do {
            text = try ClientKeys.appending(entry, to: existing, created: now)
        } catch {
            let prefix = existing == nil ? "" : "The keys file \(path): "
            throw ClientKeysError(problems: error.problems.enumerated().map { $0 == 0 ? prefix + $1 : $1 })
        }
        try replaceAtomically(path: path, with: text)
        return key
    }

    /// Writes `text` to a temporary file beside `path` and renames it over `path`. The new file keeps the old one's
    /// permissions, or gets 0600 (owner only) when there was none.
    static func replaceAtomically(path: String, with text: String) throws(ClientKeysError) {
        var existing = stat()
        let mode: mode_t = stat(path, &existing) == 0 ? existing.st_mode & 0o777 : 0o600
        let temporary = "\(path).tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("could not create \(temporary)") }
        var ok = fchmod(descriptor, mode) == 0
        var bytes = Array(text.utf8)[...]
        while ok, !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { ok = false } else { bytes = bytes.dropFirst(written) }
        }
        ok = ok && fsync(descriptor) == 0
        let reason = ok ? nil : String(cString: strerror(errno))
        close(descriptor)
        guard ok, rename(temporary, path) == 0 else {
            let why = reason ?? String(cString: strerror(errno))
            unlink(temporary)
            throw ClientKeysError("The keys file \(path) could not be written: \(why).")
        }
    }

    private static func failure(_ what: String) -> ClientKeysError {
        ClientKeysError("The keys file: \(what): \(String(cString: strerror(errno))).")
    }
}
