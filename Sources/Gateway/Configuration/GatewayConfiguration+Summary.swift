extension GatewayConfiguration {
    /// The effective configuration as YAML-shaped text, in the layout of `config/labgate.yaml`, with every
    /// credential masked: what `labgate check-config` prints and `labgate serve` logs at startup.
    public func redactedSummary() -> String {
        var lines = ["# labgate effective configuration (credentials masked)"]
        lines.append("# sources, lowest first: \(configFile ?? "no YAML file"), environment, command line")
        func section(_ name: String, _ entries: [(String, String)]) {
            lines.append("\(name):")
            lines += entries.map { "  \($0.0): \($0.1)" }
        }
        func optional(_ value: String?) -> String { value.map(Self.quotedIfNeeded) ?? "null" }

        section(
            "listen",
            [
                ("host", Self.quotedIfNeeded(host)), ("port", "\(port)"),
                ("loops", serverLoops.map { "\($0)" } ?? "0  # one per core, at most 4"),
                ("pin_loops", "\(pinServerLoops)"),
                ("tls_cert_file", optional(tlsCertificateFile)), ("tls_key_file", optional(tlsKeyFile)),
            ]
        )
        section(
            "clients",
            [
                ("allow_unauthenticated", "\(allowUnauthenticated)"), ("keys_file", optional(keysFile)),
                ("rate_limit_per_second", Self.number(rateLimitPerSecond) + (rateLimit == nil ? "  # no limit" : "")),
                ("rate_limit_burst", rateLimit.map { "\(Int($0.burst))" } ?? "null"),
            ]
        )
        if let genie {
            section(
                "genie",
                [
                    ("api_url", "\(genie.apiURL)  # origin \(genie.origin), public path \(genie.publicPath)"),
                    ("api_token", "\"\(genie.token)\"  # from \(genie.token.source)"),
                ]
            )
        } else {
            lines.append("genie: null  # not configured: /genie answers 503 upstream_not_configured")
        }
        if let labric {
            section(
                "labric",
                [
                    ("api_base_url", labric.baseURL),
                    ("api_key", "\"\(labric.apiKey)\"  # from \(labric.apiKey.source)"),
                ]
            )
        } else {
            lines.append("labric: null  # not configured: /labric answers 503 upstream_not_configured")
        }
        section(
            "upstream",
            [
                ("connect_timeout_seconds", Self.number(connectTimeoutSeconds)),
                ("idle_timeout_seconds", Self.number(upstreamIdleTimeoutSeconds)),
                ("request_timeout_seconds", Self.number(requestTimeoutSeconds)),
                ("replay_body_limit_bytes", "\(replayBodyLimitBytes)"),
            ]
        )
        section(
            "limits",
            [
                ("max_body_bytes", maxBodyBytes.map { "\($0)" } ?? "null  # no limit"),
                ("max_header_bytes", "\(maxHeaderBytes)"),
                ("login_body_limit_bytes", "\(loginBodyLimitBytes)"),
                ("connection_limit", "\(connectionLimit)"),
            ]
        )
        section("shutdown", [("drain_seconds", Self.number(drainSeconds))])
        section(
            "logging",
            [
                ("access_log", Self.quotedIfNeeded(accessLog.description)),
                ("access_log_file", accessLogFile.map(Self.quotedIfNeeded) ?? "null"),
                ("access_log_max_bytes", "\(accessLogMaxBytes)"),
                ("access_log_keep", "\(accessLogKeep)"),
                ("log_level", logLevel.rawValue),
            ]
        )
        return lines.joined(separator: "\n")
    }

    /// `25` rather than `25.0` for whole seconds.
    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// Quotes values that YAML would otherwise read differently (e.g. `::` or a leading `[`).
    private static func quotedIfNeeded(_ value: String) -> String {
        let plain = value.allSatisfy { $0.isLetter || $0.isNumber || "./_-".contains($0) }
        guard !plain || value.isEmpty else { return value }
        return "\"" + value.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        reduce(into: "") { result, character in
            if character == target { result += replacement } else { result.append(character) }
        }
    }
}
