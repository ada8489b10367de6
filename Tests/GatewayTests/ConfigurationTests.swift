import Testing

@testable import Gateway

/// Loading `GatewayConfiguration` from injected sources: a YAML text, an environment dictionary, flags and an
/// in-memory file system (paths mapped to contents; `unreadable` paths throw as a permission error would).
@Suite struct ConfigurationTests {
    static let genieToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsYWIifQ.c2lnbmF0dXJlLXNlY3JldA"
    static let labricKey = "lbk_live_4f9c2e8a7b6d5c4e3f2a1b0c"

    struct Unreadable: Error, CustomStringConvertible {
        var description: String { "Permission denied" }
    }

    /// Loads with the YAML file `labgate.yaml` (when given) passed as `--config`.
    func load(
        yaml: String? = nil,
        environment: [String: String] = [:],
        flags: GatewayConfiguration.Flags = .init(),
        files: [String: String] = [:],
        unreadable: Set<String> = []
    ) throws(ConfigurationError) -> GatewayConfiguration {
        var allFiles = files
        if let yaml { allFiles["labgate.yaml"] = yaml }
        let snapshot = allFiles
        return try GatewayConfiguration.load(
            configFile: yaml == nil ? nil : "labgate.yaml",
            flags: flags,
            environment: environment,
            readFile: { path in
                if unreadable.contains(path) { throw Unreadable() }
                return snapshot[path]
            }
        )
    }

    /// The problems of a load that must fail.
    func problems(
        yaml: String? = nil,
        environment: [String: String] = [:],
        flags: GatewayConfiguration.Flags = .init(),
        files: [String: String] = [:],
        unreadable: Set<String> = []
    ) -> [String] {
        do {
            _ = try load(yaml: yaml, environment: environment, flags: flags, files: files, unreadable: unreadable)
            Issue.record("expected the configuration to be refused")
            return []
        } catch {
            return error.problems
        }
    }

    // MARK: - Sources and precedence

    @Test func emptySourcesGiveTheDocumentedDefaults() throws {
        let configuration = try load()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.genie == nil)
        #expect(configuration.labric == nil)
        #expect(configuration.allowUnauthenticated == false)
        #expect(configuration.serverLoops == nil)
        #expect(configuration.pinServerLoops)
        #expect(configuration.drainSeconds == 25)
        #expect(configuration.connectTimeoutSeconds == 5)
        #expect(configuration.upstreamIdleTimeoutSeconds == 60)
        #expect(configuration.requestTimeoutSeconds == 600)
        #expect(configuration.replayBodyLimitBytes == 1 << 20)
        #expect(configuration.maxBodyBytes == nil)
        #expect(configuration.maxHeaderBytes == 16 << 10)
        #expect(configuration.connectionLimit == 4096)
        #expect(configuration.loginBodyLimitBytes == 64 << 10)
        #expect(configuration.accessLog == .stdout)
        #expect(configuration.logLevel == .info)
        #expect(configuration.configFile == nil)
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() throws {
        let yaml = """
            listen:
              host: 127.0.0.2
              port: 9001
            shutdown:
              drain_seconds: 3
            logging:
              log_level: debug
            """
        let fileOnly = try load(yaml: yaml)
        #expect(fileOnly.port == 9001)
        #expect(fileOnly.host == "127.0.0.2")
        #expect(fileOnly.drainSeconds == 3)
        #expect(fileOnly.configFile == "labgate.yaml")

        let environment = ["LABGATE_PORT": "9002", "LABGATE_HOST": "127.0.0.3", "LABGATE_LOG_LEVEL": "warning"]
        let withEnvironment = try load(yaml: yaml, environment: environment)
        #expect(withEnvironment.port == 9002)
        #expect(withEnvironment.host == "127.0.0.3")
        #expect(withEnvironment.drainSeconds == 3)
        #expect(withEnvironment.logLevel == .warning)

        let withFlags = try load(yaml: yaml, environment: environment, flags: .init(host: "localhost", port: 9003))
        #expect(withFlags.port == 9003)
        #expect(withFlags.host == "localhost")
        #expect(withFlags.logLevel == .warning)
    }

    @Test func anEmptyEnvironmentVariableMeansUnset() throws {
        let configuration = try load(yaml: "listen:\n  port: 9001\n", environment: ["LABGATE_PORT": ""])
        #expect(configuration.port == 8080)
    }

    @Test func readsEverySettingFromItsEnvironmentVariable() throws {
        let environment = [
            "LABGATE_HOST": "0.0.0.0", "LABGATE_PORT": "0", "LABGATE_ALLOW_UNAUTHENTICATED": "true",
            "LABGATE_TLS_CERT_FILE": "/tls/cert.pem", "LABGATE_TLS_KEY_FILE": "/tls/key.pem",
            "LABGATE_DRAIN_SECONDS": "2.5", "LABGATE_CONNECT_TIMEOUT_SECONDS": "1",
            "LABGATE_IDLE_TIMEOUT_SECONDS": "7", "LABGATE_REQUEST_TIMEOUT_SECONDS": "30",
            "LABGATE_REPLAY_BODY_LIMIT_BYTES": "2MiB", "LABGATE_MAX_BODY_BYTES": "1GiB",
            "LABGATE_MAX_HEADER_BYTES": "16384", "LABGATE_CONNECTION_LIMIT": "64",
            "LABGATE_LOGIN_BODY_LIMIT_BYTES": "1KiB", "LABGATE_ACCESS_LOG": "off", "LABGATE_LOG_LEVEL": "trace",
            "LABGATE_ACCESS_LOG_FILE": "/var/log/labgate/access.log", "LABGATE_ACCESS_LOG_MAX_BYTES": "1MiB",
            "LABGATE_ACCESS_LOG_KEEP": "3", "LABGATE_LOOPS": "3", "LABGATE_PIN_LOOPS": "false",
        ]
        let files = ["/tls/cert.pem": "CERT", "/tls/key.pem": "KEY"]
        let configuration = try load(environment: environment, files: files)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 0)
        #expect(configuration.allowUnauthenticated)
        #expect(configuration.serverLoops == 3)
        #expect(configuration.pinServerLoops == false)
        #expect(configuration.tlsCertificateFile == "/tls/cert.pem")
        #expect(configuration.tlsKeyFile == "/tls/key.pem")
        #expect(configuration.drainSeconds == 2.5)
        #expect(configuration.connectTimeoutSeconds == 1)
        #expect(configuration.upstreamIdleTimeoutSeconds == 7)
        #expect(configuration.requestTimeoutSeconds == 30)
        #expect(configuration.replayBodyLimitBytes == 2 << 20)
        #expect(configuration.maxBodyBytes == 1 << 30)
        #expect(configuration.maxHeaderBytes == 16384)
        #expect(configuration.connectionLimit == 64)
        #expect(configuration.loginBodyLimitBytes == 1024)
        #expect(configuration.accessLog == .off)
        #expect(configuration.logLevel == .trace)
        #expect(
            configuration.accessLogRotation == .init(path: "/var/log/labgate/access.log", maxBytes: 1 << 20, keep: 3))
    }

    @Test func theConfigFileCanComeFromTheEnvironment() throws {
        let files = ["/etc/labgate.yaml": "listen:\n  port: 9100\n"]
        let configuration = try load(environment: ["LABGATE_CONFIG": "/etc/labgate.yaml"], files: files)
        #expect(configuration.port == 9100)
        #expect(configuration.configFile == "/etc/labgate.yaml")
        #expect(
            problems(environment: ["LABGATE_CONFIG": "/nope.yaml"]) == [
                "The configuration file /nope.yaml does not exist."
            ])
    }

    // MARK: - Credentials

    @Test func tokenFilesAreTrimmedAsDownloaded() throws {
        let environment = [
            "GENIE_API_URL": "https://genie.example.com/public/v1/",
            "GENIE_API_TOKEN_FILE": "/run/secrets/genie_token",
            "LABRIC_API_KEY_FILE": "/run/secrets/labric",
        ]
        let files = [
            "/run/secrets/genie_token": "\u{FEFF}  \(Self.genieToken)\r\n\n",
            "/run/secrets/labric": "\(Self.labricKey)\n",
        ]
        let configuration = try load(environment: environment, files: files)
        let genie = try #require(configuration.genie)
        #expect(genie.token.value == Self.genieToken)
        #expect(genie.token.file == "/run/secrets/genie_token")
        #expect(genie.apiURL == "https://genie.example.com/public/v1")
        #expect(genie.origin == "https://genie.example.com")
        #expect(genie.publicPath == "/public/v1")
        let labric = try #require(configuration.labric)
        #expect(labric.apiKey.value == Self.labricKey)
        #expect(labric.baseURL == "https://platform.labric.co")
    }

    @Test func secretFilesMayBeNamedInTheFileAndEnvironmentValuesWin() throws {
        let yaml = """
            genie:
              api_url: http://127.0.0.1:9300/public/v1
              api_token_file: token.txt
            labric:
              api_base_url: http://127.0.0.1:9400/api/
              api_key_file: labric.key
            """
        let files = ["token.txt": Self.genieToken + "\n", "labric.key": Self.labricKey]
        let fromFiles = try load(yaml: yaml, files: files)
        #expect(fromFiles.genie?.token.value == Self.genieToken)
        #expect(fromFiles.genie?.origin == "http://127.0.0.1:9300")
        #expect(fromFiles.labric?.baseURL == "http://127.0.0.1:9400/api")
        #expect(fromFiles.labric?.apiKey.value == Self.labricKey)

        let overridden = try load(
            yaml: yaml, environment: ["LABRIC_API_KEY": "lbk_from_the_environment_0001"], files: files)
        #expect(overridden.labric?.apiKey.value == "lbk_from_the_environment_0001")
        #expect(overridden.labric?.apiKey.file == nil)
    }

    @Test func refusesACredentialWrittenIntoTheFile() {
        let found = problems(yaml: "labric:\n  api_key: \(Self.labricKey)\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("labric.api_key") == true)
        #expect(found.first?.contains(Self.labricKey) == false)
    }

    @Test func refusesAValueAndAFileForTheSameCredential() {
        let found = problems(
            environment: ["LABRIC_API_KEY": Self.labricKey, "LABRIC_API_KEY_FILE": "/k"], files: ["/k": "x"])
        #expect(found == ["Set only one of LABRIC_API_KEY and LABRIC_API_KEY_FILE."])
    }

    @Test func refusesEmptyOrMalformedCredentialFiles() {
        let found = problems(
            environment: [
                "LABRIC_API_KEY_FILE": "/empty", "GENIE_API_URL": "https://g.example/public/v1",
                "GENIE_API_TOKEN_FILE": "/two",
            ],
            files: ["/empty": " \n", "/two": "first second\n"]
        )
        #expect(found.count == 2)
        #expect(found.contains { $0.contains("/empty") && $0.contains("empty") })
        #expect(found.contains { $0.contains("/two") && $0.contains("spaces") })
        #expect(!found.joined().contains("first second"))
    }

    // MARK: - Upstreams

    @Test func eachUpstreamIsOptional() throws {
        let none = try load()
        #expect(none.genie == nil && none.labric == nil)

        let labricOnly = try load(environment: ["LABRIC_API_KEY": Self.labricKey])
        #expect(labricOnly.genie == nil)
        #expect(labricOnly.labric?.baseURL == GatewayConfiguration.LabricUpstream.defaultBaseURL)

        // A base URL alone does not configure Labric (the key does), but it is still checked.
        let urlOnly = try load(environment: ["LABRIC_API_BASE_URL": "http://127.0.0.1:1/"])
        #expect(urlOnly.labric == nil)

        let genieOnly = try load(environment: [
            "GENIE_API_URL": "https://g.example:8443/public/v1", "GENIE_API_TOKEN": Self.genieToken,
        ])
        #expect(genieOnly.labric == nil)
        #expect(genieOnly.genie?.origin == "https://g.example:8443")
        #expect(genieOnly.genie?.upstreamOrigin.effectivePort == 8443)
    }

    @Test func genieNeedsBothItsURLAndItsToken() {
        let urlOnly = problems(environment: ["GENIE_API_URL": "https://g.example/public/v1"])
        #expect(urlOnly.count == 1)
        #expect(urlOnly.first?.contains("GENIE_API_TOKEN") == true)
        let tokenOnly = problems(environment: ["GENIE_API_TOKEN": Self.genieToken])
        #expect(tokenOnly.count == 1)
        #expect(tokenOnly.first?.contains("GENIE_API_URL") == true)
    }

    @Test func refusesUnusableUpstreamURLs() {
        let token = ["GENIE_API_TOKEN": Self.genieToken]
        for url in ["ftp://g.example/public/v1", "g.example/public/v1", "https:///public/v1", "https://g.example"] {
            let found = problems(environment: token.merging(["GENIE_API_URL": url]) { $1 })
            #expect(found.count == 1, "\(url)")
        }
        let withPassword = problems(environment: ["LABRIC_API_BASE_URL": "https://user:hunter2@labric.example"])
        #expect(withPassword.count == 1)
        #expect(withPassword.first?.contains("hunter2") == false)
    }

    // MARK: - Problems

    @Test func listsEveryProblemAtOnce() {
        let found = problems(
            yaml: """
                listen:
                  prot: 8080
                limits:
                  max_body_bytes: lots
                """,
            environment: [
                "LABGATE_HOST": "0.0.0.0",
                "LABGATE_PORT": "80800",
                "GENIE_API_URL": "ftp://genie.example/public/v1",
                "GENIE_API_TOKEN_FILE": "/run/secrets/genie",
                "LABRIC_API_KEY_FILE": "/run/secrets/missing",
                "LABGATE_TLS_CERT_FILE": "/tls/cert.pem",
                "LABGATE_DRAIN_SECONDS": "-1",
                "LABGATE_LOG_LEVEL": "loud",
                "LABGATE_ALLOW_UNAUTHENTICATED": "maybe",
            ],
            files: ["/tls/cert.pem": "CERT"],
            unreadable: ["/run/secrets/genie"]
        )
        let expected = [
            "unknown key listen.prot", "LABGATE_PORT", "TLS needs both", "LABGATE_ALLOW_UNAUTHENTICATED",
            "/run/secrets/genie could not be read: Permission denied", "GENIE_API_URL",
            "/run/secrets/missing does not exist",
            "LABGATE_DRAIN_SECONDS", "LABGATE_MAX_BODY_BYTES", "LABGATE_LOG_LEVEL",
            "listening on 0.0.0.0 without client keys needs --allow-unauthenticated (LABGATE_ALLOW_UNAUTHENTICATED=true)",
        ]
        for fragment in expected {
            #expect(found.contains { $0.contains(fragment) }, "no problem mentions \(fragment): \(found)")
        }
        #expect(found.count == expected.count, "\(found)")

        let error = ConfigurationError(problems: found)
        #expect(error.description.hasPrefix("The configuration has \(found.count) problems:"))
        #expect(error.description.split(separator: "\n").count == found.count + 1)
    }

    @Test func reportsInvalidYAML() {
        let found = problems(yaml: "listen: [unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("is not a valid YAML mapping") == true)
    }

    @Test func anExplicitConfigFileMustExistButTheDefaultMayNot() throws {
        #expect(throws: ConfigurationError(problems: ["The configuration file /nope/labgate.yaml does not exist."])) {
            try GatewayConfiguration.load(configFile: "/nope/labgate.yaml", flags: .init(), environment: [:]) { _ in nil
            }
        }
        let configuration = try GatewayConfiguration.load(configFile: nil, flags: .init(), environment: [:]) { _ in nil
        }
        #expect(configuration.configFile == nil)
    }

    // MARK: - Exposure

    @Test func nonLoopbackNeedsClientKeysOrAnExplicitOptIn() throws {
        #expect(problems(flags: .init(host: "0.0.0.0")).count == 1)
        #expect(problems(environment: ["LABGATE_HOST": "192.168.1.20"]).count == 1)
        #expect(try load(flags: .init(host: "0.0.0.0", allowUnauthenticated: true)).allowUnauthenticated)
        #expect(try load(environment: ["LABGATE_HOST": "::", "LABGATE_ALLOW_UNAUTHENTICATED": "yes"]).host == "::")
        let withKeys = try load(
            environment: ["LABGATE_HOST": "0.0.0.0", "LABGATE_KEYS_FILE": "/keys.yaml"],
            files: ["/keys.yaml": "keys: []\n"])
        #expect(withKeys.keysFile == "/keys.yaml")
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            #expect(try load(flags: .init(host: host)).listensOnLoopback, "\(host)")
        }
    }

    // MARK: - Secrets stay secret

    @Test func secretsNeverAppearInSummariesDescriptionsOrDumps() throws {
        let configuration = try load(
            environment: [
                "GENIE_API_URL": "https://genie.example.com/public/v1", "GENIE_API_TOKEN": Self.genieToken,
                "LABRIC_API_KEY": Self.labricKey,
            ]
        )
        var dumped = ""
        dump(configuration, to: &dumped)
        let texts = [
            configuration.redactedSummary(), String(describing: configuration), String(reflecting: configuration),
            dumped, "\(configuration.genie!.token)", "\(configuration.labric!)",
        ]
        for text in texts {
            #expect(!text.contains(Self.genieToken))
            #expect(!text.contains(Self.labricKey))
            #expect(!text.contains(String(Self.labricKey.dropFirst(4))))
            #expect(!text.contains("c2lnbmF0dXJlLXNlY3JldA"))
        }
        let summary = configuration.redactedSummary()
        #expect(summary.contains("api_key: \"lbk_…(redacted)\""))
        #expect(summary.contains("api_token: \"…(redacted)\"  # from GENIE_API_TOKEN"))
        #expect(summary.contains("api_url: https://genie.example.com/public/v1"))
    }

    @Test func secretsShowOnlyAWellKnownPrefix() {
        #expect(Secret("lbk_0123456789abcdef").description == "lbk_…(redacted)")
        #expect(Secret("lbk_short").description == "…(redacted)")
        #expect(Secret("a_b").description == "…(redacted)")
        #expect(Secret(Self.genieToken).description == "…(redacted)")
    }

    // MARK: - The shipped file

    /// `config/labgate.yaml` at the root of the repository.
    static var shippedFile: String {
        let components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        return (components.dropLast(3) + ["config", "labgate.yaml"]).joined(separator: "/")
    }

    @Test func theShippedFileLoadsToTheDefaults() throws {
        let path = Self.shippedFile
        let configuration = try GatewayConfiguration.load(
            configFile: path,
            flags: .init(),
            environment: [:],
            readFile: ConfigurationFileReader.text(atPath:)
        )
        #expect(configuration.configFile == path)
        var defaults = GatewayConfiguration()
        defaults.configFile = path
        #expect(configuration.redactedSummary() == defaults.redactedSummary())
    }

    @Test func theShippedFileDocumentsEveryKeyAndItsEnvironmentVariable() throws {
        let text = try #require(try ConfigurationFileReader.text(atPath: Self.shippedFile))
        let keys = Set(YAMLKeyScanner.keys(in: text))
        for key in ConfigurationKey.all {
            // Credentials themselves are environment-only: documented, but not keys of the file.
            if !key.isSecret { #expect(keys.contains(key.path), "\(key.path) is missing") }
            #expect(text.contains(key.environmentName), "\(key.environmentName) is not mentioned")
        }
    }

    @Test func environmentNamesFollowTheRuleAndAreUnique() {
        let names = ConfigurationKey.all.map(\.environmentName)
        #expect(Set(names).count == names.count)
        #expect(ConfigurationKey.port.environmentName == "LABGATE_PORT")
        #expect(ConfigurationKey.allowUnauthenticated.environmentName == "LABGATE_ALLOW_UNAUTHENTICATED")
        #expect(ConfigurationKey.tlsCertificateFile.environmentName == "LABGATE_TLS_CERT_FILE")
        #expect(ConfigurationKey.genieTokenFile.environmentName == "GENIE_API_TOKEN_FILE")
        #expect(ConfigurationKey.labricBaseURL.environmentName == "LABRIC_API_BASE_URL")
    }

    @Test func parsesSizes() {
        #expect(ConfigurationLoader.parseBytes("1048576") == 1 << 20)
        #expect(ConfigurationLoader.parseBytes("1MiB") == 1 << 20)
        #expect(ConfigurationLoader.parseBytes("64 KiB") == 64 << 10)
        #expect(ConfigurationLoader.parseBytes("2gib") == 2 << 30)
        #expect(ConfigurationLoader.parseBytes("1MB") == nil)
        #expect(ConfigurationLoader.parseBytes("-1") == nil)
        #expect(ConfigurationLoader.parseBytes("99999999999999999999GiB") == nil)
    }

    @Test func scansKeysOfBlockYAML() {
        let text = """
            # comment
            listen:
              host: "0.0.0.0"   # trailing
              'port': 8080
            genie:
              api_url: https://g.example/public/v1
              notes: |
                not: a key
            top: 1
            """
        #expect(
            YAMLKeyScanner.keys(in: text) == [
                "listen", "listen.host", "listen.port", "genie", "genie.api_url", "genie.notes", "top",
            ])
    }
}
