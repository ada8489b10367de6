import AsyncHTTPClient
import Foundation
import Logging
import MicroHTTPServer
import NIOCore
import Sandbox
import Synchronization
import Testing

@testable import Gateway

/// A gateway running in process on 127.0.0.1 (port 0) in front of live upstreams, with an HTTP client pointed at it.
///
/// Built like `labgate sandbox` builds it (a `GatewayConfiguration` in code), but every part is reachable from the
/// test: the simulators and their fault injectors, the token manager, the captured logs, and every reply the client
/// received (for the secret scan).
final class LiveGateway: Sendable {
    /// What stands behind the gateway.
    struct Options: Sendable {
        enum Genie: Sendable {
            case none
            /// The Genie simulator, issuing private tokens that live this many seconds.
            case simulator(tokenLifetime: Double)
        }

        enum Labric: Sendable {
            case none
            /// The Labric simulator; `agentEventInterval` paces its server-sent events.
            case simulator(agentEventInterval: Duration = .milliseconds(15))
            /// A custom upstream, served by `HTTPServer` on a port of its own.
            case custom(@Sendable (HTTPServerRequest) async throws -> HTTPServerResponse)
            /// An address nothing listens on.
            case unreachable
            /// An upstream the test runs itself on 127.0.0.1 (e.g. a `ScriptedUpstream`).
            case port(Int)
        }

        var genie: Genie = .simulator(tokenLifetime: 300)
        var labric: Labric = .simulator()
        /// A path appended to the Labric base URL (e.g. `/base`).
        var labricBasePath = ""
        /// Keep a transcript of every reply `send` receives, upstreams' own included (replies from the gateway are
        /// always kept for the secret scan).
        var recordReplies = false
        /// Scan replies, logs and metrics for secrets when the test ends. Off only for an upstream that echoes the
        /// request it saw, injected credential included, back to the client on purpose.
        var scanSecretsAtEnd = true
        /// Last changes to the gateway's configuration.
        var configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in }
        /// Makes the access log's logger from the final configuration (e.g. the real rotating file); nil: the
        /// captured `accessLog`.
        var accessLogger: (@Sendable (GatewayConfiguration) throws -> Logger?)? = nil
    }

    let gateway: GatewayService
    let client: HTTPClient
    /// The gateway's base URL, e.g. `http://127.0.0.1:41234`.
    let baseURL: String
    let genie: GenieSimulator?
    let genieServer: HTTPServer?
    let labric: LabricSimulator?
    let labricServer: HTTPServer?
    /// The secrets the upstreams accept; made up per run.
    let geniePublicToken: String
    let labricAPIKey: String
    /// Every private token the Genie simulator handed out, captured from its `/authn/login` answers.
    let issuedPrivateTokens: TextStore
    /// Holds Genie logins on demand.
    let loginHold: LoginHold
    /// The access log (`accessLog`) and everything else labgate logged (`log`).
    let accessLog: CapturedLog
    let log: CapturedLog
    /// Every reply `send` received, as text (status, headers, body), when `Options.recordReplies` is on.
    let received = TextStore()
    let recordReplies: Bool

    fileprivate init(
        gateway: GatewayService, client: HTTPClient, genie: GenieSimulator?, genieServer: HTTPServer?,
        labric: LabricSimulator?, labricServer: HTTPServer?, geniePublicToken: String, labricAPIKey: String,
        issuedPrivateTokens: TextStore, loginHold: LoginHold, accessLog: CapturedLog, log: CapturedLog,
        recordReplies: Bool
    ) {
        self.recordReplies = recordReplies
        self.gateway = gateway
        self.client = client
        self.baseURL = "http://127.0.0.1:\(gateway.server.port)"
        self.genie = genie
        self.genieServer = genieServer
        self.labric = labric
        self.labricServer = labricServer
        self.geniePublicToken = geniePublicToken
        self.labricAPIKey = labricAPIKey
        self.issuedPrivateTokens = issuedPrivateTokens
        self.loginHold = loginHold
        self.accessLog = accessLog
        self.log = log
    }

    var tokens: TokenManager { gateway.genieTokens! }

    /// Successful Genie logins so far, from the simulator's counters.
    var genieLogins: Int { genie?.faults.stats().counter("genie.logins") ?? 0 }

    /// How many callers wait in the token manager for the exchange in progress.
    var tokenWaiters: Int { tokens.state.withLock { $0.machine.waiterCount } }

    var tokenIsUsable: Bool {
        if case .ready = tokens.status { return true }
        return false
    }

    /// The private tokens captured so far.
    var privateTokens: [String] { issuedPrivateTokens.all }

    // MARK: Requests

    /// A reply read whole.
    struct Reply: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        /// The body as a JSON object, or nil.
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        }
    }

    /// Sends one request through the gateway and reads the whole reply (small bodies only).
    @discardableResult
    func send(
        _ method: String = "GET",
        _ path: String,
        headers: [(String, String)] = [],
        body: String? = nil,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Reply {
        try await send(method, url: baseURL + path, headers: headers, body: body, timeout: timeout)
    }

    /// Sends one request to any URL (an upstream directly, for comparison) and reads the whole reply.
    @discardableResult
    func send(
        _ method: String,
        url: String,
        headers: [(String, String)] = [],
        body: String? = nil,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
        }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let reply = Reply(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: Array(bytes.readableBytesView)
        )
        // Every reply from the gateway is kept for the secret scan at the end of `withLiveGateway`; an upstream's
        // own replies (straight to a simulator) may hold tokens and are kept only when asked for.
        guard recordReplies || url.hasPrefix(baseURL + "/") else { return reply }
        let transcript =
            "\(reply.status)\n" + reply.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n") + "\n\n"
            + reply.text
        received.append(transcript)
        return reply
    }

    /// Sends a control request straight to a simulator (`/_sandbox/...`), not through the gateway.
    @discardableResult
    func control(_ server: HTTPServer?, _ method: String, _ path: String, body: String? = nil) async throws -> Reply {
        let server = try #require(server)
        let reply = try await send(method, url: "http://127.0.0.1:\(server.port)\(path)", body: body)
        #expect(reply.status == 200, "control \(method) \(path): \(reply.text)")
        return reply
    }

    /// The gateway's `/metrics` text.
    func metrics() async throws -> String {
        try await send("GET", "/metrics").text
    }
}

/// Runs `body` against a live gateway and its upstreams, and always shuts everything down (client, gateway server,
/// the gateway's upstream client, the upstream servers, the token manager's loop), even when `body` throws.
func withLiveGateway<T: Sendable>(
    _ options: LiveGateway.Options = .init(),
    _ body: @Sendable (LiveGateway) async throws -> T
) async throws -> T {
    let accessLog = CapturedLog()
    let log = CapturedLog()
    let logger = log.logger(label: "labgate")
    let geniePublicToken = "gpt_live_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
    let labricAPIKey = "lbk_live_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
    let issued = TextStore()
    let loginHold = LoginHold()
    let upstreamLogger = Logger(label: "upstream") { _ in SwiftLogNoOpLogHandler() }

    var servers: [HTTPServer] = []
    func shutdownServers() async {
        for server in servers { await server.shutdown(gracePeriod: .seconds(2)) }
    }

    var configuration = GatewayConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.allowUnauthenticated = true
    // The access log goes to `accessLog` (passed to GatewayService below), not to stdout.
    configuration.accessLog = .off
    configuration.drainSeconds = 2

    var genie: GenieSimulator?
    var genieServer: HTTPServer?
    var labric: LabricSimulator?
    var labricServer: HTTPServer?
    do {
        if case .simulator(let lifetime) = options.genie {
            let simulator = GenieSimulator(
                configuration: .init(publicToken: geniePublicToken, privateTokenLifetime: lifetime))
            let server = HTTPServer(
                configuration: .init(host: "127.0.0.1", port: 0),
                responder: TokenRecordingResponder(genie: simulator, issued: issued, hold: loginHold),
                logger: upstreamLogger
            )
            servers.append(server)
            try server.start()
            (genie, genieServer) = (simulator, server)
            configuration.genie = try .init(
                apiURL: "http://127.0.0.1:\(server.port)/public/v1", token: Secret(geniePublicToken, source: "test"))
        }
        var labricPort: Int?
        switch options.labric {
        case .none:
            break
        case .simulator(let interval):
            let key = LabricSimulator.APIKey(labricAPIKey, name: "live test", scopes: [.admin])
            var simulatorConfiguration = LabricSimulator.Configuration()
            simulatorConfiguration.agentEventInterval = interval
            let simulator = LabricSimulator(
                apiKeys: [key], configuration: simulatorConfiguration, faults: FaultInjector())
            let server = HTTPServer(
                configuration: .init(host: "127.0.0.1", port: 0), responder: simulator, logger: upstreamLogger)
            servers.append(server)
            try server.start()
            (labric, labricServer) = (simulator, server)
            labricPort = server.port
        case .custom(let respond):
            let server = HTTPServer(
                configuration: .init(host: "127.0.0.1", port: 0), responder: ClosureResponder(respond),
                logger: upstreamLogger)
            servers.append(server)
            try server.start()
            labricServer = server
            labricPort = server.port
        case .unreachable:
            labricPort = try await unusedPort()
        case .port(let port):
            labricPort = port
        }
        if let labricPort {
            configuration.labric = try .init(
                baseURL: "http://127.0.0.1:\(labricPort)\(options.labricBasePath)",
                apiKey: Secret(labricAPIKey, source: "test"))
        }
    } catch {
        await shutdownServers()
        throw error
    }
    options.configure(&configuration)

    let accessLogger: Logger?
    do {
        accessLogger = try options.accessLogger?(configuration) ?? accessLog.logger(label: "labgate.access")
    } catch {
        await shutdownServers()
        throw error
    }
    let gateway = GatewayService(configuration: configuration, accessLog: accessLogger, logger: logger)
    do {
        try gateway.start()
    } catch {
        await gateway.client.shutdown()
        await shutdownServers()
        throw error
    }
    var clientConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1200
    clientConfiguration.httpVersion = .http1Only
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    let live = LiveGateway(
        gateway: gateway, client: client, genie: genie, genieServer: genieServer, labric: labric,
        labricServer: labricServer, geniePublicToken: geniePublicToken, labricAPIKey: labricAPIKey,
        issuedPrivateTokens: issued, loginHold: loginHold, accessLog: accessLog, log: log,
        recordReplies: options.recordReplies)
    let upstreamServers = servers

    return try await withThrowingTaskGroup(of: Void.self) { group in
        // TokenManager.token() completes only while run() runs: the loop performs every exchange.
        if let tokens = gateway.genieTokens {
            group.addTask { await tokens.run() }
        }
        // The credential and TLS files are polled as `labgate serve` polls them.
        if let files = gateway.credentialFiles {
            group.addTask { await files.run() }
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(live))
        } catch {
            result = .failure(error)
        }
        if options.scanSecretsAtEnd { await expectNoSecretLeaked(live) }
        try? await client.shutdown()
        gateway.readiness.beginShutdown()
        await gateway.server.shutdown(gracePeriod: .seconds(2))
        await gateway.client.shutdown()
        for server in upstreamServers { await server.shutdown(gracePeriod: .seconds(2)) }
        group.cancelAll()
        return try result.get()
    }
}

/// Issue 5: across the whole suite, no reply from the gateway, log line, access-log line or metric holds a vendor
/// credential or a private token. Every live gateway is scanned this way when its test ends.
func expectNoSecretLeaked(_ live: LiveGateway, sourceLocation: SourceLocation = #_sourceLocation) async {
    var secrets = [live.geniePublicToken, live.labricAPIKey]
    for token in live.privateTokens {
        secrets.append(token)
        if let signature = token.split(separator: ".").last, signature.count >= 16 { secrets.append(String(signature)) }
    }
    let metrics = (try? await live.send("GET", "/metrics").text) ?? ""
    let places: [(String, [String])] = [
        ("replies", live.received.all), ("access log", live.accessLog.all), ("log", live.log.all),
        ("metrics", [metrics]),
    ]
    for (place, texts) in places {
        for text in texts {
            for secret in secrets where contains(text, secret) {
                Issue.record(
                    "a secret (\(secret.prefix(6))…) appears in the \(place): \(text.prefix(300))",
                    sourceLocation: sourceLocation)
            }
        }
    }
}

/// Whether `needle`'s bytes occur in `haystack`'s: memchr and memcmp, since a suite-wide scan reads thousands of replies for
/// dozens of secrets, too slow for `String.contains` in a debug build.
func contains(_ haystack: String, _ needle: String) -> Bool {
    var haystack = haystack
    var needle = needle
    return haystack.withUTF8 { text in
        needle.withUTF8 { secret in
            guard let base = text.baseAddress, let pattern = secret.baseAddress, !secret.isEmpty else { return false }
            var offset = 0
            while offset + secret.count <= text.count {
                guard let hit = memchr(base + offset, Int32(secret[0]), text.count - offset - secret.count + 1) else {
                    return false
                }
                let start = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(base + start, pattern, secret.count) == 0 { return true }
                offset = start + 1
            }
            return false
        }
    }
}

/// A port nothing listens on: bound by a server that is then shut down.
func unusedPort() async throws -> Int {
    let probe = HTTPServer(
        configuration: .init(host: "127.0.0.1", port: 0), responder: ClosureResponder { _ in .init(status: 204) },
        logger: Logger(label: "probe") { _ in SwiftLogNoOpLogHandler() })
    try probe.start()
    let port = probe.port
    await probe.shutdown(gracePeriod: .zero)
    return port
}

/// Texts kept by several tasks: captured private tokens, replies.
final class TextStore: Sendable {
    private let texts = Mutex<[String]>([])

    func append(_ text: String) { texts.withLock { $0.append(text) } }
    var all: [String] { texts.withLock { $0 } }
}

/// Holds the next Genie login until the test opens the gate it was given.
final class LoginHold: Sendable {
    private let pending = Mutex<Gate?>(nil)
    /// Logins that were held so far.
    let held = Tally()

    /// The next login waits for the returned gate.
    func holdNext() -> Gate {
        let gate = Gate()
        pending.withLock { $0 = gate }
        return gate
    }

    func take() -> Gate? {
        pending.withLock { pending in
            defer { pending = nil }
            return pending
        }
    }
}

/// Serves the Genie simulator (holding a login when asked to) and keeps every private token its `/authn/login` hands out, for the secret scan.
struct TokenRecordingResponder: HTTPResponder {
    let genie: GenieSimulator
    let issued: TextStore
    let hold: LoginHold

    private struct LoginAnswer: Decodable { var jwt: String }

    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        if request.path == "/authn/login", let gate = hold.take() {
            hold.held.add()
            await gate.wait()
        }
        let response = try await genie.respond(to: request)
        guard request.path == "/authn/login", response.status == 200 else { return response }
        let body = try await response.collectBody()
        if let answer = try? JSONDecoder().decode(LoginAnswer.self, from: Data(body.readableBytesView)) {
            issued.append(answer.jwt)
        }
        var copy = response
        copy.body = .bytes(body)
        return copy
    }
}
