import Foundation
import LabgateTestSupport
import Testing

/// No credential, private token or key in anything labgate prints or answers, across the real clients' runs and
/// several Genie token refreshes (3-second private tokens).
@Suite("Secret scan")
struct SecretScanTests {
    static let tokenLifetime = 3.0
    static let refreshes = 3

    /// The sandbox makes its credentials up and never shows them, so its output is scanned for their shapes
    /// (`lbk_…`, `gpt_sandbox_…`, JWTs); `withSandbox` scans stdout and stderr after the process ended.
    @Test func sandboxPrintsNoCredential() async throws {
        try await LabgateProcess.withSandbox(genieTokenTTL: Self.tokenLifetime) { gateway in
            let clients = try await Self.runClients(against: gateway)
            let metrics = try #require(
                await Self.waitForRefreshes(gateway), "fewer than \(Self.refreshes) token refreshes")
            let readiness = LocalHTTP.get(port: gateway.port, path: "/readyz")?.body ?? ""
            SecretScan.expectClean(
                clients + metrics + readiness, prefixes: SecretScan.keyPrefixes,
                source: "the clients' output and labgate's answers")
        }
    }

    /// `labgate serve` given known credentials (the public token from a token.txt, the Labric key from the
    /// environment) in front of in-process simulators that record every private token they issue: none of these
    /// values appears in labgate's output, its metrics or what the clients printed.
    @Test func servePrintsNoCredentialItHolds() async throws {
        try E2EEnvironment.requireAll()
        try await InProcessUpstreams.withSimulators(genieTokenLifetime: Self.tokenLifetime) { upstreams in
            let recorder = TokenRecordingResponder(genie: upstreams.genie)
            try await InProcessUpstreams.withServer(recorder) { genie in
                let directory = try E2EEnvironment.makeWorkDirectory("serve-secrets")
                let tokenFile = directory.appendingPathComponent("token.txt")
                try (upstreams.geniePublicToken + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
                let environment = [
                    "GENIE_API_URL": "http://127.0.0.1:\(genie.port)/public/v1",
                    "GENIE_API_TOKEN_FILE": tokenFile.path,
                    "LABRIC_API_BASE_URL": upstreams.labricBaseURL,
                    "LABRIC_API_KEY": upstreams.labricAPIKey,
                    "LABGATE_LOG_LEVEL": "trace",
                ]
                var seen = ""
                let child = try await LabgateProcess.withServe(environment: environment) { gateway in
                    seen += try await Self.runClients(against: gateway)
                    seen += try #require(
                        await Self.waitForRefreshes(gateway), "fewer than \(Self.refreshes) token refreshes")
                    seen += LocalHTTP.get(port: gateway.port, path: "/readyz")?.body ?? ""
                    return gateway.child
                }
                let tokens = recorder.issued.all
                #expect(tokens.count >= Self.refreshes, "only \(tokens.count) private tokens issued")
                let secrets = [upstreams.geniePublicToken, upstreams.labricAPIKey] + tokens
                SecretScan.expectClean(
                    child.stdout.text + child.stderr.text, secrets: secrets, source: "labgate serve's output")
                SecretScan.expectClean(
                    seen, secrets: secrets, prefixes: SecretScan.keyPrefixes,
                    source: "the clients' output and labgate's answers")
            }
        }
    }

    /// The scan itself: it finds credential shapes and known values, and lets the masked form through.
    @Test func scanFindsCredentialShapesButNotMaskedOnes() {
        #expect(SecretScan.findings(in: "key lbk_3f2a_9c1d0e7b8a6f5e4d").count == 1)
        #expect(SecretScan.findings(in: "token=gpt_sandbox_0123456789abcdef").count == 1)
        #expect(SecretScan.findings(in: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig").count == 1)
        #expect(SecretScan.findings(in: "plain words", secrets: ["s3cr3t-value"]).isEmpty)
        #expect(SecretScan.findings(in: "a s3cr3t-value here", secrets: ["s3cr3t-value"]).count == 1)
        #expect(SecretScan.findings(in: #"api_key: "lbk_…(redacted)""#).isEmpty)
        #expect(SecretScan.findings(in: "eyJhbGci", prefixes: SecretScan.keyPrefixes).isEmpty)
    }

    /// The Genie script, the Labric SDK scenario and curl through the gateway; returns what they printed.
    static func runClients(against gateway: RunningGateway) async throws -> String {
        let directory = try E2EEnvironment.makeWorkDirectory("clients")
        let tokenFile = directory.appendingPathComponent("token.txt")
        try "unused\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        var printed = ""
        for (name, arguments) in [
            ("genie-script", [E2EEnvironment.genieExample, "\(gateway.baseURL)/genie", tokenFile.path]),
            ("labric-scenario", [E2EEnvironment.labricScenario, "--gateway", "\(gateway.baseURL)/labric", "unused"]),
        ] {
            let (client, exit) = try await ChildProcess.run(E2EEnvironment.python, arguments, name: name)
            #expect(exit.succeeded, "\(name): \(exit)\n\(client.diagnostics)")
            printed += client.stdout.text + client.stderr.text
        }
        // The gateway's own login answer and an error of its own, headers included.
        let (curl, exit) = try await ChildProcess.run(
            "/usr/bin/env",
            [
                "curl", "-sS", "-i", "-X", "POST", "-H", "Content-Type: application/json", "--data",
                "{\"jwt\":\"unused\"}", "\(gateway.baseURL)/genie/authn/login", "--next", "-sS", "-i",
                "\(gateway.baseURL)/genie/catalog/library", "--next", "-sS", "-i", "\(gateway.baseURL)/nowhere",
            ],
            name: "curl-secrets", timeout: .seconds(30))
        #expect(exit.succeeded, "\(curl.diagnostics)")
        return printed + curl.stdout.text
    }

    /// Polls `/metrics` until the Genie token was exchanged successfully at least `refreshes` times; the metrics
    /// text, or nil past the deadline.
    static func waitForRefreshes(_ gateway: RunningGateway) async -> String? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let metrics = LocalHTTP.get(port: gateway.port, path: "/metrics")?.body,
                successfulRefreshes(in: metrics) >= refreshes
            {
                return metrics
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    static func successfulRefreshes(in metrics: String) -> Int {
        for line in metrics.split(separator: "\n")
        where line.hasPrefix("labgate_token_refreshes_total{") && line.contains("upstream=\"genie\"")
            && line.contains("result=\"success\"")
        {
            return Int(Double(line.split(separator: " ").last ?? "") ?? 0)
        }
        return 0
    }
}
