import Foundation
import Testing

@testable import Gateway

@Suite struct CredentialSourceTests {
    /// A file in a fresh temporary directory, removed afterwards.
    @discardableResult
    func withFile<T>(_ contents: Data, _ body: (String) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("labgate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token.txt")
        try contents.write(to: file)
        return try body(file.path)
    }

    @Test func resolvesEnvironmentValueOrFile() throws {
        #expect(try CredentialSource.resolve("GENIE_API_TOKEN", environment: [:]) == nil)
        #expect(try CredentialSource.resolve("GENIE_API_TOKEN", environment: ["GENIE_API_TOKEN": ""]) == nil)
        #expect(
            try CredentialSource.resolve("LABRIC_API_KEY", environment: ["LABRIC_API_KEY": "lbk_a_b"])
                == .environment(name: "LABRIC_API_KEY", value: "lbk_a_b"))
        #expect(
            try CredentialSource.resolve("GENIE_API_TOKEN", environment: ["GENIE_API_TOKEN_FILE": "/run/secrets/g"])
                == .file(name: "GENIE_API_TOKEN_FILE", path: "/run/secrets/g"))
    }

    @Test func refusesBothValueAndFile() {
        #expect(throws: GatewayError.self) {
            try CredentialSource.resolve("X", environment: ["X": "a", "X_FILE": "/f"])
        }
    }

    @Test func trimsWhitespaceFromValues() throws {
        #expect(try CredentialSource.environment(name: "X", value: "  lbk_a_b\n").load() == "lbk_a_b")
        #expect(try CredentialSource.clean("\u{FEFF}tok\r\n", from: "X") == "tok")
    }

    @Test func readsATokenFileAsDownloaded() throws {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
        for contents in [token, token + "\n", token + "\r\n", "\n  " + token + " \n\n", "\u{FEFF}" + token + "\n"] {
            let loaded = try withFile(Data(contents.utf8)) { path in
                try CredentialSource.file(name: "GENIE_API_TOKEN_FILE", path: path).load()
            }
            #expect(loaded == token)
        }
    }

    @Test func rereadsTheFileOnEveryLoad() throws {
        try withFile(Data("old\n".utf8)) { path in
            let source = CredentialSource.file(name: "F", path: path)
            #expect(try source.load() == "old")
            try Data("new\n".utf8).write(to: URL(fileURLWithPath: path))
            #expect(try source.load() == "new")
        }
    }

    @Test func refusesUnusableValues() throws {
        for bad in ["", "   \n", "two words", "line1\nline2", "tok\u{0}x", "caf\u{E9}"] {
            #expect(throws: GatewayError.self) { try CredentialSource.environment(name: "X", value: bad).load() }
        }
        #expect(throws: GatewayError.self) { try CredentialSource.file(name: "F", path: "/nonexistent/labgate").load() }
        try withFile(Data(repeating: 0x61, count: CredentialSource.maximumFileSize + 1)) { path in
            #expect(throws: GatewayError.self) { try CredentialSource.file(name: "F", path: path).load() }
        }
        try withFile(Data([0xFF, 0xFE, 0x00])) { path in
            #expect(throws: GatewayError.self) { try CredentialSource.file(name: "F", path: path).load() }
        }
    }

    @Test func neverShowsTheSecret() throws {
        let secret = "lbk_prefix_supersecret"
        let source = CredentialSource.environment(name: "LABRIC_API_KEY", value: secret)
        #expect(!source.description.contains(secret))
        #expect(!String(describing: source).contains("supersecret"))
        do {
            _ = try CredentialSource.environment(name: "LABRIC_API_KEY", value: secret + " x").load()
            Issue.record("expected a refusal")
        } catch {
            #expect(!error.message.contains("supersecret"))
        }
    }
}
