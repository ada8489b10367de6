import Foundation
import Testing

/// `labgate sandbox` prints three ready-to-run examples; each must work exactly as printed.
@Suite("Sandbox banner")
struct SandboxBannerTests {
    @Test func bannerSaysNoRealLabIsContacted() async throws {
        try await LabgateProcess.withSandbox { gateway in
            let banner = gateway.child.stdout.text
            #expect(banner.hasPrefix("labgate sandbox listening on \(gateway.baseURL)\n"))
            #expect(banner.contains("No real lab, instrument or vendor is contacted."))
            #expect(Self.examples(in: banner).count == 3, "banner:\n\(banner)")
        }
    }

    /// Each example line runs through `bash -c` as a reader would paste it: from a checkout whose sibling is the
    /// shared folder (the Genie line says `../shared/...`), with the venv first on PATH (its `python3` has the SDK).
    @Test func bannerExamplesWorkAsPrinted() async throws {
        try await LabgateProcess.withSandbox { gateway in
            let examples = Self.examples(in: gateway.child.stdout.text)
            try #require(examples.count == 3, "banner:\n\(gateway.child.stdout.text)")
            let checkout = try Self.makeCheckoutBesideShared()
            let venvBin = URL(fileURLWithPath: E2EEnvironment.python).deletingLastPathComponent().path
            let path = venvBin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            var outputs: [String] = []
            for (index, example) in examples.enumerated() {
                let (shell, exit) = try await ChildProcess.run(
                    "/bin/bash", ["-c", example], name: "banner-example-\(index + 1)",
                    environment: E2EEnvironment.childEnvironment(["PATH": path]), directory: checkout)
                #expect(exit.succeeded, "\(example)\n\(exit)\n\(shell.diagnostics)")
                outputs.append(shell.stdout.text)
            }
            let curl = examples.firstIndex { $0.hasPrefix("curl ") }
            let sdk = examples.firstIndex { $0.contains("from labric import Labric") }
            let genie = examples.firstIndex { $0.contains("genie_catalog_example.py") }
            let (c, s, g) = (try #require(curl), try #require(sdk), try #require(genie))
            // The curl line lists the simulated instruments: `{"data": [{"id", "actions", ...}]}`.
            let listing = try JSONSerialization.jsonObject(with: Data(outputs[c].utf8)) as? [String: Any]
            let instruments = try #require(listing?["data"] as? [[String: Any]], "curl printed: \(outputs[c])")
            #expect(!instruments.isEmpty && instruments.allSatisfy { $0["id"] is String && $0["actions"] is [String] })
            // The SDK line prints the file list (a Python list of File models).
            #expect(outputs[s].hasPrefix("["), "SDK example printed: \(outputs[s])")
            // The Genie line prints the catalog.
            try GenieScriptTests.expectCatalog(outputs[g])
        }
    }

    /// The indented lines under "Try it:".
    static func examples(in banner: String) -> [String] {
        let lines = banner.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "Try it:" }) else {
            return []
        }
        return lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// A directory `main` with a sibling `shared` (a link to the real shared folder), so that `../shared/...` from
    /// `main` resolves as it does from the repository, without writing the example's token.txt into the repository.
    static func makeCheckoutBesideShared() throws -> URL {
        let root = try E2EEnvironment.makeWorkDirectory("banner")
        let checkout = root.appendingPathComponent("main")
        try FileManager.default.createDirectory(at: checkout, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("shared").path, withDestinationPath: E2EEnvironment.shared)
        return checkout
    }
}
