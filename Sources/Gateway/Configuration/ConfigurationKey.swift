/// One configuration setting: its YAML key and the environment variable that overrides it.
///
/// The mapping is a rule, not a table, so that the YAML file, the environment and this code cannot drift:
/// - the vendors' settings keep the names their own tools use: `genie.api_url` is `GENIE_API_URL`,
///   `labric.api_key_file` is `LABRIC_API_KEY_FILE` (section and key, upper-cased, joined by `_`);
/// - labgate's own settings are `LABGATE_` and the key's last part: `listen.port` is `LABGATE_PORT`,
///   `limits.max_body_bytes` is `LABGATE_MAX_BODY_BYTES`, `shutdown.drain_seconds` is `LABGATE_DRAIN_SECONDS`
///   (last parts are unique across sections, which `all` is tested for).
struct ConfigurationKey: Sendable, Hashable, CustomStringConvertible {
    /// The YAML path, e.g. `["listen", "port"]`.
    let components: [String]
    /// Whether the value is a credential: marked secret in swift-configuration, never shown, never from a flag and
    /// never a literal in the YAML file.
    let isSecret: Bool
    /// The command-line flag that overrides it, if any.
    let flag: String?

    init(_ path: String, isSecret: Bool = false, flag: String? = nil) {
        self.components = path.split(separator: ".").map(String.init)
        self.isSecret = isSecret
        self.flag = flag
    }

    /// The dotted YAML key, e.g. `listen.port`.
    var path: String { components.joined(separator: ".") }

    /// The key that swift-configuration's environment provider turns into `environmentName`
    /// (it joins components with `_` and upper-cases them).
    var environmentKeyComponents: [String] { Self.environmentKeyComponents(for: components) }

    /// The environment rule for any YAML path (also used by the environment provider's key mapping).
    static func environmentKeyComponents(for components: [String]) -> [String] {
        let isVendorSetting = components.first == "genie" || components.first == "labric"
        return isVendorSetting ? components : ["labgate", components.last ?? ""]
    }

    /// The environment variable, e.g. `LABGATE_PORT`.
    var environmentName: String { environmentKeyComponents.joined(separator: "_").uppercased() }

    /// How problems name the setting: every way of setting it, so the operator finds it wherever it was set.
    var description: String {
        let flagPart = flag.map { ", \($0)" } ?? ""
        return "\(path) (\(environmentName)\(flagPart))"
    }
}

extension ConfigurationKey {
    static let host = ConfigurationKey("listen.host", flag: "--host")
    static let port = ConfigurationKey("listen.port", flag: "--port")
    static let loops = ConfigurationKey("listen.loops")
    static let pinLoops = ConfigurationKey("listen.pin_loops")
    static let tlsCertificateFile = ConfigurationKey("listen.tls_cert_file")
    static let tlsKeyFile = ConfigurationKey("listen.tls_key_file")
    static let allowUnauthenticated = ConfigurationKey("clients.allow_unauthenticated", flag: "--allow-unauthenticated")
    static let keysFile = ConfigurationKey("clients.keys_file")
    static let rateLimit = ConfigurationKey("clients.rate_limit_per_second")
    static let rateLimitBurst = ConfigurationKey("clients.rate_limit_burst")
    static let genieAPIURL = ConfigurationKey("genie.api_url")
    static let genieToken = ConfigurationKey("genie.api_token", isSecret: true)
    static let genieTokenFile = ConfigurationKey("genie.api_token_file")
    static let labricBaseURL = ConfigurationKey("labric.api_base_url")
    static let labricKey = ConfigurationKey("labric.api_key", isSecret: true)
    static let labricKeyFile = ConfigurationKey("labric.api_key_file")
    static let connectTimeout = ConfigurationKey("upstream.connect_timeout_seconds")
    static let idleTimeout = ConfigurationKey("upstream.idle_timeout_seconds")
    static let requestTimeout = ConfigurationKey("upstream.request_timeout_seconds")
    static let replayBodyLimit = ConfigurationKey("upstream.replay_body_limit_bytes")
    static let maxBody = ConfigurationKey("limits.max_body_bytes")
    static let maxHeader = ConfigurationKey("limits.max_header_bytes")
    static let loginBodyLimit = ConfigurationKey("limits.login_body_limit_bytes")
    static let connectionLimit = ConfigurationKey("limits.connection_limit")
    static let drain = ConfigurationKey("shutdown.drain_seconds")
    static let accessLog = ConfigurationKey("logging.access_log")
    static let accessLogFile = ConfigurationKey("logging.access_log_file")
    static let accessLogMaxBytes = ConfigurationKey("logging.access_log_max_bytes")
    static let accessLogKeep = ConfigurationKey("logging.access_log_keep")
    static let logLevel = ConfigurationKey("logging.log_level")

    /// Every setting, in the order of `config/labgate.yaml`.
    static let all: [ConfigurationKey] = [
        .host, .port, .loops, .pinLoops, .tlsCertificateFile, .tlsKeyFile, .allowUnauthenticated, .keysFile, .rateLimit,
        .rateLimitBurst,
        .genieAPIURL, .genieToken, .genieTokenFile, .labricBaseURL, .labricKey, .labricKeyFile,
        .connectTimeout, .idleTimeout, .requestTimeout, .replayBodyLimit,
        .maxBody, .maxHeader, .loginBodyLimit, .connectionLimit, .drain, .accessLog,
        .accessLogFile, .accessLogMaxBytes, .accessLogKeep, .logLevel,
    ]

    /// The environment variable that names the YAML file (below `--config`, above the default path).
    static let configFileEnvironmentName = "LABGATE_CONFIG"
}
