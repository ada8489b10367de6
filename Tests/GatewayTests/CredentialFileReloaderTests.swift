import Foundation
import Logging
import Synchronization
import Testing

@testable import Gateway

/// The credential and TLS file watcher without sockets: files in a temporary directory, a captured log.
@Suite struct CredentialFileReloaderTests {
    struct Directory {
        let path: String

        init() throws {
            path =
                FileManager.default.temporaryDirectory.appendingPathComponent("labgate-files-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }

        func file(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func swapsTheValueOnlyWhenTheFileChangedAndTellsOnChange() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let path = try directory.file("key", "lbk_first_0123456789\n")
        let secret = SecretValue("lbk_first_0123456789")
        let changes = Atomic(0)
        let log = CapturedLog()
        let reloader = CredentialFileReloader(
            credentials: [
                .init(name: "LABRIC_API_KEY_FILE", path: path, secret: secret) { changes.add(1, ordering: .relaxed) }
            ],
            logger: log.logger(label: "test"))

        #expect(reloader.reloadIfChanged().isEmpty)
        // Same value rewritten: the file changed, the value did not.
        _ = try directory.file("key", "  lbk_first_0123456789  \n")
        #expect(reloader.reloadIfChanged() == ["LABRIC_API_KEY_FILE": .applied(changed: false)])
        #expect(changes.load(ordering: .relaxed) == 0)

        _ = try directory.file("key", "lbk_second_0123456789\n")
        #expect(reloader.reloadIfChanged() == ["LABRIC_API_KEY_FILE": .applied(changed: true)])
        #expect(secret.value == "lbk_second_0123456789")
        #expect(changes.load(ordering: .relaxed) == 1)
        #expect(reloader.reloadIfChanged().isEmpty)
        #expect(log.all.allSatisfy { !$0.contains("lbk_first") && !$0.contains("lbk_second") })
    }

    @Test func aMissingEmptyOrUnusableFileKeepsTheValue() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let path = try directory.file("token", "gpt_in_use_0123456789")
        let secret = SecretValue("gpt_in_use_0123456789")
        let log = CapturedLog()
        let reloader = CredentialFileReloader(
            credentials: [.init(name: "GENIE_API_TOKEN_FILE", path: path, secret: secret)],
            logger: log.logger(label: "test"))
        for broken in ["", "\n\n", "has inner space", String(repeating: "x", count: 70_000)] {
            _ = try directory.file("token", broken)
            #expect(reloader.reload(reason: "SIGHUP") == ["GENIE_API_TOKEN_FILE": .rejected])
            #expect(secret.value == "gpt_in_use_0123456789")
        }
        try FileManager.default.removeItem(atPath: path)
        #expect(reloader.reloadIfChanged() == ["GENIE_API_TOKEN_FILE": .rejected])
        #expect(secret.value == "gpt_in_use_0123456789")
        #expect(reloader.changeCount == 0)
        let rejected = log.all.filter { $0.contains("credential file rejected") }
        #expect(rejected.count == 5)
        #expect(log.all.allSatisfy { !$0.contains("gpt_in_use") && !$0.contains("inner space") })
    }

    static let certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    static let key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"

    @Test func tlsFilesAreCheckedAndAChangedPairWaitsForARestart() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let certificateFile = try directory.file("cert.pem", Self.certificate)
        let keyFile = try directory.file("key.pem", Self.key)
        let log = CapturedLog()
        let reloader = CredentialFileReloader(
            credentials: [],
            tls: TLSFiles(
                certificateFile: certificateFile, keyFile: keyFile, certificatePEM: Self.certificate,
                privateKeyPEM: Self.key),
            logger: log.logger(label: "test"))

        #expect(reloader.reload(reason: "SIGHUP") == ["tls": .applied(changed: false)])
        _ = try directory.file("cert.pem", "not a certificate")
        #expect(reloader.reloadIfChanged() == ["tls": .rejected])
        _ = try directory.file("cert.pem", Self.certificate.replacingOccurrences(of: "MIIB", with: "MIIC"))
        #expect(reloader.reloadIfChanged() == ["tls": .pendingRestart])
        try FileManager.default.removeItem(atPath: keyFile)
        #expect(reloader.reloadIfChanged() == ["tls": .rejected])
        #expect(log.all.contains { $0.contains("served once labgate restarts") })
        #expect(log.all.allSatisfy { !$0.contains("MIIE") })
    }
}
