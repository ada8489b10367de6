import Foundation
import Testing

/// Issue 5 with the real clients: a team gateway whose keys were made by `labgate keys add`, the official Labric
/// SDK with a team key as its `api_key`, the Genie example script with a team key in its `token.txt`, and the
/// access log naming each client. In front of the simulators, which accept only the gateway's own credentials.
@Suite("Team keys")
struct TeamKeysTests {
    @Test func theRealClientsWorkWithTeamKeysAndTheAccessLogNamesThem() async throws {
        try E2EEnvironment.requireAll()
        let directory = try E2EEnvironment.makeWorkDirectory("team-keys")
        let keysFile = directory.appendingPathComponent("keys.yaml").path
        let alice = try await Self.addKey("alice", ["labric:write", "genie:read"], keysFile)
        let reader = try await Self.addKey("reader", ["labric:read"], keysFile)
        #expect(alice.hasPrefix("lgk_") && reader.hasPrefix("lgk_") && alice != reader)
        let stored = try String(contentsOfFile: keysFile, encoding: .utf8)
        #expect(!stored.contains(alice) && !stored.contains(reader), "the keys file holds a key, not its hash")

        try await InProcessUpstreams.withSimulators { upstreams in
            let environment = [
                "GENIE_API_URL": upstreams.genieAPIURL, "GENIE_API_TOKEN": upstreams.geniePublicToken,
                "LABRIC_API_BASE_URL": upstreams.labricBaseURL, "LABRIC_API_KEY": upstreams.labricAPIKey,
                "LABGATE_KEYS_FILE": keysFile, "LABGATE_ACCESS_LOG": "stdout",
            ]
            try await LabgateProcess.withServe(environment: environment) { gateway in
                // The SDK scenario as against the vendor: its bad-key step now meets labgate's 401.
                let (scenario, scenarioExit) = try await ChildProcess.run(
                    E2EEnvironment.python, [E2EEnvironment.labricScenario, "\(gateway.baseURL)/labric", alice],
                    name: "labric-scenario-team-key")
                #expect(scenarioExit.succeeded, "\(scenarioExit)\n\(scenario.diagnostics)")
                #expect(scenario.stdout.text.hasSuffix("scenario passed\n"), "\(scenario.diagnostics)")
                #expect(scenario.stdout.text.contains("ok   UnauthorizedError with a bad key"))

                // The Genie script with the team key as its token.txt (newline and all).
                let tokenFile = directory.appendingPathComponent("token.txt")
                try (alice + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
                let (script, scriptExit) = try await ChildProcess.run(
                    E2EEnvironment.python, [E2EEnvironment.genieExample, "\(gateway.baseURL)/genie", tokenFile.path],
                    name: "genie-script-team-key")
                #expect(scriptExit.succeeded, "\(scriptExit)\n\(script.diagnostics)")
                try GenieScriptTests.expectCatalog(script.stdout.text)

                // A read-only key reads but may not write; the SDK raises its typed errors for labgate's 403.
                let (readOnly, readOnlyExit) = try await ChildProcess.run(
                    E2EEnvironment.python,
                    ["-c", Self.readOnlyCheck, "\(gateway.baseURL)/labric", reader], name: "labric-read-only-key")
                #expect(readOnlyExit.succeeded, "\(readOnlyExit)\n\(readOnly.diagnostics)")
                #expect(readOnly.stdout.text == "listed\nForbiddenError forbidden\n", "\(readOnly.diagnostics)")

                // The access log names each client, for every route it used.
                let accessLog = await gateway.child.waitForOutput { text -> String? in
                    text.contains("\"client\":\"reader\"") ? text : nil
                }
                let lines = (accessLog ?? gateway.child.stdout.text).split(separator: "\n")
                for (client, route, status) in [
                    ("alice", "labric", "200"), ("alice", "genie_login", "200"), ("alice", "genie_private", "200"),
                    ("reader", "labric", "200"), ("reader", "labric", "403"),
                ] {
                    #expect(
                        lines.contains {
                            $0.contains("\"client\":\"\(client)\"") && $0.contains("\"route\":\"\(route)\"")
                                && $0.contains("\"status\":\"\(status)\"")
                        }, "no access-log line for \(client) \(route) \(status)")
                }
                SecretScan.expectClean(
                    scenario.stdout.text + script.stdout.text + readOnly.stdout.text + gateway.child.stdout.text
                        + gateway.child.stderr.text, secrets: [alice, reader], source: "team gateway and its clients")
            }
        }
    }

    /// A script for the SDK with a read-scoped key: a list works, an upload is refused with the typed 403.
    static let readOnlyCheck = """
        import sys
        from labric import Labric
        from labric.core.api_error import ApiError
        client = Labric(base_url=sys.argv[1], api_key=sys.argv[2])
        client.files.list()
        print("listed")
        try:
            client.files.upload(file=("plate.csv", b"a,b\\n1,2\\n"))
        except ApiError as error:
            body = error.body
            code = body.get("code") if isinstance(body, dict) else getattr(body, "code", None)
            print(type(error).__name__, code)
        """

    /// `labgate keys add NAME --scope ... --keys-file FILE`: the key it prints once.
    static func addKey(_ name: String, _ scopes: [String], _ file: String) async throws -> String {
        let (keys, exit) = try await ChildProcess.run(
            E2EEnvironment.labgate,
            ["keys", "add", name] + scopes.flatMap { ["--scope", $0] } + ["--keys-file", file],
            name: "labgate-keys-add-\(name)", timeout: .seconds(30))
        #expect(exit.succeeded, "\(exit)\n\(keys.diagnostics)")
        return keys.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
