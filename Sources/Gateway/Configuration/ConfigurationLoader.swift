import Configuration

/// Reads every setting through one swift-configuration `ConfigReader` (flags, then environment, then the YAML file)
/// and collects every problem instead of stopping at the first.
///
/// Values are read as strings and parsed here, because `ConfigReader`'s typed getters silently fall back to the
/// default when a value does not convert, and a typo such as `LABGATE_PORT=80800` must be reported, not ignored.
struct ConfigurationLoader {
    /// Every problem found so far, in reading order.
    private(set) var problems: [String]
    /// The YAML file that was read, if any.
    let configFile: String?
    /// Flags, then environment, then the YAML file.
    private let reader: ConfigReader
    /// The environment alone: a secret and its `_FILE` set in the same place are a mistake, while a secret in the
    /// environment simply wins over a `_file` in the YAML file.
    private let environmentProvider: KeyMappingProvider<EnvironmentVariablesProvider>
    /// The YAML file alone: it may name secret files but never hold a secret.
    private let yamlProvider: YAMLTextProvider?
    private let readFile: (String) throws -> String?

    init(
        configFile explicitFile: String?,
        flags: GatewayConfiguration.Flags,
        environment: [String: String],
        readFile: @escaping (String) throws -> String?
    ) {
        self.readFile = readFile
        let secretNames = Set(ConfigurationKey.all.filter(\.isSecret).map(\.environmentName))
        environmentProvider = KeyMappingProvider(
            upstream: EnvironmentVariablesProvider(
                environmentVariables: environment,
                secretsSpecifier: .specific(secretNames)
            ),
            keyMapper: { AbsoluteConfigKey(ConfigurationKey.environmentKeyComponents(for: $0.components)) }
        )
        let environmentFile = environment[ConfigurationKey.configFileEnvironmentName].flatMap { $0.isEmpty ? nil : $0 }
        let yaml = Self.readYAML(
            path: explicitFile ?? environmentFile ?? GatewayConfiguration.defaultConfigFile,
            mustExist: explicitFile != nil || environmentFile != nil,
            readFile: readFile
        )
        configFile = yaml.file
        yamlProvider = yaml.provider
        problems = yaml.problems

        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "command line", values: Self.values(of: flags)), environmentProvider,
        ]
        if let provider = yaml.provider { providers.append(provider) }
        reader = ConfigReader(providers: providers)
    }

    /// The flags as configuration values, under the same keys as the YAML file.
    private static func values(of flags: GatewayConfiguration.Flags) -> [AbsoluteConfigKey: ConfigValue] {
        // Strings, like every other source, so that one parser checks them all.
        let given: [(ConfigurationKey, String?)] = [
            (.host, flags.host), (.port, flags.port.map { "\($0)" }),
            (.allowUnauthenticated, flags.allowUnauthenticated.map { "\($0)" }),
        ]
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for case (let key, let value?) in given {
            values[AbsoluteConfigKey(key.components)] = ConfigValue(.string(value), isSecret: false)
        }
        return values
    }

    /// Reads and parses the YAML file, and reports keys that labgate does not know (a misspelt key would
    /// otherwise be silently ignored).
    /// - Returns: The provider (nil without a usable file), the path read, and the problems found.
    private static func readYAML(
        path: String,
        mustExist: Bool,
        readFile: (String) throws -> String?
    ) -> (provider: YAMLTextProvider?, file: String?, problems: [String]) {
        let text: String
        do {
            guard let contents = try readFile(path) else {
                return (nil, nil, mustExist ? ["The configuration file \(path) does not exist."] : [])
            }
            text = contents
        } catch {
            return (nil, nil, ["The configuration file \(path) could not be read: \(error)."])
        }
        let provider: YAMLTextProvider
        do {
            provider = try YAMLTextProvider(
                text: text,
                name: path,
                secretKeys: Set(ConfigurationKey.all.filter(\.isSecret).map(\.path))
            )
        } catch {
            // Only the first line: parsers quote the offending line after it, and that line could hold a secret.
            let reason = "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            return (nil, path, ["The configuration file \(path) is not a valid YAML mapping: \(reason)"])
        }
        let known = Set(ConfigurationKey.all.map(\.path))
        let sections = Set(ConfigurationKey.all.compactMap(\.components.first))
        var problems: [String] = []
        for key in YAMLKeyScanner.keys(in: text) where !known.contains(key) && !sections.contains(key) {
            let section = key.split(separator: ".").first.map(String.init) ?? key
            let siblings = ConfigurationKey.all.filter { $0.components.first == section }.map(\.path)
            let hint =
                siblings.isEmpty
                ? "the sections are \(sections.sorted().joined(separator: ", "))"
                : "known keys: \(siblings.joined(separator: ", "))"
            problems.append("\(path): unknown key \(key) (\(hint)).")
        }
        return (provider, path, problems)
    }

    mutating func problem(_ message: String) {
        problems.append(message)
    }

    // MARK: - Reading values

    /// The winning value of a setting, trimmed; nil when unset, empty, `~` or `null` (YAML's "no value"), so an
    /// empty environment variable puts a setting back to its default.
    func text(_ key: ConfigurationKey) -> String? {
        Self.meaningful(reader.string(forKey: ConfigKey(key.components), isSecret: key.isSecret))
    }

    /// The value of a setting in the environment alone.
    private func environmentText(_ key: ConfigurationKey) -> String? {
        let result = try? environmentProvider.value(forKey: AbsoluteConfigKey(key.components), type: .string)
        guard case .string(let value)? = result?.value?.content else { return nil }
        return Self.meaningful(value)
    }

    /// Whether the YAML file itself sets a key.
    private func yamlSets(_ key: ConfigurationKey) -> Bool {
        let result = try? yamlProvider?.value(forKey: AbsoluteConfigKey(key.components), type: .string)
        guard case .string(let value)? = result?.value?.content else { return false }
        return Self.meaningful(value) != nil
    }

    private static func meaningful(_ raw: String?) -> String? {
        guard let trimmed = raw?.trimmingSurroundingWhitespace(), !trimmed.isEmpty else { return nil }
        return trimmed == "~" || trimmed.lowercased() == "null" ? nil : trimmed
    }

    /// An integer setting within `range`.
    mutating func integer(_ key: ConfigurationKey, default defaultValue: Int, in range: ClosedRange<Int>) -> Int {
        guard let text = text(key) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            problem("\(key): \"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound).")
            return defaultValue
        }
        return value
    }

    /// A size in bytes: a whole number, optionally with a `KiB`, `MiB` or `GiB` suffix.
    mutating func bytes(_ key: ConfigurationKey, default defaultValue: Int?, in range: ClosedRange<Int>) -> Int? {
        guard let text = text(key) else { return defaultValue }
        guard let value = Self.parseBytes(text), range.contains(value) else {
            problem(
                "\(key): \"\(text)\" is not a size from \(range.lowerBound) to \(range.upperBound) bytes"
                    + " (a whole number of bytes, or with KiB, MiB or GiB)."
            )
            return defaultValue
        }
        return value
    }

    static func parseBytes(_ text: String) -> Int? {
        let digits = text.prefix(while: \.isASCII).prefix(while: \.isNumber)
        let unit = text.dropFirst(digits.count).trimmingSurroundingWhitespace().lowercased()
        let multipliers: [String: Int] = ["": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30]
        guard !digits.isEmpty, let number = Int(digits), let multiplier = multipliers[unit] else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// A duration in seconds (decimals allowed, an `s` suffix tolerated) within `range`.
    mutating func seconds(_ key: ConfigurationKey, default defaultValue: Double, in range: ClosedRange<Double>)
        -> Double
    {
        guard let text = text(key) else { return defaultValue }
        let number = text.hasSuffix("s") ? String(text.dropLast()) : text
        guard let value = Double(number), value.isFinite, range.contains(value) else {
            let bounds = "\(Self.seconds(range.lowerBound)) to \(Self.seconds(range.upperBound))"
            problem("\(key): \"\(text)\" is not a number of seconds from \(bounds).")
            return defaultValue
        }
        return value
    }

    /// `0` and `1000000` rather than `0.0` and `1000000.0`.
    private static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// A yes/no setting: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
    mutating func boolean(_ key: ConfigurationKey, default defaultValue: Bool) -> Bool {
        guard let text = text(key) else { return defaultValue }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default:
            problem("\(key): \"\(text)\" is not true or false.")
            return defaultValue
        }
    }

    /// A credential from the environment (`NAME`) or a file (`NAME_FILE`, or the YAML `_file` key).
    /// - Returns: Whether the credential is configured at all (even if unusable, so that the caller does not also
    ///   report it missing), and the secret when it could be read.
    mutating func secret(_ valueKey: ConfigurationKey, file fileKey: ConfigurationKey) -> (
        configured: Bool, secret: Secret?
    ) {
        if yamlSets(valueKey) {
            problem(
                "\(valueKey.path): a credential does not belong in the configuration file; put it in a file and set"
                    + " \(fileKey.path), or set \(valueKey.environmentName) or \(fileKey.environmentName)."
            )
            return (true, nil)
        }
        let value = environmentText(valueKey)
        if value != nil, environmentText(fileKey) != nil {
            problem("Set only one of \(valueKey.environmentName) and \(fileKey.environmentName).")
            return (true, nil)
        }
        if let value {
            return (
                true, clean(value, origin: valueKey.environmentName, source: "\(valueKey.environmentName)", file: nil)
            )
        }
        guard let path = text(fileKey) else { return (false, nil) }
        let origin = "\(fileKey): \(path)"
        do {
            guard let contents = try readFile(path) else {
                problem("\(origin) does not exist.")
                return (true, nil)
            }
            guard contents.utf8.count <= CredentialSource.maximumFileSize else {
                problem("\(origin) is too large for a credential (a wrong path?).")
                return (true, nil)
            }
            return (true, clean(contents, origin: origin, source: "\(fileKey.environmentName) (\(path))", file: path))
        } catch {
            problem("\(origin) could not be read: \(error).")
            return (true, nil)
        }
    }

    /// Trims a credential the way `CredentialSource` does (a `token.txt` as downloaded works), so both agree.
    private mutating func clean(_ raw: String, origin: String, source: String, file: String?) -> Secret? {
        do {
            return Secret(try CredentialSource.clean(raw, from: origin), source: source, file: file)
        } catch {
            problem(error.message)
            return nil
        }
    }

    /// A file setting whose file must exist and be readable (its contents are not kept).
    /// - Parameter check: Checks the contents; its error's description becomes the problem.
    mutating func readableFile(_ key: ConfigurationKey, check: ((String) throws -> Void)? = nil) -> String? {
        guard let path = text(key) else { return nil }
        do {
            if let contents = try readFile(path) {
                do {
                    try check?(contents)
                } catch {
                    problem("\(key): \(path) is not usable: \(error)")
                }
            } else {
                problem("\(key): \(path) does not exist.")
            }
        } catch {
            problem("\(key): \(path) could not be read: \(error).")
        }
        return path
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace and newlines.
    func trimmingSurroundingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
