import Testing

/// Looks for credentials in text a process printed: exact values when the test knows them, and the shapes every
/// credential here has when it does not (the sandbox makes its own up and never shows them).
enum SecretScan {
    /// Prefixes of credential values: Labric API keys, the sandbox's Genie public token, labgate's client keys, and
    /// JWTs (Genie's private tokens; `eyJ` is base64 for `{"`). The masked form of a configuration summary (`lbk_…(redacted)`) is not a
    /// finding: a value needs at least `minimumTail` token characters after its prefix.
    static let credentialPrefixes = ["lbk_", "gpt_sandbox_", "lgk_", "eyJ"]
    static let minimumTail = 6
    /// The prefixes for what clients see: a JWT is expected there (labgate's login answers a JWT-shaped
    /// placeholder that carries no secret).
    static let keyPrefixes = ["lbk_", "gpt_sandbox_", "lgk_"]

    /// Each credential found in `text`, shortened so that the report itself leaks little.
    static func findings(
        in text: String, secrets: [String] = [], prefixes: [String] = credentialPrefixes
    ) -> [String] {
        var found: [String] = []
        for secret in secrets where !secret.isEmpty && text.contains(secret) {
            found.append("a known credential (\(secret.prefix(6))…)")
        }
        let characters = Array(text.unicodeScalars)
        for prefix in prefixes {
            let needle = Array(prefix.unicodeScalars)
            var index = 0
            while index + needle.count <= characters.count {
                guard characters[index..<index + needle.count].elementsEqual(needle) else {
                    index += 1
                    continue
                }
                var end = index + needle.count
                while end < characters.count, isTokenCharacter(characters[end]) { end += 1 }
                if end - index - needle.count >= minimumTail {
                    found.append("\(prefix)… at character \(index)")
                }
                index = end
            }
        }
        return found
    }

    /// Records an issue for every credential in `text`.
    static func expectClean(
        _ text: String,
        secrets: [String] = [],
        prefixes: [String] = credentialPrefixes,
        source: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let found = findings(in: text, secrets: secrets, prefixes: prefixes)
        #expect(found.isEmpty, "credentials in \(source): \(found)", sourceLocation: sourceLocation)
    }

    private static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }
}
