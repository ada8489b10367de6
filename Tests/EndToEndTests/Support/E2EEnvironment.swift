import Foundation

/// Where the end-to-end tests find what they drive: the built binary, the Python with the official clients, the
/// shared vendor folder. Each comes from the environment `make test` sets, else from its place beside this package.
enum E2EEnvironment {
    /// The package root, derived from this file's path (`Tests/EndToEndTests/Support/E2EEnvironment.swift`).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `LABGATE_BIN`, else `.build/debug/labgate`.
    static let labgate: String = path(
        "LABGATE_BIN", default: packageRoot.appendingPathComponent(".build/debug/labgate").path)

    /// `LABGATE_PYTHON` (the venv `make test` creates), else `.venv/bin/python`.
    static let python: String = path(
        "LABGATE_PYTHON", default: packageRoot.appendingPathComponent(".venv/bin/python").path)

    /// `LABGATE_SHARED`, else `../shared` next to the package.
    static let shared: String = path(
        "LABGATE_SHARED",
        default: packageRoot.deletingLastPathComponent().appendingPathComponent("shared").standardizedFileURL.path)

    /// The Genie example script, run from the shared folder unchanged.
    static var genieExample: String { shared + "/reference/genie_catalog_example.py" }

    /// The Labric SDK scenario.
    static var labricScenario: String { packageRoot.appendingPathComponent("tests/e2e/labric_scenario.py").path }

    /// Fails with a message saying how to get `path` when it is not there.
    static func require(_ path: String, _ what: String, executable: Bool = true) throws {
        let manager = FileManager.default
        guard executable ? manager.isExecutableFile(atPath: path) : manager.fileExists(atPath: path) else {
            throw E2EFailure("\(what) not found at \(path): run `make test`, or set the variable it names")
        }
    }

    /// Every tool these tests need, checked once with a clear message.
    static func requireAll() throws {
        try require(labgate, "the labgate binary (LABGATE_BIN)")
        try require(python, "the venv python with labric==0.14.17 (LABGATE_PYTHON)")
        try require(genieExample, "the Genie example script (LABGATE_SHARED)", executable: false)
        try require(labricScenario, "the Labric SDK scenario", executable: false)
    }

    /// A fresh directory for one test's files (token files, logs); kept after the run for diagnostics.
    static func makeWorkDirectory(_ name: String) throws -> URL {
        let url = artifacts.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Where the processes' captured output and the tests' files go: one directory per test run.
    static let artifacts: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("labgate-e2e-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// The environment for a child: this one without labgate's, Genie's and Labric's variables (so nothing from the
    /// developer's shell configures the gateway under test) and without proxies (every call goes to 127.0.0.1).
    static func childEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            let upper = key.uppercased()
            return !["LABGATE_", "GENIE_", "LABRIC_"].contains { upper.hasPrefix($0) }
                && !["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"].contains(upper)
        }
        environment["NO_PROXY"] = "127.0.0.1,localhost"
        environment["no_proxy"] = "127.0.0.1,localhost"
        environment["PYTHONUNBUFFERED"] = "1"
        environment.merge(overrides) { _, new in new }
        return environment
    }

    private static func path(_ variable: String, default fallback: String) -> String {
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        return fallback
    }
}

/// A failure of the test set-up, with the reason.
struct E2EFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
