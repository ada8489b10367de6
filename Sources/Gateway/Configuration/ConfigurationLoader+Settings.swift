import Logging

extension ConfigurationLoader {
    /// Reads every setting, checks each and the rules between them, and returns the configuration (meaningful only
    /// when `problems` is empty).
    mutating func load() -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.configFile = configFile
        readListener(into: &configuration)
        readUpstreams(into: &configuration)
        readLimits(into: &configuration)
        readRateLimit(into: &configuration)
        readLogging(into: &configuration)
        checkExposure(of: configuration)
        return configuration
    }

    private mutating func readListener(into configuration: inout GatewayConfiguration) {
        if let host = text(.host) {
            // A host, an IPv4 or a (bracketed or bare) IPv6 address: anything else is a URL or a typo.
            let allowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]_%".contains($0)) }
            if allowed {
                configuration.host = host
            } else {
                problem("\(ConfigurationKey.host): \"\(host)\" is not a host name or IP address (e.g. 127.0.0.1).")
            }
        }
        configuration.port = integer(.port, default: configuration.port, in: 0...65535)
        let loops = integer(.loops, default: 0, in: 0...64)
        configuration.serverLoops = loops == 0 ? nil : loops
        configuration.pinServerLoops = boolean(.pinLoops, default: true)
        configuration.tlsCertificateFile = readableFile(.tlsCertificateFile)
        configuration.tlsKeyFile = readableFile(.tlsKeyFile)
        if (configuration.tlsCertificateFile == nil) != (configuration.tlsKeyFile == nil) {
            problem(
                "TLS needs both \(ConfigurationKey.tlsCertificateFile) and \(ConfigurationKey.tlsKeyFile), or neither."
            )
        }
        configuration.allowUnauthenticated = boolean(.allowUnauthenticated, default: false)
        configuration.keysFile = readableFile(.keysFile) { text in _ = try ClientKeys(yaml: text) }
    }

    private mutating func readRateLimit(into configuration: inout GatewayConfiguration) {
        if let text = text(.rateLimit) {
            if let rate = Double(text), rate.isFinite, (0...1_000_000).contains(rate) {
                configuration.rateLimitPerSecond = rate
            } else {
                problem(
                    "\(ConfigurationKey.rateLimit): \"\(text)\" is not a number of requests a second from 0 to 1000000."
                )
            }
        }
        if text(.rateLimitBurst) != nil {
            configuration.rateLimitBurst = integer(.rateLimitBurst, default: 1, in: 1...1_000_000)
        }
    }

    private mutating func readUpstreams(into configuration: inout GatewayConfiguration) {
        let genieURL = text(.genieAPIURL)
        let genieToken = secret(.genieToken, file: .genieTokenFile)
        if let genieURL {
            do {
                // Checked even when the token is missing or unreadable, so both problems are reported at once.
                let upstream = try GatewayConfiguration.GenieUpstream(
                    apiURL: genieURL,
                    token: genieToken.secret ?? Secret("", source: "missing")
                )
                if genieToken.secret != nil { configuration.genie = upstream }
            } catch {
                error.problems.forEach { problem($0) }
            }
            if !genieToken.configured {
                problem(
                    "\(ConfigurationKey.genieAPIURL) is set but no Genie token: set"
                        + " \(ConfigurationKey.genieToken.environmentName) or \(ConfigurationKey.genieTokenFile)."
                )
            }
        } else if genieToken.configured {
            problem(
                "A Genie token is configured but \(ConfigurationKey.genieAPIURL) is not: set it to the Public API URL,"
                    + " e.g. https://HOST/public/v1."
            )
        }

        let labricURL = text(.labricBaseURL) ?? GatewayConfiguration.LabricUpstream.defaultBaseURL
        let labricKey = secret(.labricKey, file: .labricKeyFile)
        do {
            // Checked even without a key: a wrong URL is worth knowing about before the key is added.
            let upstream = try GatewayConfiguration.LabricUpstream(
                baseURL: labricURL,
                apiKey: labricKey.secret ?? Secret("", source: "missing")
            )
            if labricKey.secret != nil { configuration.labric = upstream }
        } catch {
            error.problems.forEach { problem($0) }
        }
    }

    private mutating func readLimits(into configuration: inout GatewayConfiguration) {
        // Upper bounds keep every value convertible to Duration/TimeAmount without overflow.
        let longest = 1_000_000.0
        configuration.connectTimeoutSeconds = seconds(
            .connectTimeout, default: configuration.connectTimeoutSeconds, in: 0.001...longest)
        configuration.upstreamIdleTimeoutSeconds = seconds(
            .idleTimeout, default: configuration.upstreamIdleTimeoutSeconds, in: 0.001...longest)
        configuration.requestTimeoutSeconds = seconds(
            .requestTimeout, default: configuration.requestTimeoutSeconds, in: 0.001...longest)
        configuration.drainSeconds = seconds(.drain, default: configuration.drainSeconds, in: 0...longest)
        let largest = 1 << 40
        configuration.replayBodyLimitBytes =
            bytes(.replayBodyLimit, default: configuration.replayBodyLimitBytes, in: 0...(1 << 30)) ?? 0
        configuration.maxBodyBytes = bytes(.maxBody, default: nil, in: 1...largest)
        configuration.maxHeaderBytes =
            bytes(.maxHeader, default: configuration.maxHeaderBytes, in: 1024...(1 << 24)) ?? 0
        configuration.loginBodyLimitBytes =
            bytes(.loginBodyLimit, default: configuration.loginBodyLimitBytes, in: 16...(1 << 24)) ?? 0
        configuration.connectionLimit = integer(
            .connectionLimit, default: configuration.connectionLimit, in: 1...1_000_000)
    }

    private mutating func readLogging(into configuration: inout GatewayConfiguration) {
        if let destination = text(.accessLog) {
            configuration.accessLog = GatewayConfiguration.AccessLog(destination)
        }
        configuration.accessLogFile = text(.accessLogFile)
        configuration.accessLogMaxBytes =
            bytes(.accessLogMaxBytes, default: configuration.accessLogMaxBytes, in: 1024...(1 << 40)) ?? 0
        configuration.accessLogKeep = integer(.accessLogKeep, default: configuration.accessLogKeep, in: 0...1000)
        if let level = text(.logLevel) {
            let name = level.lowercased() == "warn" ? "warning" : level.lowercased()
            if let parsed = Logger.Level(rawValue: name) {
                configuration.logLevel = parsed
            } else {
                let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                problem("\(ConfigurationKey.logLevel): \"\(level)\" is not one of \(names).")
            }
        }
    }

    /// The safe default: a gateway that holds the lab's credentials is only reachable from other machines when
    /// clients must present keys, or when the operator said explicitly that anyone on the network may use it.
    private mutating func checkExposure(of configuration: GatewayConfiguration) {
        guard !configuration.listensOnLoopback, configuration.keysFile == nil, !configuration.allowUnauthenticated
        else { return }
        problem(
            "listening on \(configuration.host) without client keys needs --allow-unauthenticated"
                + " (LABGATE_ALLOW_UNAUTHENTICATED=true), or set \(ConfigurationKey.keysFile)."
        )
    }
}
