import Foundation
import LabgateTestSupport
import Sandbox
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `labgate serve` with its credentials in files and an audit file: the vendor rotates the credential
/// (the simulators refuse the old one from then on), the files are rewritten, and labgate serves with the new ones,
/// on SIGHUP (Labric) and by noticing the change itself (Genie), without a restart. Its output and its rotated
/// audit files hold no credential.
@Suite(.serialized) struct RotationTests {
    /// `LocalHTTP.get` on a thread of its own: it blocks, and the simulators share this process's cooperative pool.
    static func status(_ port: Int, _ path: String) async -> Int? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: LocalHTTP.get(port: port, path: path)?.status) }.start()
        }
    }

    static func eventuallyStatus(_ port: Int, _ path: String, _ status: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if await Self.status(port, path) == status { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func rotatedCredentialFilesApplyWithoutARestart() async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let directory = try E2EEnvironment.makeWorkDirectory("rotation").path
        let genieFile = directory + "/genie_token"
        let labricFile = directory + "/labric_api_key"
        let audit = directory + "/audit.log"
        try await InProcessUpstreams.withSimulators { upstreams in
            try (upstreams.geniePublicToken + "\n").write(toFile: genieFile, atomically: true, encoding: .utf8)
            try upstreams.labricAPIKey.write(toFile: labricFile, atomically: true, encoding: .utf8)
            let environment = [
                "GENIE_API_URL": upstreams.genieAPIURL, "GENIE_API_TOKEN_FILE": genieFile,
                "LABRIC_API_BASE_URL": upstreams.labricBaseURL, "LABRIC_API_KEY_FILE": labricFile,
                "LABGATE_ACCESS_LOG_FILE": audit, "LABGATE_ACCESS_LOG_MAX_BYTES": "1KiB",
                "LABGATE_ACCESS_LOG_KEEP": "2",
            ]
            let newKey = LabricSimulator.APIKey.generate(name: "rotated", scopes: [.admin])
            let newToken = "gpt_sandbox_rotated" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
            try await LabgateProcess.withServe(environment: environment) { gateway in
                let port = gateway.port
                #expect(await Self.eventuallyStatus(port, "/labric/api/v1/files", 200))
                #expect(await Self.eventuallyStatus(port, "/genie/catalog/library", 200))

                // Labric: the key is rotated at the vendor, the file rewritten, labgate told with SIGHUP.
                upstreams.labric.replaceAPIKeys([newKey])
                #expect(await Self.status(port, "/labric/api/v1/files") == 401)
                try newKey.key.write(toFile: labricFile, atomically: true, encoding: .utf8)
                gateway.child.signal(SIGHUP)
                #expect(await Self.eventuallyStatus(port, "/labric/api/v1/files", 200), "\(gateway.child.diagnostics)")

                // Genie: the public token is rotated; labgate notices the rewritten file by itself.
                upstreams.genie.rotatePublicToken(to: newToken)
                upstreams.genie.revokePrivateTokens()
                try (newToken + "\n").write(toFile: genieFile, atomically: true, encoding: .utf8)
                #expect(await Self.eventuallyStatus(port, "/genie/public/v1/instruments", 200))
                #expect(await Self.eventuallyStatus(port, "/genie/catalog/library", 200))

                // A broken file keeps the key in use.
                try "".write(toFile: labricFile, atomically: true, encoding: .utf8)
                gateway.child.signal(SIGHUP)
                #expect(
                    await eventually { gateway.child.stderr.text.contains("credential file rejected") },
                    "\(gateway.child.diagnostics)")
                #expect(await Self.status(port, "/labric/api/v1/files") == 200)
                #expect(await Self.status(port, "/healthz") == 200)
            }
            let files = (0...3).map { $0 == 0 ? audit : "\(audit).\($0)" }
            let present = files.filter { FileManager.default.fileExists(atPath: $0) }
            #expect(present.count == 3, "audit files: \(present)")
            let text = present.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined()
            #expect(text.contains("\"path\":\"/labric/api/v1/files\""))
            SecretScan.expectClean(
                text, secrets: [upstreams.labricAPIKey, newKey.key, upstreams.geniePublicToken, newToken],
                source: "the audit files")
        }
    }
}
