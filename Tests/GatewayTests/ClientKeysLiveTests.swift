import Foundation
import Logging
import MicroHTTPServer
import Sandbox
import Testing

@testable import Gateway

/// Client keys, live: a gateway with a keys file in front of the simulators.
@Suite(.serialized) struct ClientKeysLiveTests {
    /// A keys file in a fresh directory, removed afterwards.
    struct KeysFile: Sendable {
        let directory: String
        var path: String { directory + "/keys.yaml" }

        init() throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("labgate-live-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        func add(_ name: String, _ scopes: String...) throws -> String {
            try ClientKeysFile.addClient(name: name, scopes: scopes.compactMap { ClientScope(parsing: $0) }, path: path)
        }

        /// Replaces the file as an editor would: a new file renamed over the old one.
        func write(_ text: String) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func options(_ keys: KeysFile, genie: Bool = false, labric: Bool = true, rate: Double = 0, burst: Int? = nil)
        -> LiveGateway.Options
    {
        var options = LiveGateway.Options()
        options.genie = genie ? .simulator(tokenLifetime: 300) : .none
        options.labric = labric ? .simulator() : .none
        options.recordReplies = true
        let path = keys.path
        options.configure = { configuration in
            configuration.keysFile = path
            configuration.rateLimitPerSecond = rate
            configuration.rateLimitBurst = burst
        }
        return options
    }

    static func bearer(_ key: String) -> [(String, String)] { [("Authorization", "Bearer \(key)")] }

    static func expectError(_ reply: LiveGateway.Reply, _ status: Int, _ code: String) {
        #expect(reply.status == status, "\(reply.status) \(reply.text)")
        #expect(reply.json?["code"] as? String == code, "\(reply.text)")
        #expect(reply.json?["request_id"] as? String == reply.header("X-Request-Id"))
    }

    @Test func aReadKeyGetsButPostIs403AndUnknownKeysAre401() async throws {
        let keys = try KeysFile()
        defer { keys.remove() }
        let reader = try keys.add("reader", "labric:read")
        let writer = try keys.add("writer", "labric:write")
        let unknown = ClientKeys.generateKey()
        try await withLiveGateway(Self.options(keys)) { live in
            try await live.control(live.labricServer, "POST", "/_sandbox/stats/reset")
            let get = try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(reader))
            #expect(get.status == 200, "\(get.text)")

            let body = #"{"message": "plate 4 is done"}"#
            let post = try await live.send(
                "POST", "/labric/api/v1/notifications", headers: Self.bearer(reader), body: body)
            Self.expectError(post, 403, "forbidden")
            Self.expectError(
                try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(unknown)), 401,
                "unauthenticated")
            Self.expectError(try await live.send("GET", "/labric/api/v1/files"), 401, "unauthenticated")
            Self.expectError(
                try await live.send(
                    "GET", "/labric/api/v1/files", headers: [("Authorization", "Bearer \(live.labricAPIKey)")]),
                401, "unauthenticated")
            // Refused requests never reach the upstream; an allowed write does.
            let stats = try await live.control(live.labricServer, "GET", "/_sandbox/stats")
            #expect(jsonInt((stats.json?["requests"] as? [String: Any])?["/api/v1/notifications"]) == nil)
            // An allowed write reaches the upstream (whose answer passes through, whatever it is).
            let written = try await live.send(
                "POST", "/labric/api/v1/notifications", headers: Self.bearer(writer), body: body)
            #expect(written.json?["code"] == nil, "\(written.text)")
            let after = try await live.control(live.labricServer, "GET", "/_sandbox/stats")
            #expect(jsonInt((after.json?["requests"] as? [String: Any])?["/api/v1/notifications"]) == 1)

            // The probes stay open.
            #expect(try await live.send("GET", "/healthz").status == 200)
            #expect(try await live.send("GET", "/metrics").status == 200)

            // The access log names each client, and holds no key.
            #expect(await poll { live.accessLog.all.count >= 8 }, "\(live.accessLog.all)")
            let lines = live.accessLog.all
            #expect(lines.contains { $0.contains("client=reader") && $0.contains("status=200") })
            #expect(
                lines.contains {
                    $0.contains("client=reader") && $0.contains("status=403") && $0.contains("method=POST")
                })
            #expect(lines.contains { $0.contains("client=writer") && $0.contains("method=POST") })
            #expect(lines.contains { $0.contains("status=401") && !$0.contains("client=") })
            for text in lines + live.log.all + live.received.all {
                for secret in [reader, writer, unknown, live.labricAPIKey] { #expect(!text.contains(secret)) }
            }
        }
    }

    @Test func theGenieScriptWorksWithATeamKeyInItsTokenFile() async throws {
        let keys = try KeysFile()
        defer { keys.remove() }
        let team = try keys.add("bench-3", "genie:read")
        let labricOnly = try keys.add("labric-bot", "labric:write")
        try await withLiveGateway(Self.options(keys, genie: true, labric: false)) { live in
            // The script posts token.txt as read, newline included, and sends back whatever `jwt` it gets.
            let login = try await live.send("POST", "/genie/authn/login", body: #"{"jwt": "\#(team)\n"}"#)
            #expect(login.status == 200, "\(login.text)")
            let jwt = try #require(login.json?["jwt"] as? String)
            #expect(jwt == team)
            let catalog = try await live.send("GET", "/genie/catalog/library", headers: Self.bearer(jwt))
            #expect(catalog.status == 200, "\(catalog.text)")
            #expect(catalog.json?["data"] != nil)
            let instruments = try await live.send("GET", "/genie/public/v1/instruments", headers: Self.bearer(team))
            #expect(instruments.status == 200, "\(instruments.text)")

            Self.expectError(
                try await live.send("POST", "/genie/authn/login", body: #"{"jwt": "\#(live.geniePublicToken)"}"#), 401,
                "unauthenticated")
            Self.expectError(
                try await live.send("POST", "/genie/authn/login", body: #"{"jwt": "\#(labricOnly)"}"#), 403, "forbidden"
            )
            Self.expectError(try await live.send("GET", "/genie/catalog/library"), 401, "unauthenticated")

            #expect(await poll { live.accessLog.all.count >= 6 })
            let lines = live.accessLog.all
            #expect(lines.contains { $0.contains("client=bench-3") && $0.contains("route=genie_login") })
            #expect(lines.contains { $0.contains("client=bench-3") && $0.contains("route=genie_private") })
            #expect(lines.contains { $0.contains("client=labric-bot") && $0.contains("status=403") })
            for text in lines + live.log.all { #expect(!text.contains(team)) }
        }
    }

    @Test func aChangedKeysFileTakesEffectWithoutARestartAndABadOneIsIgnored() async throws {
        let keys = try KeysFile()
        defer { keys.remove() }
        let old = try keys.add("old", "labric:read")
        try await withLiveGateway(Self.options(keys)) { live in
            let reloader = try #require(live.gateway.clientKeys)
            let watcher = Task { await reloader.run() }
            defer { watcher.cancel() }
            #expect(try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(old)).status == 200)

            // Rotation: a new key added, the old one removed, by whole-file replacement.
            let new = try keys.add("new", "labric:read")
            var text = try #require(try ConfigurationFileReader.text(atPath: keys.path))
            let oldEntry = try #require(text.range(of: "- name: \"old\""))
            let newEntry = try #require(text.range(of: "- name: \"new\""))
            text.removeSubrange(oldEntry.lowerBound..<newEntry.lowerBound)
            try keys.write(text)
            #expect(
                await poll(timeout: .seconds(10), every: .milliseconds(50)) {
                    (try? await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(old)).status) == 401
                })
            #expect(try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(new)).status == 200)

            // A broken file keeps the keys in use, and says why.
            try keys.write("- name: [broken\n")
            #expect(
                await poll(timeout: .seconds(10), every: .milliseconds(50)) {
                    live.log.all.contains { $0.contains("client keys file rejected") && $0.contains("not valid YAML") }
                })
            #expect(try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(new)).status == 200)
            // A missing file too.
            try FileManager.default.removeItem(atPath: keys.path)
            #expect(
                await poll(timeout: .seconds(10), every: .milliseconds(50)) {
                    live.log.all.contains { $0.contains("client keys file rejected") && $0.contains("does not exist") }
                })
            #expect(try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(new)).status == 200)

            // SIGHUP's path: an explicit reload.
            try keys.write("")
            live.gateway.reload(reason: "test")
            Self.expectError(
                try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(new)), 401, "unauthenticated")
            #expect(live.log.all.contains { $0.contains("client keys reloaded") && $0.contains("labgate.reason=test") })
        }
    }

    @Test func aBadKeysFileStopsStartupWithAClearMessage() async throws {
        let keys = try KeysFile()
        defer { keys.remove() }
        try keys.write("- name: alice\n  key_hash: sha256:00\n  scopes: [labric:delete]\n")
        var configuration = GatewayConfiguration()
        configuration.port = 0
        configuration.keysFile = keys.path
        let gateway = GatewayService(
            configuration: configuration, accessLog: nil, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        do {
            try gateway.start()
            Issue.record("started")
        } catch let error as ClientKeysError {
            let message = error.description
            #expect(message.hasPrefix("The client keys file \(keys.path) is invalid:"), "\(message)")
            #expect(message.contains("line 1 (alice): key_hash must be"))
            #expect(message.contains("unknown scope \"labric:delete\""))
        }
        #expect(gateway.server.port == 0)
        await gateway.client.shutdown()
    }

    @Test func aClientOverItsRateGets429WithRetryAfter() async throws {
        let keys = try KeysFile()
        defer { keys.remove() }
        let busy = try keys.add("busy", "labric:read")
        let calm = try keys.add("calm", "labric:read")
        try await withLiveGateway(Self.options(keys, rate: 0.2, burst: 2)) { live in
            for _ in 0..<2 {
                #expect(try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(busy)).status == 200)
            }
            let limited = try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(busy))
            Self.expectError(limited, 429, "rate_limited")
            let retryAfter = try #require(limited.header("Retry-After").flatMap { Int($0) })
            #expect((1...5).contains(retryAfter))
            #expect(try await live.send("GET", "/labric/api/v1/files", headers: Self.bearer(calm)).status == 200)
            // Probes are not counted.
            #expect(try await live.send("GET", "/healthz").status == 200)
            #expect(
                await poll { live.accessLog.all.contains { $0.contains("client=busy") && $0.contains("status=429") } })
        }
    }
}
