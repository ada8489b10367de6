import Logging

/// Everything `labgate serve` needs to know, after the YAML file, the environment and the flags are merged and
/// checked (see `GatewayConfiguration+Loading.swift`, and `config/labgate.yaml` for every key).
///
/// A plain value: the defaults here are the documented defaults, so `GatewayConfiguration()` is what an empty
/// configuration loads to, and tests or the sandbox can build one directly.
public struct GatewayConfiguration: Sendable {
    /// The listener's address; loopback by default so that nothing is exposed by accident.
    public var host: String = "127.0.0.1"
    /// The listener's port; 0 picks a free port (tests).
    public var port: Int = 8080
    /// Genie, when configured (its URL and public token).
    public var genie: GenieUpstream?
    /// Labric, when configured (its API key).
    public var labric: LabricUpstream?
    /// Serve on a non-loopback address without client keys; off by default (see `validate`).
    public var allowUnauthenticated: Bool = false
    /// The client keys file (YAML of name, key hash and scopes); nil means client keys are off.
    public var keysFile: String?
    /// Forwarded requests a second each client may send (one shared limit when client keys are off); 0: no limit.
    public var rateLimitPerSecond: Double = 0
    /// Requests a client may send at once after being idle; nil: the rate rounded up, at least 1.
    public var rateLimitBurst: Int?
    /// The TLS certificate chain (PEM); TLS is on when both files are set.
    public var tlsCertificateFile: String?
    /// The TLS private key (PEM).
    public var tlsKeyFile: String?
    /// How long in-flight requests may run after SIGTERM/SIGINT before the process exits anyway.
    public var drainSeconds: Double = 25
    /// Time allowed to open a connection to an upstream (502 `upstream_unreachable` past it).
    public var connectTimeoutSeconds: Double = 5
    /// Time an upstream connection may stay silent while a response is awaited or streamed (504 past it).
    public var upstreamIdleTimeoutSeconds: Double = 60
    /// The longest a whole forwarded request may take (504 past it).
    public var requestTimeoutSeconds: Double = 600
    /// Body-less requests to a plain-http upstream are forwarded from the server's own loop thread (issue 7); off,
    /// they go through AsyncHTTPClient like the rest. Not a configuration key: for tests and comparisons.
    public var plainHTTPOnServerLoop = true
    /// Server loop threads (each with its own libmicrohttpd daemon on the shared listening socket); nil: one per
    /// core, at most four (`listen.loops`, 0 there).
    public var serverLoops: Int?
    /// Each server loop on a CPU of its own, when there are at least two and no more than the CPUs labgate may use
    /// (`listen.pin_loops`; `HTTPServer.Configuration.pinLoops` says why).
    public var pinServerLoops = true
    /// Request bodies up to this size are kept, so a request that met a revoked private token can be replayed.
    public var replayBodyLimitBytes: Int = 1 << 20
    /// The largest request body accepted (413 past it); nil means no limit, bodies stream through.
    public var maxBodyBytes: Int?
    /// The largest request head accepted (431 past it).
    public var maxHeaderBytes: Int = 16 << 10
    /// Seconds a client connection may stay idle before libmicrohttpd closes it (not a configuration key: tests
    /// shorten it).
    public var clientIdleTimeoutSeconds: Int = 60
    /// Concurrent client connections; more wait in the kernel's backlog.
    public var connectionLimit: Int = 4096
    /// The largest body `POST /genie/authn/login` accepts (413 past it).
    public var loginBodyLimitBytes: Int = 64 << 10
    /// Where the one-line-per-request JSON access log goes.
    public var accessLog: AccessLog = .stdout
    /// An audit copy of the access log, written as well as `accessLog`, rotated by size; nil: none.
    public var accessLogFile: String?
    /// The audit file's size past which it is rotated.
    public var accessLogMaxBytes: Int = 10 << 20
    /// Rotated audit files kept beside the current one (`FILE.1` newest ... `FILE.<keep>` oldest).
    public var accessLogKeep: Int = 5
    /// The level of labgate's own log.
    public var logLevel: Logger.Level = .info
    /// The YAML file the configuration was loaded from, if one was found (for the summary and SIGHUP).
    public var configFile: String?

    /// The documented defaults, no upstream configured.
    public init() {}

    /// The per-client rate limit, or nil when there is none.
    public var rateLimit: TokenBucket.Limit? {
        guard rateLimitPerSecond > 0 else { return nil }
        return TokenBucket.Limit(rate: rateLimitPerSecond, burst: rateLimitBurst.map(Double.init))
    }

    /// The audit file's rotation, or nil without one.
    public var accessLogRotation: JSONLogHandler.Sink.Rotation? {
        accessLogFile.map { .init(path: $0, maxBytes: accessLogMaxBytes, keep: accessLogKeep) }
    }

    /// Whether `host` is a loopback address, reachable only from this machine.
    public var listensOnLoopback: Bool { Self.isLoopback(host) }

    /// Whether `host` names the loopback interface: `localhost`, `127.0.0.0/8` or `::1`.
    static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

extension GatewayConfiguration {
    /// Where the access log goes.
    public enum AccessLog: Sendable, Hashable, CustomStringConvertible {
        /// Standard output (the default, and what containers collect).
        case stdout
        /// Standard error.
        case stderr
        /// No access log.
        case off
        /// Appended to this file.
        case file(String)

        /// Parses the configured value: `stdout`, `stderr`, `off`, or a file path.
        init(_ value: String) {
            switch value.lowercased() {
            case "stdout", "-": self = .stdout
            case "stderr": self = .stderr
            case "off", "none", "false": self = .off
            default: self = .file(value)
            }
        }

        /// The configured spelling.
        public var description: String {
            switch self {
            case .stdout: "stdout"
            case .stderr: "stderr"
            case .off: "off"
            case .file(let path): path
            }
        }
    }
}
