import Testing

/// The official Labric SDK (labric==0.14.17) running `tests/e2e/labric_scenario.py`: straight against the Labric
/// simulator, and through `labgate sandbox` with any key.
@Suite("Labric SDK")
struct LabricSDKTests {
    @Test func scenarioPassesAgainstTheSimulatorDirectly() async throws {
        try E2EEnvironment.requireAll()
        try await InProcessUpstreams.withSimulators { upstreams in
            let (scenario, exit) = try await ChildProcess.run(
                E2EEnvironment.python,
                [E2EEnvironment.labricScenario, upstreams.labricBaseURL, upstreams.labricAPIKey],
                name: "labric-scenario-direct")
            #expect(exit.succeeded, "\(exit)\n\(scenario.diagnostics)")
            #expect(scenario.stdout.text.hasSuffix("scenario passed\n"), "\(scenario.diagnostics)")
            #expect(scenario.stdout.text.contains("ok   UnauthorizedError with a bad key"))
        }
    }

    /// Issue 3's list through the gateway: the signed-URL upload, list, data write, a job execution opened and
    /// closed, an agent run streamed to its `result` event, the typed `NotFoundError`; with `--gateway` the bad-key
    /// step is replaced (labgate injects its own key, so a client's bad key never reaches the upstream).
    @Test func scenarioPassesThroughTheSandboxWithAnyKey() async throws {
        try await LabgateProcess.withSandbox { gateway in
            let (scenario, exit) = try await ChildProcess.run(
                E2EEnvironment.python,
                [E2EEnvironment.labricScenario, "--gateway", "\(gateway.baseURL)/labric", "unused"],
                name: "labric-scenario-gateway")
            #expect(exit.succeeded, "\(exit)\n\(scenario.diagnostics)")
            let output = scenario.stdout.text
            #expect(output.hasSuffix("scenario passed\n"), "\(scenario.diagnostics)")
            for step in [
                "files.upload (signed URL: create, PUT, confirm)", "files.list", "data.write", "jobs.start",
                "jobs.close", "agent.run_stream to its result event", "NotFoundError for a missing file",
                "gateway: labgate's own no_route error is the SDK's NotFoundError",
            ] {
                #expect(output.contains("ok   \(step)"), "step \(step) missing:\n\(output)")
            }
        }
    }
}
