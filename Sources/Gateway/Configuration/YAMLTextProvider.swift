import Configuration

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A swift-configuration provider over YAML text that was already read.
///
/// `FileProvider` reads the file itself; the loader reads it through an injected closure instead (so tests need no
/// files, and one reader decides what "missing" and "unreadable" mean), then parses it with swift-configuration's own
/// `YAMLSnapshot`, so YAML semantics and secret marking are the library's.
struct YAMLTextProvider: ConfigProvider {
    let providerName: String
    private let yamlSnapshot: YAMLSnapshot

    /// Parses YAML text whose top level is a mapping (an empty text is an empty mapping).
    /// - Parameters:
    ///   - text: The YAML document.
    ///   - name: Names the source in swift-configuration's diagnostics, e.g. the file path.
    ///   - secretKeys: Dotted keys whose values are marked secret.
    /// - Throws: The parser's error when the text is not YAML or its top level is not a mapping.
    init(text: String, name: String, secretKeys: Set<String>) throws {
        // An empty or all-comment file has no mapping at all; treat it as an empty one.
        let document = text.contains(where: { !$0.isWhitespace }) && !Self.isOnlyComments(text) ? text : "{}"
        let data = Data(document.utf8)
        self.providerName = "YAML \(name)"
        self.yamlSnapshot = try YAMLSnapshot(
            data: data.bytes,
            providerName: providerName,
            parsingOptions: .init(secretsSpecifier: .specific(secretKeys))
        )
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(whereSeparator: \.isNewline).allSatisfy { line in
            let trimmed = line.drop(while: \.isWhitespace)
            return trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "---" || trimmed == "..."
        }
    }

    func value(forKey key: AbsoluteConfigKey, type: ConfigType) throws -> LookupResult {
        try yamlSnapshot.value(forKey: key, type: type)
    }

    func fetchValue(forKey key: AbsoluteConfigKey, type: ConfigType) async throws -> LookupResult {
        try value(forKey: key, type: type)
    }

    // swift-configuration is built with NonisolatedNonsendingByDefault, so its protocol spells these out.
    nonisolated(nonsending) func watchValue<Return: ~Copyable>(
        forKey key: AbsoluteConfigKey,
        type: ConfigType,
        updatesHandler:
            nonisolated(nonsending) (
                _ updates: ConfigUpdatesAsyncSequence<Result<LookupResult, any Error>, Never>
            ) async throws -> Return
    ) async throws -> Return {
        try await watchValueFromValue(forKey: key, type: type, updatesHandler: updatesHandler)
    }

    func snapshot() -> any ConfigSnapshot { yamlSnapshot }

    nonisolated(nonsending) func watchSnapshot<Return: ~Copyable>(
        updatesHandler:
            nonisolated(nonsending) (_ updates: ConfigUpdatesAsyncSequence<any ConfigSnapshot, Never>) async throws ->
            Return
    ) async throws -> Return {
        try await watchSnapshotFromSnapshot(updatesHandler: updatesHandler)
    }
}
