import Foundation
import Testing

@testable import Gateway

/// The keys file: parsing, every kind of problem, appending, the file `labgate keys add` writes, and the
/// configuration keys around it.
struct ClientKeysFileTests {
    static let aliceHash = SHA256.hexDigest("lgk_alice")
    static let bobHash = SHA256.hexDigest("lgk_bob")

    static let valid = """
        # team keys
        - name: alice
          key_hash: "sha256:\(aliceHash)"
          scopes: ["labric:read", "genie:write"]
          created: "2025-01-31T09:30:00Z"
        - name: "bob"
          key_hash: \(bobHash)
          scopes:
            - labric:admin
        """

    @Test func parsesEntries() throws {
        let keys = try ClientKeys(yaml: Self.valid)
        #expect(keys.entries.map(\.name) == ["alice", "bob"])
        #expect(keys.entries[0].scopes.map(\.description) == ["genie:write", "labric:read"])
        #expect(keys.entries[1].scopes == [.init(.labric, .admin)])
        #expect(keys.match("lgk_alice")?.name == "alice")
        #expect(keys.match("lgk_bob")?.name == "bob")
    }

    @Test(arguments: ["", "\n\n", "# nothing yet\n", "---\n", "keys: []\n", "keys:\n"])
    func anEmptyFileHoldsNoKeys(text: String) throws {
        #expect(try ClientKeys(yaml: text).entries.isEmpty)
    }

    /// Each bad file and a fragment its message must contain.
    @Test(arguments: [
        ("- name: [unclosed", "not valid YAML"),
        ("name: alice\nkey_hash: x\n", "must be a YAML list"),
        ("- just a string\n", "line 1: an entry must be a mapping"),
        ("- name: a\n  scopes: [labric:read]\n", "key_hash is missing"),
        ("- name: a\n  key_hash: sha256:1234\n  scopes: [labric:read]\n", "64 hex digits"),
        (
            "- name: a\n  key_hash: sha256:\(String(repeating: "g", count: 64))\n  scopes: [labric:read]\n",
            "64 hex digits"
        ),
        ("- name: a\n  key_hash: \(aliceHash)\n  scopes: [labric:delete]\n", #"unknown scope "labric:delete""#),
        ("- name: a\n  key_hash: \(aliceHash)\n  scopes: [genie:admin]\n", #"unknown scope "genie:admin""#),
        ("- name: a\n  key_hash: \(aliceHash)\n  scopes: []\n", "scopes is empty"),
        ("- name: a\n  key_hash: \(aliceHash)\n  scopes: labric:read\n", "scopes must be a list"),
        ("- name: a\n  key_hash: \(aliceHash)\n  scope: [labric:read]\n", #"unknown field "scope""#),
        ("- name: a b\n  key_hash: \(aliceHash)\n  scopes: [labric:read]\n", "is not 1-64 characters"),
        ("- key_hash: \(aliceHash)\n  scopes: [labric:read]\n", "is not 1-64 characters"),
        (
            "- name: a\n  key_hash: \(aliceHash)\n  scopes: [labric:read]\n- name: a\n  key_hash: \(bobHash)\n  scopes: [labric:read]\n",
            "the name a is used twice"
        ),
        (
            "- name: a\n  key_hash: \(aliceHash)\n  scopes: [labric:read]\n- name: b\n  key_hash: \(aliceHash)\n  scopes: [labric:read]\n",
            "the same key is listed twice"
        ),
    ])
    func reportsProblems(text: String, fragment: String) {
        do {
            _ = try ClientKeys(yaml: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(fragment), "\(error)")
        }
    }

    @Test func reportsEveryProblemWithItsLine() {
        let text = """
            - name: a
              key_hash: sha256:00
              scopes: [labric:read]
            - name: b
              key_hash: \(Self.bobHash)
              scopes: [nope]
            """
        do {
            _ = try ClientKeys(yaml: text)
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 2)
            #expect(error.problems.first?.hasPrefix("line 1 (a)") == true, "\(error)")
            #expect(error.problems.last?.hasPrefix("line 4 (b)") == true, "\(error)")
        }
    }

    @Test func aPastedKeyNeverAppearsInTheMessage() {
        let key = ClientKeys.generateKey()
        for text in ["- name: a\n  key_hash: \(key)\n  scopes: [labric:read]\n", "- name: [\(key)\n", "\(key): {"] {
            do {
                _ = try ClientKeys(yaml: text)
                Issue.record("accepted")
            } catch {
                #expect(!error.description.contains(key), "\(error)")
            }
        }
    }

    // MARK: Writing

    @Test func appendingKeepsCommentsAndParsesBack() throws {
        let entry = ClientKeys.Entry(
            name: "carol", keyHash: ClientKeys.hash("lgk_carol"), scopes: [.init(.genie, .read)])
        let text = try ClientKeys.appending(entry, to: Self.valid, created: Date(timeIntervalSince1970: 0))
        #expect(text.hasPrefix(Self.valid))
        #expect(text.contains("created: \"1970-01-01T00:00:00Z\""))
        let keys = try ClientKeys(yaml: text)
        #expect(keys.entries.map(\.name) == ["alice", "bob", "carol"])
        #expect(keys.match("lgk_carol")?.scopes == [.init(.genie, .read)])
    }

    @Test func theListMaySitUnderKeys() throws {
        let nested = "keys:\n" + Self.valid.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        #expect(try ClientKeys(yaml: nested) == ClientKeys(yaml: Self.valid))
        let entry = ClientKeys.Entry(
            name: "carol", keyHash: ClientKeys.hash("lgk_carol"), scopes: [.init(.genie, .read)])
        #expect(try ClientKeys(yaml: try ClientKeys.appending(entry, to: nested)).entries.count == 3)
    }

    @Test func appendingToNothingWritesTheHeader() throws {
        let entry = ClientKeys.Entry(
            name: "carol", keyHash: ClientKeys.hash("lgk_carol"), scopes: [.init(.genie, .read)])
        let text = try ClientKeys.appending(entry, to: nil)
        #expect(text.hasPrefix("# labgate client keys"))
        #expect(try ClientKeys(yaml: text).entries.count == 1)
    }

    @Test func appendingToAFlowListRewritesIt() throws {
        let flow = "[{name: alice, key_hash: \"sha256:\(Self.aliceHash)\", scopes: [labric:read]}]"
        let entry = ClientKeys.Entry(
            name: "carol", keyHash: ClientKeys.hash("lgk_carol"), scopes: [.init(.genie, .read)])
        let keys = try ClientKeys(yaml: try ClientKeys.appending(entry, to: flow))
        #expect(keys.entries.map(\.name) == ["alice", "carol"])
    }

    @Test func appendingRefusesATakenName() {
        let entry = ClientKeys.Entry(
            name: "alice", keyHash: ClientKeys.hash("lgk_other"), scopes: [.init(.genie, .read)])
        #expect(throws: ClientKeysError("A client named alice already exists; choose another name.")) {
            try ClientKeys.appending(entry, to: Self.valid)
        }
    }

    @Test func addClientCreatesAnOwnerOnlyFileAndPrintsTheKeyOnce() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/keys.yaml"
            let key = try ClientKeysFile.addClient(
                name: "robot", scopes: [.init(.labric, .write), .init(.genie, .read)], path: path)
            #expect(key.hasPrefix("lgk_"))
            let text = try #require(try ConfigurationFileReader.text(atPath: path))
            #expect(!text.contains(key))
            #expect(text.contains("sha256:\(SHA256.hexDigest(key))"))
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

            let second = try ClientKeysFile.addClient(name: "human", scopes: [.init(.labric, .read)], path: path)
            let keys = try ClientKeys(yaml: try #require(try ConfigurationFileReader.text(atPath: path)))
            #expect(keys.match(key)?.name == "robot")
            #expect(keys.match(second)?.name == "human")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["keys.yaml"])

            #expect(throws: ClientKeysError.self) {
                try ClientKeysFile.addClient(name: "robot", scopes: [.init(.labric, .read)], path: path)
            }
            #expect(throws: ClientKeysError.self) {
                try ClientKeysFile.addClient(name: "nobody", scopes: [], path: path)
            }
            #expect(throws: ClientKeysError.self) {
                try ClientKeysFile.addClient(name: "bad name", scopes: [.init(.labric, .read)], path: path)
            }
            #expect(
                try ClientKeys(yaml: try #require(try ConfigurationFileReader.text(atPath: path))).entries.count == 2)
        }
    }

    @Test func addClientKeepsAnExistingFilesPermissions() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/keys.yaml"
            try Self.valid.write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o640)
            _ = try ClientKeysFile.addClient(name: "carol", scopes: [.init(.genie, .read)], path: path)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        }
    }

    // MARK: Configuration

    static func load(_ environment: [String: String], files: [String: String] = [:]) throws(ConfigurationError)
        -> GatewayConfiguration
    {
        try GatewayConfiguration.load(configFile: nil, flags: .init(), environment: environment) { files[$0] }
    }

    @Test func anInvalidKeysFileIsAConfigurationProblem() throws {
        let files = ["/keys.yaml": "- name: a\n  key_hash: nope\n  scopes: [labric:read]\n"]
        do {
            _ = try Self.load(["LABGATE_KEYS_FILE": "/keys.yaml"], files: files)
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(
                error.problems.first?.contains("clients.keys_file (LABGATE_KEYS_FILE): /keys.yaml is not usable")
                    == true)
            #expect(error.problems.first?.contains("key_hash must be") == true, "\(error)")
        }
        #expect(throws: ConfigurationError.self) { try Self.load(["LABGATE_KEYS_FILE": "/missing.yaml"]) }
        #expect(
            try Self.load(["LABGATE_KEYS_FILE": "/keys.yaml"], files: ["/keys.yaml": Self.valid]).keysFile
                == "/keys.yaml")
    }

    @Test func rateLimitIsOffByDefaultAndConfigurable() throws {
        #expect(try Self.load([:]).rateLimit == nil)
        let limited = try Self.load(["LABGATE_RATE_LIMIT_PER_SECOND": "2.5"])
        #expect(limited.rateLimit == TokenBucket.Limit(rate: 2.5, burst: 3))
        let burst = try Self.load(["LABGATE_RATE_LIMIT_PER_SECOND": "10", "LABGATE_RATE_LIMIT_BURST": "50"])
        #expect(burst.rateLimit == TokenBucket.Limit(rate: 10, burst: 50))
        let yaml = try Self.load(
            ["LABGATE_CONFIG": "/c.yaml"],
            files: ["/c.yaml": "clients:\n  rate_limit_per_second: 1\n  rate_limit_burst: 4\n"])
        #expect(yaml.rateLimit == TokenBucket.Limit(rate: 1, burst: 4))
        #expect(yaml.redactedSummary().contains("rate_limit_per_second: 1\n  rate_limit_burst: 4"))
        do {
            _ = try Self.load(["LABGATE_RATE_LIMIT_PER_SECOND": "fast", "LABGATE_RATE_LIMIT_BURST": "0"])
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 2, "\(error)")
        }
    }
}

/// Runs `body` with a fresh directory that is removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("labgate-keys-\(UUID().uuidString)")
        .path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}
