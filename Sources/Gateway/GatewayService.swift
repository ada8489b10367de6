import Foundation
import Logging
import MicroHTTPServer
import ServiceLifecycle

/// The whole gateway built from a configuration: the upstream client, the token manager, the responder and the
/// server. It is a `Service`: `run()` serves until graceful shutdown, then drains (readiness 503 first).
public final class GatewayService: Service {
    public let configuration: GatewayConfiguration
    public let server: HTTPServer
    public let readiness: Readiness
    public let observer: RequestObserver
    /// Keeps Genie's private token; run it as a service beside this one (see `services`).
    public let genieTokens: TokenManager?
    /// Who may use which route; off unless `keysFile` is configured.
    public let clients: ClientAuthenticator
    /// Loads the keys file at `start()` and reloads it when it changes; nil without a keys file.
    public let clientKeys: ClientKeysReloader?
    /// Re-reads the credential files and checks the TLS files when they change; nil when nothing comes from a file.
    public let credentialFiles: CredentialFileReloader?
    let client: UpstreamClient
    let logger: Logger

    /// - Parameters:
    ///   - accessLog: the access log's logger, or nil for none.
    ///   - logger: everything else labgate reports.
    public init(configuration: GatewayConfiguration, accessLog: Logger?, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var clientConfiguration = UpstreamClient.Configuration()
        clientConfiguration.connectTimeout = .seconds(configuration.connectTimeoutSeconds)
        clientConfiguration.idleTimeout = .seconds(configuration.upstreamIdleTimeoutSeconds)
        clientConfiguration.requestTimeout = .seconds(configuration.requestTimeoutSeconds)
        clientConfiguration.connectionsPerHost = configuration.connectionLimit
        clientConfiguration.plainHTTPOnServerLoop = configuration.plainHTTPOnServerLoop
        let client = UpstreamClient(configuration: clientConfiguration)
        self.client = client

        // Links are resolved here, not on the server's loop at the first request: that thread must never wait on DNS.
        let labric = configuration.labric.map {
            Upstream(
                name: .labric, origin: $0.upstreamOrigin, credential: SecretValue($0.apiKey.value),
                link: client.makeLink(for: $0.upstreamOrigin))
        }
        let genie = configuration.genie.map {
            Upstream(
                name: .genie, origin: $0.upstreamOrigin, credential: SecretValue($0.token.value),
                link: client.makeLink(for: $0.upstreamOrigin))
        }
        let observerBox = ObserverBox()
        let genieTokens = genie.map { genie in
            TokenManager(
                configuration: .init(upstreamName: "Genie"),
                logger: logger,
                onExchange: { outcome in
                    observerBox.observer?.tokenRefreshed(upstream: "genie", result: outcome.rawValue)
                },
                exchange: GenieTokenExchange.make(client: client, genie: genie)
            )
        }
        self.genieTokens = genieTokens
        let tokens = genieTokens
        var probes: [String: @Sendable () -> Double?] = [:]
        if let tokens { probes["genie"] = { tokens.secondsUntilExpiry } }
        let observer = RequestObserver(accessLog: accessLog, expiryProbes: probes)
        self.observer = observer
        observerBox.observer = observer
        let readiness = Readiness(genieTokens: genieTokens)
        self.readiness = readiness
        let clients = ClientAuthenticator(enabled: configuration.keysFile != nil)
        self.clients = clients
        clientKeys = configuration.keysFile.map {
            ClientKeysReloader(path: $0, authenticator: clients, logger: logger)
        }
        let responder = GatewayResponder(
            upstreams: .init(labric: labric, genie: genie, genieTokens: genieTokens),
            forwarder: Forwarder(client: client, replayLimit: configuration.replayBodyLimitBytes),
            observer: observer,
            readiness: readiness,
            loginBodyLimit: configuration.loginBodyLimitBytes,
            clients: clients,
            rateLimiter: configuration.rateLimit.map { RateLimiter(limit: $0) }
        )
        var serverConfiguration = HTTPServer.Configuration(host: configuration.host, port: configuration.port)
        serverConfiguration.connectionLimit = configuration.connectionLimit
        serverConfiguration.maxBodyBytes = configuration.maxBodyBytes
        serverConfiguration.maxHeaderBytes = configuration.maxHeaderBytes
        serverConfiguration.requestTimeout = .seconds(configuration.requestTimeoutSeconds)
        serverConfiguration.idleTimeout = configuration.clientIdleTimeoutSeconds
        serverConfiguration.loops = configuration.serverLoops ?? Self.defaultLoops
        serverConfiguration.pinLoops = configuration.pinServerLoops
        if let certificateFile = configuration.tlsCertificateFile, let keyFile = configuration.tlsKeyFile {
            // An unreadable file leaves an empty PEM, which makes the listener fail to start and say so.
            serverConfiguration.tls = HTTPServer.TLS(
                certificatePEM: (try? String(contentsOfFile: certificateFile, encoding: .utf8)) ?? "",
                privateKeyPEM: (try? String(contentsOfFile: keyFile, encoding: .utf8)) ?? ""
            )
        }
        server = HTTPServer(configuration: serverConfiguration, responder: responder, logger: logger)
        credentialFiles = Self.credentialFiles(
            configuration: configuration, labric: labric, genie: genie, genieTokens: genieTokens,
            tls: serverConfiguration.tls, logger: logger)
    }

    /// One server loop per core, at most four: each proxied request stays on its loop, and on 2 cores two loops
    /// served 40% more requests than one (issue 7, RESULTS.md); past four cores the upstream and the clients are
    /// more likely the limit than labgate.
    static var defaultLoops: Int { min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    /// The watcher of every credential read from a file, and of the TLS files; nil when there are none.
    private static func credentialFiles(
        configuration: GatewayConfiguration, labric: Upstream?, genie: Upstream?, genieTokens: TokenManager?,
        tls: HTTPServer.TLS?, logger: Logger
    ) -> CredentialFileReloader? {
        var watched: [CredentialFileReloader.Credential] = []
        if let labric, let path = configuration.labric?.apiKey.file {
            watched.append(
                .init(name: ConfigurationKey.labricKeyFile.environmentName, path: path, secret: labric.credential))
        }
        if let genie, let path = configuration.genie?.token.file {
            // A new public token makes the private token obtained with the old one worthless: exchange again.
            watched.append(
                .init(name: ConfigurationKey.genieTokenFile.environmentName, path: path, secret: genie.credential) {
                    genieTokens?.credentialChanged()
                })
        }
        var tlsFiles: TLSFiles?
        if let tls, let certificateFile = configuration.tlsCertificateFile, let keyFile = configuration.tlsKeyFile {
            tlsFiles = TLSFiles(
                certificateFile: certificateFile, keyFile: keyFile, certificatePEM: tls.certificatePEM,
                privateKeyPEM: tls.privateKeyPEM)
        }
        guard !watched.isEmpty || tlsFiles != nil else { return nil }
        return CredentialFileReloader(credentials: watched, tls: tlsFiles, logger: logger)
    }

    /// Every service to run, in start order: the token manager first, so that it stops after the server drained;
    /// the file watchers next.
    public var services: [any Service] {
        var services: [any Service] = []
        if let genieTokens { services.append(genieTokens) }
        if let clientKeys { services.append(clientKeys) }
        if let credentialFiles { services.append(credentialFiles) }
        return services + [self]
    }

    /// Binds the listener (idempotent); `run()` calls it, callers that need the port first may too.
    /// - Throws: `ClientKeysError` when the keys file is unusable (nothing is listening then), or the server's error.
    public func start() throws {
        guard server.port == 0 else { return }
        try clientKeys?.load()
        try server.start()
        logger.info(
            "labgate listening",
            metadata: ["labgate.address": "\(configuration.host):\(server.port)"]
        )
    }

    /// Re-reads what can change without a restart (SIGHUP): the client keys file, the credential files, and the TLS
    /// files (checked; they apply at the next start). An unusable file keeps what is in use and is logged.
    public func reload(reason: String = "SIGHUP") {
        clientKeys?.reload(reason: reason)
        credentialFiles?.reload(reason: reason)
    }

    public func run() async throws {
        try await run(onListening: { _ in })
    }

    /// `run()`, telling `onListening` the bound port before the first request is served.
    /// - Throws: what `start()` throws, after releasing the upstream client (it must not outlive the service unshut).
    public func run(onListening: (Int) -> Void) async throws {
        do {
            try start()
        } catch {
            await client.shutdown()
            throw error
        }
        onListening(server.port)
        // Serve until a graceful shutdown is asked for (SIGTERM, SIGINT, or the group ending).
        try? await gracefulShutdown()
        readiness.beginShutdown()
        logger.info("labgate draining", metadata: ["labgate.drain_seconds": "\(configuration.drainSeconds)"])
        await server.shutdown(gracePeriod: .seconds(configuration.drainSeconds))
        await client.shutdown()
        logger.info("labgate stopped")
    }
}

/// Lets the token manager's callback reach the observer, which is made after it.
private final class ObserverBox: @unchecked Sendable {
    // Written once during GatewayService.init, before any exchange can run; read-only afterwards.
    var observer: RequestObserver?
}
