import Foundation
import Sandbox
import Testing

@testable import Gateway

/// DESIGN.md: "No error, log line or metric ever contains a credential, a private token or a client key." A workload
/// that touches every route, the token refresh, the replay and the failure paths; then every response the test
/// received, every log line and the metrics are scanned for every secret.
@Suite(.serialized) struct GatewaySecretScanTests {
    @Test(.timeLimit(.minutes(2))) func noSecretAppearsInResponsesLogsOrMetrics() async throws {
        var options = LiveGateway.Options(genie: .simulator(tokenLifetime: 300))
        options.recordReplies = true
        try await withLiveGateway(options) { live in
            #expect(await poll { live.tokenIsUsable })
            let genie = try #require(live.genie)
            let instrument = try #require(GenieSimulator.seededInstrumentIDs.first)

            // The ordinary routes.
            for path in [
                "/healthz", "/readyz", "/genie/public/v1/instruments", "/genie/public/v1/instruments/\(instrument)",
                "/genie/catalog/library", "/labric/api/v1/files", "/labric/api/v1/tools/schema",
            ] {
                #expect(try await live.send("GET", path).status == 200, "\(path)")
            }
            let login = try await live.send("POST", "/genie/authn/login", body: #"{"jwt": "whatever"}"#)
            #expect(login.status == 200)
            try await live.send("POST", "/genie/authn/login", body: "not json")
            try await live.send(
                "POST", "/labric/api/v1/agent/runs", body: #"{"prompt": "What tables are there?", "stream": true}"#)

            // A revoked private token: refused, refreshed, replayed.
            genie.revokePrivateTokens()
            #expect(try await live.send("GET", "/genie/catalog/library").status == 200)

            // A revoked token whose refresh fails: labgate's 503, with the exchange failure logged.
            genie.revokePrivateTokens()
            genie.faults.failTokenExchanges(status: 503, count: 1)
            #expect(try await live.send("GET", "/genie/catalog/library").status == 503)
            #expect(await poll { live.tokenIsUsable })
            // A rejected public token (401 from the exchange), logged as such; then working again.
            genie.revokePrivateTokens()
            genie.faults.failTokenExchanges(status: 401, count: 1)
            #expect(try await live.send("GET", "/genie/catalog/library").status == 503)
            #expect(await poll { live.tokenIsUsable })
            #expect(try await live.send("GET", "/genie/catalog/library").status == 200)

            // Upstream errors, labgate's own errors, a client that sends its own credentials.
            genie.faults.forceStatus(401, pathPrefix: "/public/v1", count: 1)
            try await live.send("GET", "/genie/public/v1/instruments")
            try await live.control(
                live.labricServer, "POST", "/_sandbox/faults/status", body: #"{"status": 401, "count": 1}"#)
            try await live.send("GET", "/labric/api/v1/files")
            try await live.send("GET", "/labric/api/v1/files/does-not-exist/content")
            try await live.send("GET", "/nope")
            try await live.send("GET", "/labric/%2e%2e/etc/passwd")
            try await live.send(
                "GET", "/labric/api/v1/files",
                headers: [("Authorization", "Bearer \(live.labricAPIKey)"), ("Proxy-Authorization", live.labricAPIKey)])
            let metrics = try await live.metrics()

            // What to look for: every credential, every private token, and each token's signature on its own.
            let privateTokens = live.privateTokens
            #expect(privateTokens.count >= 4, "private tokens issued: \(privateTokens.count)")
            var secrets = [live.geniePublicToken, live.labricAPIKey]
            for token in privateTokens {
                secrets.append(token)
                if let signature = token.split(separator: ".").last { secrets.append(String(signature)) }
            }

            let replies = live.received.all
            let accessLines = live.accessLog.all
            let logLines = live.log.all
            #expect(replies.count >= 20)
            #expect(accessLines.count >= 20)
            #expect(logLines.contains { $0.contains("Token exchange failed") })
            #expect(logLines.contains { $0.contains("rejected the configured credential") })
            #expect(metrics.contains("labgate_requests_total"))
            // The scan can see: the simulator's own login answers hold the tokens it is looking for.
            #expect(privateTokens.allSatisfy { !$0.isEmpty })

            let places: [(String, [String])] = [
                ("responses", replies), ("access log", accessLines), ("log", logLines), ("metrics", [metrics]),
            ]
            for (place, texts) in places {
                for (index, text) in texts.enumerated() {
                    for secret in secrets where text.contains(secret) {
                        Issue.record(
                            "a secret (\(secret.prefix(6))…) appears in \(place) #\(index): \(text.prefix(300))")
                    }
                }
            }
        }
    }

    /// The suite-wide scan (`expectNoSecretLeaked`) finds a secret at the start, middle and end of a text, and only
    /// the whole secret.
    @Test func theSuiteWideSearchFindsASecretWhereverItIs() {
        let secret = "lbk_live_0123456789abcdef"
        for text in [
            secret, "x" + secret, "Authorization: Bearer \(secret)\n", "é😀 " + secret + " tail", "lbk_\(secret)",
        ] {
            #expect(contains(text, secret), "\(text)")
        }
        for text in ["", "lbk_live_0123456789abcde", "lbk_live_0123456789abcdeX", String(secret.reversed())] {
            #expect(!contains(text, secret), "\(text)")
        }
        #expect(!contains("anything", ""))
    }
}
