/// The client keys a gateway accepts: the parsed keys file (`clients.keys_file`), one entry per client.
///
/// Only a hash of each key is kept (`sha256:<hex>`). A plain, unsalted SHA-256 is enough here because the keys are
/// not passwords: `labgate keys add` makes them from 256 random bits, so there is no dictionary to try and nothing
/// for a salt or a slow hash to protect; a stolen keys file gives no key back (SHA-256 preimage resistance). A fast
/// hash also keeps the check cheap on every request. Keys are compared in constant time (see `match`).
public struct ClientKeys: Sendable, Equatable {
    /// One client: a name for the logs, the hash of its key, and what it may do.
    public struct Entry: Sendable, Equatable {
        /// Who holds the key, as the access log names them (`[A-Za-z0-9._@-]`, 1-64 characters).
        public var name: String
        /// SHA-256 of the key's UTF-8 bytes, 32 bytes.
        public var keyHash: [UInt8]
        /// What the key allows, sorted, without duplicates.
        public var scopes: [ClientScope]

        public init(name: String, keyHash: [UInt8], scopes: [ClientScope]) {
            self.name = name
            self.keyHash = keyHash
            self.scopes = Array(Set(scopes)).sorted()
        }

        /// Whether one of the key's scopes grants `needed` (`labric:admin` grants `labric:read`, ...).
        public func allows(_ needed: ClientScope) -> Bool {
            scopes.contains { $0.grants(needed) }
        }

        /// Whether the key has any scope on `upstream`.
        public func reaches(_ upstream: Route.Upstream) -> Bool {
            scopes.contains { $0.upstream == upstream }
        }
    }

    public private(set) var entries: [Entry]

    /// No keys: with client keys on, every request is refused.
    public static let empty = ClientKeys(checked: [])

    /// - Throws: `ClientKeysError` when two entries share a name or a key, or a name is not allowed.
    public init(_ entries: [Entry]) throws(ClientKeysError) {
        var problems: [String] = []
        var names: Set<String> = []
        var hashes: Set<[UInt8]> = []
        for (index, entry) in entries.enumerated() {
            let label = "entry \(index + 1)"
            if let problem = Self.problem(withName: entry.name) { problems.append("\(label): \(problem)") }
            if !names.insert(entry.name).inserted { problems.append("\(label): the name \(entry.name) is used twice.") }
            if entry.keyHash.count != 32 { problems.append("\(label) (\(entry.name)): the key hash is not 32 bytes.") }
            if !hashes.insert(entry.keyHash).inserted {
                problems.append("\(label) (\(entry.name)): the same key is listed twice.")
            }
        }
        guard problems.isEmpty else { throw ClientKeysError(problems: problems) }
        self.entries = entries
    }

    private init(checked entries: [Entry]) {
        self.entries = entries
    }

    /// Why `name` cannot name a client, or nil when it can: names go into log lines, so they are short and plain.
    public static func problem(withName name: String) -> String? {
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._@-".unicodeScalars.contains($0))
        }
        guard !name.isEmpty, name.count <= 64, allowed else {
            return "the name \"\(name.prefix(64))\" is not 1-64 characters of letters, digits, '.', '_', '@' and '-'."
        }
        return nil
    }

    /// A copy with one more entry.
    /// - Throws: `ClientKeysError` when the name or the key is already there.
    public func adding(_ entry: Entry) throws(ClientKeysError) -> ClientKeys {
        if entries.contains(where: { $0.name == entry.name }) {
            throw ClientKeysError("A client named \(entry.name) already exists; choose another name.")
        }
        return try ClientKeys(entries + [entry])
    }

    // MARK: Matching a presented key

    /// The longest bearer value looked at; anything longer is not a key (and is not hashed).
    static let maximumKeyLength = 512

    /// The entry whose key is `presented`, or nil.
    ///
    /// The presented key is hashed and compared with every entry's hash, each comparison touching every byte and
    /// none stopping early, so the time taken says nothing about which entry (if any) matched or how much of it.
    public func match(_ presented: some StringProtocol) -> Entry? {
        guard !presented.isEmpty, presented.utf8.count <= Self.maximumKeyLength else { return nil }
        let hash = Self.hash(presented)
        var found: Int?
        for index in entries.indices {
            let equal = Self.constantTimeEqual(hash, entries[index].keyHash)
            // Keep going after a match: the loop's length must not depend on where the key is.
            if equal, found == nil { found = index }
        }
        return found.map { entries[$0] }
    }

    /// SHA-256 of a key's UTF-8 bytes.
    public static func hash(_ key: some StringProtocol) -> [UInt8] {
        SHA256.hash(Array(key.utf8))
    }

    /// Whether two byte arrays are equal, in time that depends only on their lengths: every byte is compared and the
    /// differences are OR-ed together, with no early exit.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    // MARK: Making keys

    /// What every key made by labgate starts with, so a key is recognisable in a file or a secret scanner.
    public static let keyPrefix = "lgk_"

    /// A new key: `lgk_` and 256 random bits as 43 base64url characters.
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return generateKey(using: &generator)
    }

    /// A new key from `generator` (tests pass a seeded one; labgate uses `SystemRandomNumberGenerator`, which
    /// reads the kernel's CSPRNG).
    public static func generateKey(using generator: inout some RandomNumberGenerator) -> String {
        var bytes: [UInt8] = []
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            for shift in stride(from: 0, to: 64, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return keyPrefix + base64URL(bytes)
    }

    /// Base64url without padding (RFC 4648 §5).
    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var text = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << UInt32(16 - 8 * offset) }
            for position in 0...chunk.count { text.append(alphabet[Int((value >> UInt32(18 - 6 * position)) & 63)]) }
            index += 3
        }
        return text
    }
}

/// Why a keys file, or an entry for it, cannot be used: every problem found, never a key.
public struct ClientKeysError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public init(_ problem: String) {
        self.problems = [problem]
    }

    public var description: String { problems.joined(separator: " ") }
}
