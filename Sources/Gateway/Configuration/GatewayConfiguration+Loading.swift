#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension GatewayConfiguration {
    /// The values given on the command line: the highest-priority source.
    ///
    /// Only listener settings have flags; credentials never do, because command lines are visible to every user
    /// of the machine (`ps`) and end up in shell history.
    public struct Flags: Sendable, Equatable {
        /// `--host`.
        public var host: String?
        /// `--port`.
        public var port: Int?
        /// `--allow-unauthenticated` (nil when not given, so the file or environment decides).
        public var allowUnauthenticated: Bool?

        /// Creates the flags; nil means "not given on the command line".
        public init(host: String? = nil, port: Int? = nil, allowUnauthenticated: Bool? = nil) {
            self.host = host
            self.port = port
            self.allowUnauthenticated = allowUnauthenticated
        }
    }

    /// The YAML file read when neither `--config` nor `LABGATE_CONFIG` names one (relative to the working
    /// directory; skipped when absent, since every key has a default).
    public static let defaultConfigFile = "config/labgate.yaml"

    /// Loads the configuration from `config/labgate.yaml` (or `configFile`), the process environment and `flags`.
    /// - Parameters:
    ///   - configFile: The YAML file (`--config`); it must exist when given.
    ///   - flags: The command-line values, which win over everything else.
    /// - Throws: `ConfigurationError` listing every problem found.
    public static func load(configFile: String? = nil, flags: Flags = Flags()) throws(ConfigurationError) -> Self {
        try load(
            configFile: configFile,
            flags: flags,
            environment: ProcessInfo.processInfo.environment,
            readFile: ConfigurationFileReader.text(atPath:)
        )
    }

    /// Loads the configuration from explicit sources, lowest to highest: the YAML file, `environment`, `flags`.
    ///
    /// Nothing here touches process globals, so tests pass an environment dictionary and an in-memory file system.
    /// - Parameters:
    ///   - configFile: The YAML file (`--config`); when nil, `LABGATE_CONFIG` from `environment`, else
    ///     `config/labgate.yaml` if it exists.
    ///   - flags: The command-line values.
    ///   - environment: The environment variables (`GENIE_API_URL`, `LABGATE_PORT`, ...).
    ///   - readFile: Reads a file as text: nil when it does not exist, an error when it exists but cannot be read.
    ///     Used for the YAML file, `*_FILE` secrets, the keys file and the TLS files.
    /// - Throws: `ConfigurationError` listing every problem found.
    public static func load(
        configFile: String?,
        flags: Flags,
        environment: [String: String],
        readFile: @escaping (_ path: String) throws -> String?
    ) throws(ConfigurationError) -> Self {
        var loader = ConfigurationLoader(
            configFile: configFile,
            flags: flags,
            environment: environment,
            readFile: readFile
        )
        let configuration = loader.load()
        guard loader.problems.isEmpty else { throw ConfigurationError(problems: loader.problems) }
        return configuration
    }
}
