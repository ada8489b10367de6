import Foundation
import LabgateTestSupport
import MicroHTTPServer
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The binary as an operator runs it: graceful shutdown on SIGTERM, `labgate health`, `labgate check-config`, and
/// the refusal to serve a non-loopback address without client keys.
@Suite("Lifecycle")
struct LifecycleTests {
    static let drainSeconds = 10

    /// A `labgate serve` child in front of an upstream that answers after `seconds`, with one request (curl) in
    /// flight through it, for the signal tests. The child and curl are always ended.
    struct SlowRequestInFlight {
        let child: ChildProcess
        let curl: ChildProcess
        let port: Int
        let started: Counter
    }

    static func withSlowRequestInFlight(
        _ name: String, upstreamSeconds: Int, drainSeconds: Int, _ body: (SlowRequestInFlight) async throws -> Void
    ) async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let started = Counter()
        let slow = ClosureResponder { _ in
            started.add(1)
            try await Task.sleep(for: .seconds(upstreamSeconds))
            return HTTPServerResponse(
                status: 200, headers: ["Content-Type": "application/json"], body: .string("{\"slow\":\"done\"}"))
        }
        try await InProcessUpstreams.withServer(slow) { upstream in
            let child = try ChildProcess(
                E2EEnvironment.labgate, ["serve", "--port", "0"], name: "labgate-serve-\(name)",
                environment: E2EEnvironment.childEnvironment([
                    "LABRIC_API_BASE_URL": "http://127.0.0.1:\(upstream.port)",
                    "LABRIC_API_KEY": "lbk_e2e_" + UUID().uuidString.lowercased(),
                    "LABGATE_DRAIN_SECONDS": "\(drainSeconds)",
                ]),
                directory: try E2EEnvironment.makeWorkDirectory(name))
            defer { child.stop() }
            let port = try #require(
                await child.waitForOutput(onStandardError: true) { LabgateProcess.listeningPort(inLog: $0) },
                "\(child.diagnostics)")
            try #require(await LocalHTTP.waitFor(port: port, path: "/healthz"), "\(child.diagnostics)")
            let curl = try ChildProcess(
                "/usr/bin/env",
                ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/labric/api/v1/slow"],
                name: "curl-\(name)")
            defer { curl.stop() }
            try #require(await eventually { started.value == 1 }, "the request never reached the upstream")
            try await body(SlowRequestInFlight(child: child, curl: curl, port: port, started: started))
        }
    }

    /// Issue 6: SIGTERM while a 3-second request is in flight. The request completes with 200, new connections are
    /// refused from the moment the signal lands, and the process exits 0 within the drain time.
    @Test func sigtermDrainsTheRequestInFlightAndExitsZero() async throws {
        try await Self.withSlowRequestInFlight("sigterm", upstreamSeconds: 3, drainSeconds: Self.drainSeconds) {
            slow in
            let (child, curl, port) = (slow.child, slow.curl, slow.port)
            let signalled = ContinuousClock.now
            child.signal(SIGTERM)
            #expect(
                await eventually(timeout: .seconds(2)) { LocalHTTP.isRefused(port: port) },
                "still accepting connections after SIGTERM")
            #expect(curl.isRunning, "the slow request ended before the listener closed")

            let curlExit = await curl.waitForExit(timeout: .seconds(10))
            #expect(curlExit?.succeeded == true, "curl: \(String(describing: curlExit))\n\(curl.diagnostics)")
            #expect(curl.stdout.text == "{\"slow\":\"done\"}\n200", "curl printed: \(curl.stdout.text)")

            let exit = await child.waitForExit(timeout: .seconds(Self.drainSeconds))
            #expect(exit?.succeeded == true, "labgate: \(String(describing: exit))\n\(child.diagnostics)")
            #expect(ContinuousClock.now - signalled < .seconds(Self.drainSeconds))
            #expect(slow.started.value == 1, "the request reached the upstream \(slow.started.value) times")
        }
    }

    /// Issue 6: a second signal during the drain ends the process at once (status 128 + SIGTERM), cutting the
    /// request that is still in flight instead of waiting out the drain time.
    @Test func aSecondSignalDuringTheDrainEndsAtOnce() async throws {
        try await Self.withSlowRequestInFlight("second-signal", upstreamSeconds: 20, drainSeconds: 25) { slow in
            let (child, curl, port) = (slow.child, slow.curl, slow.port)
            child.signal(SIGTERM)
            try #require(
                await eventually(timeout: .seconds(2)) { LocalHTTP.isRefused(port: port) },
                "still accepting connections after SIGTERM")
            #expect(child.isRunning, "the first SIGTERM did not wait for the request in flight")
            let second = ContinuousClock.now
            child.signal(SIGTERM)
            let exit = await child.waitForExit(timeout: .seconds(5))
            #expect(exit == .init(status: 128 + SIGTERM, bySignal: false), "\(String(describing: exit))")
            #expect(ContinuousClock.now - second < .seconds(5))
            #expect(child.stderr.text.contains("Second signal"), "\(child.diagnostics)")
            let curlExit = await curl.waitForExit(timeout: .seconds(5))
            #expect(curlExit?.succeeded == false, "the cut request looked complete to curl")
        }
    }

    /// A SIGTERM that lands as soon as the gateway says it listens (a container stopped right after its start) is a
    /// graceful shutdown too: the signals are trapped before the listener is bound.
    @Test(arguments: ["sandbox", "serve"])
    func sigtermRightAfterStartExitsZero(command: String) async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        for attempt in 1...3 {
            let child = try ChildProcess(
                E2EEnvironment.labgate, [command, "--port", "0"], name: "labgate-\(command)-early-sigterm",
                directory: try E2EEnvironment.makeWorkDirectory("early-sigterm"))
            defer { child.stop() }
            let listening = await child.waitForOutput(onStandardError: command == "serve") { text in
                command == "serve"
                    ? LabgateProcess.listeningPort(inLog: text)
                    : (text.hasPrefix(LabgateProcess.sandboxBannerPrefix) ? 1 : nil)
            }
            try #require(listening != nil, "\(child.diagnostics)")
            child.signal(SIGTERM)
            let exit = await child.waitForExit(timeout: .seconds(Self.drainSeconds))
            #expect(exit?.succeeded == true, "attempt \(attempt): \(String(describing: exit))\n\(child.diagnostics)")
        }
    }

    /// A port in use is a startup failure with a message and exit status 1 (not a crash). Five times each: the
    /// sandbox's token manager races the failing listener for the upstream client, and a client shut down under it
    /// once crashed the process about one start in three.
    @Test(arguments: ["sandbox", "serve"])
    func exitsOneWhenThePortIsTaken(command: String) async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let occupant = ClosureResponder { _ in HTTPServerResponse(status: 204) }
        try await InProcessUpstreams.withServer(occupant) { taken in
            for attempt in 1...5 {
                let (child, exit) = try await ChildProcess.run(
                    E2EEnvironment.labgate, [command, "--port", "\(taken.port)"],
                    name: "labgate-\(command)-port-taken",
                    directory: try E2EEnvironment.makeWorkDirectory("port-taken"), timeout: .seconds(60))
                #expect(exit == .init(status: 1, bySignal: false), "attempt \(attempt): \(exit)\n\(child.diagnostics)")
                #expect(
                    child.stderr.text.contains("could not listen on 127.0.0.1:\(taken.port)"), "\(child.diagnostics)")
            }
        }
    }

    @Test func healthExitsZeroWhileUpAndNonZeroWhenDown() async throws {
        let port = try await LabgateProcess.withServe(environment: [:]) { gateway in
            let (health, exit) = try await ChildProcess.run(
                E2EEnvironment.labgate, ["health", "--url", "\(gateway.baseURL)/healthz"], name: "labgate-health-up",
                timeout: .seconds(10))
            #expect(exit.succeeded, "\(exit)\n\(health.diagnostics)")
            return gateway.port
        }
        let (health, exit) = try await ChildProcess.run(
            E2EEnvironment.labgate, ["health", "--url", "http://127.0.0.1:\(port)/healthz"],
            name: "labgate-health-down",
            timeout: .seconds(10))
        #expect(!exit.succeeded && !exit.bySignal, "\(exit)\n\(health.diagnostics)")
        #expect(health.stderr.text.contains("labgate health:"), "\(health.diagnostics)")
    }

    @Test func checkConfigListsEveryProblemAndExitsOne() async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let (check, exit) = try await ChildProcess.run(
            E2EEnvironment.labgate, ["check-config"], name: "labgate-check-config-bad",
            environment: E2EEnvironment.childEnvironment([
                "LABGATE_PORT": "abc", "GENIE_API_URL": "https://genie.example/public/v1",
            ]),
            directory: try E2EEnvironment.makeWorkDirectory("check-config"), timeout: .seconds(30))
        #expect(exit == .init(status: 1, bySignal: false), "\(exit)\n\(check.diagnostics)")
        let message = check.stderr.text
        #expect(message.contains("LABGATE_PORT") && message.contains("abc"), "port problem missing:\n\(message)")
        #expect(message.contains("GENIE_API_TOKEN"), "Genie token problem missing:\n\(message)")
    }

    @Test func checkConfigPrintsAValidConfigurationMasked() async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let key = "lbk_e2e_" + UUID().uuidString.lowercased()
        let (check, exit) = try await ChildProcess.run(
            E2EEnvironment.labgate, ["check-config"], name: "labgate-check-config-good",
            environment: E2EEnvironment.childEnvironment(["LABRIC_API_KEY": key, "LABGATE_PORT": "9091"]),
            directory: try E2EEnvironment.makeWorkDirectory("check-config"), timeout: .seconds(30))
        #expect(exit.succeeded, "\(exit)\n\(check.diagnostics)")
        #expect(check.stdout.text.contains("9091"), "\(check.diagnostics)")
        SecretScan.expectClean(check.stdout.text + check.stderr.text, secrets: [key], source: "check-config output")
    }

    @Test func refusesANonLoopbackAddressWithoutClientKeys() async throws {
        try E2EEnvironment.require(E2EEnvironment.labgate, "the labgate binary (LABGATE_BIN)")
        let (serve, exit) = try await ChildProcess.run(
            E2EEnvironment.labgate, ["serve", "--host", "0.0.0.0", "--port", "0"], name: "labgate-serve-open",
            environment: E2EEnvironment.childEnvironment(),
            directory: try E2EEnvironment.makeWorkDirectory("open"), timeout: .seconds(30))
        #expect(!exit.succeeded && !exit.bySignal, "\(exit)\n\(serve.diagnostics)")
        #expect(serve.stderr.text.contains("--allow-unauthenticated"), "\(serve.diagnostics)")
    }
}
