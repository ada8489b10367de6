import Yams

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// The keys file: a YAML list, one mapping per client, as `labgate keys add` writes it:
//
//     - name: "alice"
//       key_hash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//       scopes: ["labric:read", "genie:write"]
//       created: "2025-01-31T09:30:00Z"
//
// `created` is optional and informative. The list may also sit under a single top-level `keys:` key. An empty file
// (or one of comments only) holds no keys.
extension ClientKeys {
    /// The fields an entry may have; anything else is a problem (a misspelt `scope:` must not go unnoticed).
    static let entryFields: Set<String> = ["name", "key_hash", "scopes", "created"]

    /// Parses the keys file's text.
    /// - Throws: `ClientKeysError` listing every problem, each with its line; never a key (the file holds none,
    ///   and the YAML parser's quoting of the offending line is left out in case one was pasted in by mistake).
    public init(yaml text: String) throws(ClientKeysError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            let reason = "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "not YAML"
            throw ClientKeysError("It is not valid YAML: \(reason)")
        }
        // No document, or an empty one (`---` alone, `~`, `null`): no keys.
        guard let root, !(root.scalar != nil && ["", "~", "null"].contains(root.string ?? "")) else {
            self = .empty
            return
        }
        // The list itself, or under a single `keys:` key.
        var listNode = root
        if let mapping = root.mapping, mapping.count == 1, let only = mapping["keys"] {
            if only.scalar != nil, ["", "~", "null"].contains(only.string ?? "") {
                self = .empty
                return
            }
            listNode = only
        }
        guard let list = listNode.sequence else {
            throw ClientKeysError(
                "It must be a YAML list of {name, key_hash, scopes} entries, at the top or under `keys:`"
                    + " (\(Self.line(listNode)) is not a list).")
        }
        var problems: [String] = []
        var entries: [Entry] = []
        for node in list {
            switch Self.entry(node) {
            case .success(let entry): entries.append(entry)
            case .failure(let error): problems += error.problems
            }
        }
        guard problems.isEmpty else { throw ClientKeysError(problems: problems) }
        self = try ClientKeys(entries)
    }

    private static func entry(_ node: Node) -> Result<Entry, ClientKeysError> {
        let at = line(node)
        guard let mapping = node.mapping else {
            return .failure(ClientKeysError("\(at): an entry must be a mapping with name, key_hash and scopes."))
        }
        var problems: [String] = []
        for key in mapping.keys where !entryFields.contains(key.string ?? "") {
            problems.append(
                "\(line(key)): unknown field \"\(key.string?.prefix(40) ?? "?")\" (fields: name, key_hash, scopes, created)."
            )
        }
        let name = mapping["name"]?.string ?? ""
        let label = name.isEmpty ? at : "\(at) (\(name.prefix(64)))"
        if let problem = problem(withName: name) { problems.append("\(label): \(problem)") }

        var hash: [UInt8] = []
        if let text = mapping["key_hash"]?.string {
            if let parsed = parseHash(text) {
                hash = parsed
            } else {
                problems.append("\(label): key_hash must be \"sha256:\" and 64 hex digits.")
            }
        } else {
            problems.append("\(label): key_hash is missing.")
        }

        var scopes: [ClientScope] = []
        if let list = mapping["scopes"]?.sequence {
            for item in list {
                if let text = item.string, let scope = ClientScope(parsing: text) {
                    scopes.append(scope)
                } else {
                    let known = ClientScope.all.map(\.description).joined(separator: ", ")
                    problems.append(
                        "\(label): unknown scope \"\(item.string?.prefix(40) ?? "?")\" (known: \(known)).")
                }
            }
            if list.isEmpty { problems.append("\(label): scopes is empty, so the key could do nothing.") }
        } else {
            problems.append("\(label): scopes must be a list, e.g. [\"labric:read\"].")
        }
        guard problems.isEmpty else { return .failure(ClientKeysError(problems: problems)) }
        return .success(Entry(name: name, keyHash: hash, scopes: scopes))
    }

    /// `sha256:<64 hex digits>` (or the bare digits, as `sha256sum` prints them) → 32 bytes.
    static func parseHash(_ text: String) -> [UInt8]? {
        let digits = text.hasPrefix("sha256:") ? Substring(text.dropFirst(7)) : Substring(text)
        guard digits.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in digits.lowercased().utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    private static func line(_ node: Node) -> String {
        node.mark.map { "line \($0.line)" } ?? "an entry"
    }

    // MARK: Writing

    /// The comment `labgate keys add` puts at the top of a new keys file.
    static let fileHeader = """
        # labgate client keys, written by `labgate keys add NAME --scope UPSTREAM:LEVEL`.
        # Only SHA-256 hashes of the keys are stored here; the keys themselves were shown once, when made.
        # Scopes: genie:read, genie:write, labric:read, labric:write, labric:admin (admin > write > read;
        # read is GET, HEAD and OPTIONS, write is every other method). Remove an entry to revoke its key.

        """

    /// One entry as block YAML, ending in a newline.
    static func yaml(for entry: Entry, created: Date? = nil) -> String {
        let scopes = entry.scopes.map { "\"\($0)\"" }.joined(separator: ", ")
        var text = """
            - name: "\(entry.name)"
              key_hash: "sha256:\(SHA256.hex(entry.keyHash))"
              scopes: [\(scopes)]

            """
        if let created {
            text += "  created: \"\(created.formatted(.iso8601))\"\n"
        }
        return text
    }

    /// The text of the keys file after adding `entry` to `existing` (nil: no file yet): appended, so that comments
    /// and hand edits stay, unless the file is written in flow style (`[...]`), which is then rewritten whole.
    /// - Throws: `ClientKeysError` when the existing text is invalid, or the name or key is already there.
    static func appending(_ entry: Entry, to existing: String?, created: Date? = nil) throws(ClientKeysError)
        -> String
    {
        let current = try ClientKeys(yaml: existing ?? "")
        let updated = try current.adding(entry)
        guard let existing, existing.contains(where: { !$0.isWhitespace }) else {
            return fileHeader + yaml(for: entry, created: created)
        }
        // A block list's first line of content starts with `-` (the text is valid, so nothing else can start it).
        let firstLine = existing.split(whereSeparator: \.isNewline).map { $0.drop(while: \.isWhitespace) }.first {
            !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("---")
        }
        guard firstLine == nil || firstLine?.hasPrefix("-") == true else {
            return fileHeader + updated.entries.map { yaml(for: $0) }.joined()
        }
        let separator = existing.hasSuffix("\n") ? "" : "\n"
        return existing + separator + yaml(for: entry, created: created)
    }
}
