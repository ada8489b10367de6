/// Lists the dotted keys of a block-style YAML mapping (`listen:` then `  port: 8080` gives `listen` and
/// `listen.port`), so that misspelt keys can be reported.
///
/// swift-configuration only answers lookups of known keys, so it cannot say which keys a file holds. This scanner
/// understands what a configuration file uses: nested block mappings, comments, quoted keys and block scalars
/// (`|`, `>`), whose lines it skips. Flow mappings (`{...}`) and sequences are not descended into; their keys go
/// unchecked rather than misreported.
enum YAMLKeyScanner {
    static func keys(in text: String) -> [String] {
        var keys: [String] = []
        var parents: [(indent: Int, key: String)] = []
        // Lines indented deeper than this belong to a block scalar or a sequence, not to the mapping.
        var skipDeeperThan: Int?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let indent = rawLine.prefix(while: { $0 == " " }).count
            let content = rawLine.dropFirst(indent)
            if content.isEmpty || content.first == "#" || content.allSatisfy(\.isWhitespace) { continue }
            if let limit = skipDeeperThan {
                if indent > limit { continue }
                skipDeeperThan = nil
            }
            if content.hasPrefix("---") || content.hasPrefix("...") { continue }
            if content.hasPrefix("- ") || content == "-" {
                // A sequence item: its own lines (deeper) are not keys of the mapping.
                skipDeeperThan = indent
                continue
            }
            guard let (key, value) = splitKey(content) else { continue }
            while let last = parents.last, last.indent >= indent { parents.removeLast() }
            let path = (parents.map(\.key) + [key]).joined(separator: ".")
            keys.append(path)
            if value.isEmpty {
                parents.append((indent, key))
            } else if value.hasPrefix("|") || value.hasPrefix(">") || value.hasPrefix("[") || value.hasPrefix("{") {
                skipDeeperThan = indent
            }
        }
        return keys
    }

    /// Splits `key: value  # comment` into the key (unquoted) and the value without its comment; nil when the line
    /// is not a `key:` line (e.g. the continuation of a multi-line plain scalar).
    private static func splitKey(_ line: Substring) -> (key: String, value: Substring)? {
        var key: Substring
        var rest: Substring
        if let quote = line.first, quote == "\"" || quote == "'" {
            guard let close = line.dropFirst().firstIndex(of: quote) else { return nil }
            key = line[line.index(after: line.startIndex)..<close]
            rest = line[line.index(after: close)...].drop(while: { $0 == " " })
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst()
        } else {
            guard let colon = colonIndex(in: line) else { return nil }
            key = line[..<colon]
            rest = line[line.index(after: colon)...]
            while key.last == " " { key.removeLast() }
        }
        var value = rest.drop(while: \.isWhitespace)
        if value.first == "#" { value = "" }
        if let comment = value.range(of: " #") { value = value[..<comment.lowerBound] }
        while value.last?.isWhitespace == true { value.removeLast() }
        return key.isEmpty ? nil : (String(key), value)
    }

    /// The first `:` followed by a space or the end of the line (a `:` inside a plain value such as a URL is not
    /// a key separator).
    private static func colonIndex(in line: Substring) -> Substring.Index? {
        var index = line.startIndex
        while index < line.endIndex {
            if line[index] == "#", index > line.startIndex, line[line.index(before: index)] == " " { return nil }
            if line[index] == ":" {
                let next = line.index(after: index)
                if next == line.endIndex || line[next] == " " || line[next] == "\t" { return index }
            }
            index = line.index(after: index)
        }
        return nil
    }
}
