import Foundation
import MicroHTTPServer
import Sandbox
import Testing

/// The Genie example script from the vendor's page (`../shared/reference/genie_catalog_example.py`), run unchanged:
/// through `labgate sandbox` and straight against the Genie simulator.
@Suite("Genie example script")
struct GenieScriptTests {
    @Test func printsTheCatalogThroughTheSandbox() async throws {
        try await LabgateProcess.withSandbox { gateway in
            let directory = try E2EEnvironment.makeWorkDirectory("genie-sandbox")
            // Any token: labgate answers the script's login itself and holds the real one.
            let tokenFile = directory.appendingPathComponent("token.txt")
            try "unused\n".write(to: tokenFile, atomically: true, encoding: .utf8)
            let (script, exit) = try await ChildProcess.run(
                E2EEnvironment.python, [E2EEnvironment.genieExample, "\(gateway.baseURL)/genie", tokenFile.path],
                name: "genie-script-sandbox")
            #expect(exit.succeeded, "\(exit)\n\(script.diagnostics)")
            try Self.expectCatalog(script.stdout.text)
        }
    }

    @Test func printsTheCatalogAgainstTheSimulatorDirectly() async throws {
        try E2EEnvironment.requireAll()
        try await InProcessUpstreams.withSimulators { upstreams in
            let directory = try E2EEnvironment.makeWorkDirectory("genie-direct")
            // token.txt as downloaded: the public token and a trailing newline, which the script sends unstripped.
            let tokenFile = directory.appendingPathComponent("token.txt")
            try (upstreams.geniePublicToken + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
            let host = "http://127.0.0.1:\(upstreams.genieServer.port)"
            let (script, exit) = try await ChildProcess.run(
                E2EEnvironment.python, [E2EEnvironment.genieExample, host, tokenFile.path], name: "genie-script-direct")
            #expect(exit.succeeded, "\(exit)\n\(script.diagnostics)")
            try Self.expectCatalog(script.stdout.text)
        }
    }

    @Test func failsAgainstTheSimulatorWithAWrongToken() async throws {
        try E2EEnvironment.requireAll()
        try await InProcessUpstreams.withSimulators { upstreams in
            let directory = try E2EEnvironment.makeWorkDirectory("genie-wrong")
            let tokenFile = directory.appendingPathComponent("token.txt")
            try "gpt_wrong\n".write(to: tokenFile, atomically: true, encoding: .utf8)
            let host = "http://127.0.0.1:\(upstreams.genieServer.port)"
            let (script, exit) = try await ChildProcess.run(
                E2EEnvironment.python, [E2EEnvironment.genieExample, host, tokenFile.path], name: "genie-script-wrong")
            #expect(!exit.succeeded)
            #expect(script.stderr.text.contains("Failed to exchange the API token, error 401"), "\(script.diagnostics)")
        }
    }

    /// The script prints the catalog's `data` as indented JSON: a list of labware entries.
    static func expectCatalog(_ output: String) throws {
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8))
        let entries = try #require(json as? [[String: Any]], "not a JSON list: \(output.prefix(300))")
        #expect(entries.count >= 3)
        for entry in entries {
            #expect(entry["id"] is String && entry["name"] is String && entry["category"] is String)
            #expect((entry["format"] as? [String: Any])?["wells"] is NSNumber)
        }
    }
}
