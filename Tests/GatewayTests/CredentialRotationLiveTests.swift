import Foundation
import Logging
import Sandbox
import Testing

@testable import Gateway

/// Rotation without a restart: a live gateway whose vendor credentials come from files, in front of simulators
/// that are switched to a new credential (and from then on refuse the old one). The gateway must pick up the new
/// file by itself (polling) or on SIGHUP (`reload`), and a broken file must keep the old credential serving.
@Suite(.serialized) struct CredentialRotationLiveTests {
    /// The credential files in a fresh directory, removed afterwards.
    struct SecretFiles: Sendable {
        let directory: String
        var genie: String { directory + "/genie_token" }
        var labric: String { directory + "/labric_api_key" }

        init() throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("labgate-rotate-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        /// Replaces a file as a secret manager does: a new file renamed over the old one.
        func write(_ text: String, to path: String) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Both simulators, with each credential read from its file (written with the simulators' first credential).
    static func options(_ files: SecretFiles) -> LiveGateway.Options {
        var options = LiveGateway.Options()
        options.recordReplies = true
        options.configure = { configuration in
            if let genie = configuration.genie {
                try? files.write(genie.token.value + "\n", to: files.genie)
                configuration.genie = try? .init(
                    apiURL: genie.apiURL, token: Secret(genie.token.value, source: "test", file: files.genie))
            }
            if let labric = configuration.labric {
                try? files.write(labric.apiKey.value, to: files.labric)
                configuration.labric = try? .init(
                    baseURL: labric.baseURL, apiKey: Secret(labric.apiKey.value, source: "test", file: files.labric))
            }
        }
        return options
    }

    static func newSecret(_ prefix: String) -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    @Test func aRewrittenLabricKeyFileIsPickedUpWithoutARestart() async throws {
        let files = try SecretFiles()
        defer { files.remove() }
        try await withLiveGateway(Self.options(files)) { live in
            let labric = try #require(live.labric)
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)

            // The vendor rotates the key: the old one is refused from now on.
            let rotated = Self.newSecret("lbk_rotated_")
            labric.replaceAPIKeys([.init(rotated, name: "rotated", scopes: [.admin])])
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 401)
            let refusedBefore = labric.faults?.stats().counter("labric.unauthorized") ?? 0
            #expect(refusedBefore >= 1)

            try files.write(rotated + "\n", to: files.labric)
            let picked = try await poll(timeout: .seconds(10), every: .milliseconds(50)) {
                try await live.send("GET", "/labric/api/v1/files").status == 200
            }
            #expect(picked, "the gateway never sent the new key")
            // The simulator still refuses the old key, so the 200 above used the new one.
            let direct = try await live.send(
                "GET", url: "http://127.0.0.1:\(try #require(live.labricServer).port)/api/v1/files",
                headers: [("Authorization", "Bearer \(live.labricAPIKey)")])
            #expect(direct.status == 401)
            #expect(live.gateway.credentialFiles?.changeCount == 1)
            #expect(live.log.all.contains { $0.contains("credential file reloaded") && $0.contains("changed=true") })
            Self.expectNoSecret(in: live, [live.labricAPIKey, rotated])
        }
    }

    @Test func aNewGeniePublicTokenDropsThePrivateTokenAndExchangesAgain() async throws {
        let files = try SecretFiles()
        defer { files.remove() }
        try await withLiveGateway(Self.options(files)) { live in
            let genie = try #require(live.genie)
            #expect(try await live.send("GET", "/genie/catalog/library").status == 200)
            #expect(try await live.send("GET", "/genie/public/v1/instruments").status == 200)
            let loginsBefore = live.genieLogins
            let privateBefore = live.privateTokens

            let rotated = Self.newSecret("gpt_rotated_")
            genie.rotatePublicToken(to: rotated)
            #expect(try await live.send("GET", "/genie/public/v1/instruments").status == 401)

            // SIGHUP's path: reload at once instead of waiting for the poll.
            try files.write(rotated + "\n", to: files.genie)
            live.gateway.reload(reason: "test")
            #expect(try await live.send("GET", "/genie/public/v1/instruments").status == 200)
            // The private token obtained with the old public token was dropped and exchanged with the new one.
            let exchanged = await poll(timeout: .seconds(10), every: .milliseconds(20)) {
                live.genieLogins > loginsBefore
            }
            #expect(exchanged)
            #expect(try await live.send("GET", "/genie/catalog/library").status == 200)
            #expect(live.privateTokens.count > privateBefore.count)
            // The old public token no longer logs in, so the new private token came from the new one.
            #expect((genie.faults.stats().counter("genie.login_rejected")) == 0)
            Self.expectNoSecret(in: live, [live.geniePublicToken, rotated] + live.privateTokens)
        }
    }

    @Test func aBrokenOrMissingFileKeepsTheCredentialInUse() async throws {
        let files = try SecretFiles()
        defer { files.remove() }
        try await withLiveGateway(Self.options(files)) { live in
            let reloader = try #require(live.gateway.credentialFiles)
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)

            for broken in ["", "  \n", "two words"] {
                try files.write(broken, to: files.labric)
                #expect(reloader.reload(reason: "test")["LABRIC_API_KEY_FILE"] == .rejected)
                #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)
            }
            try FileManager.default.removeItem(atPath: files.labric)
            #expect(reloader.reload(reason: "test")["LABRIC_API_KEY_FILE"] == .rejected)
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)
            // A broken file seen by the poll is rejected the same way, and the gateway keeps serving.
            try files.write("", to: files.labric)
            let seen = await poll(timeout: .seconds(10), every: .milliseconds(50)) {
                live.log.all.filter { $0.contains("credential file rejected") && $0.contains("file changed") }.count
                    >= 1
            }
            #expect(seen)
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)
            #expect(reloader.changeCount == 0)
            let rejections = live.log.all.filter { $0.contains("credential file rejected") }
            #expect(rejections.allSatisfy { $0.contains("labgate.problem=") && $0.contains(files.labric) })
            #expect(live.log.all.allSatisfy { !$0.contains("two words") })
            Self.expectNoSecret(in: live, [live.labricAPIKey, live.geniePublicToken])
        }
    }

    static func expectNoSecret(in live: LiveGateway, _ secrets: [String]) {
        let texts = live.log.all + live.accessLog.all + live.received.all
        for secret in secrets where !secret.isEmpty {
            #expect(texts.allSatisfy { !$0.contains(secret) }, "a secret leaked")
        }
    }
}
