import Foundation
import Testing

/// A running `labgate` (sandbox or serve) and the port it listens on.
struct RunningGateway {
    let child: ChildProcess
    let port: Int

    var baseURL: String { "http://127.0.0.1:\(port)" }
}

/// Starts the built `labgate` binary for a test and always ends it, checking on the way out that it exited 0 after
/// SIGTERM and that its output holds no credential.
enum LabgateProcess {
    /// Runs `body` against `labgate sandbox --port 0 --genie-token-ttl TTL`, once its banner is out and `/healthz`
    /// answers.
    static func withSandbox<T>(
        genieTokenTTL: Double = 300,
        _ body: (RunningGateway) async throws -> T
    ) async throws -> T {
        try E2EEnvironment.requireAll()
        let child = try ChildProcess(
            E2EEnvironment.labgate,
            ["sandbox", "--port", "0", "--genie-token-ttl", "\(genieTokenTTL)"],
            name: "labgate-sandbox"
        )
        return try await run(child) {
            // The banner's first line, written unbuffered as soon as the listener is bound.
            await child.waitForOutput { text in
                text.split(separator: "\n").first { $0.hasPrefix(sandboxBannerPrefix) }
                    .flatMap { Int($0.dropFirst(sandboxBannerPrefix.count)) }
            }
        } body: { gateway in
            try await body(gateway)
        }
    }

    static let sandboxBannerPrefix = "labgate sandbox listening on http://127.0.0.1:"

    /// Runs `body` against `labgate serve --port 0` configured by `environment` (on top of the filtered test
    /// environment), once it logged its address and `/healthz` answers. The working directory is an empty
    /// directory, so the repository's config file is not read.
    static func withServe<T>(
        environment: [String: String],
        arguments: [String] = [],
        _ body: (RunningGateway) async throws -> T
    ) async throws -> T {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let child = try ChildProcess(
            E2EEnvironment.labgate,
            ["serve", "--port", "0"] + arguments,
            name: "labgate-serve",
            environment: E2EEnvironment.childEnvironment(environment),
            directory: try E2EEnvironment.makeWorkDirectory("serve")
        )
        return try await run(child) {
            await child.waitForOutput(onStandardError: true) { listeningPort(inLog: $0) }
        } body: { gateway in
            try await body(gateway)
        }
    }

    /// The port of the `labgate listening` log line (`"labgate.address":"HOST:PORT"`).
    static func listeningPort(inLog log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("\"labgate listening\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let address = object["labgate.address"] as? String,
                let colon = address.lastIndex(of: ":")
            else { continue }
            return Int(address[address.index(after: colon)...])
        }
        return nil
    }

    private static func run<T>(
        _ child: ChildProcess,
        port findPort: () async -> Int?,
        body: (RunningGateway) async throws -> T
    ) async throws -> T {
        let result: T
        do {
            guard let port = await findPort() else {
                throw E2EFailure("labgate did not say which port it listens on\n\(child.diagnostics)")
            }
            guard await LocalHTTP.waitFor(port: port, path: "/healthz") else {
                throw E2EFailure("labgate's /healthz did not answer 200\n\(child.diagnostics)")
            }
            result = try await body(RunningGateway(child: child, port: port))
        } catch {
            child.stop()
            Issue.record("labgate output:\n\(child.diagnostics)")
            throw error
        }
        let exit = child.stop()
        #expect(exit.succeeded, "labgate after SIGTERM: \(exit)\n\(child.diagnostics)")
        SecretScan.expectClean(child.stdout.text + child.stderr.text, source: "\(child.name) output")
        return result
    }
}
