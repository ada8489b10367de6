import Logging
import MicroHTTPServer

/// Both simulators, each on its own server on 127.0.0.1 (port 0), with credentials made up on the spot: the
/// upstreams of `labgate sandbox` and of the end-to-end tests.
public final class SandboxUpstreams: Sendable {
    public let genie: GenieSimulator
    public let labric: LabricSimulator
    public let genieServer: HTTPServer
    public let labricServer: HTTPServer
    /// The Genie public token and the Labric admin key the simulators accept.
    public let geniePublicToken: String
    public let labricAPIKey: String

    /// - Parameter genieTokenLifetime: seconds a Genie private token lives (5 minutes in the real service).
    public init(genieTokenLifetime: Double = 300, logger: Logger) {
        geniePublicToken = "gpt_sandbox_" + LabricIDs.hex(16)
        let key = LabricSimulator.APIKey.generate(name: "sandbox", scopes: [.admin])
        labricAPIKey = key.key
        genie = GenieSimulator(
            configuration: .init(publicToken: geniePublicToken, privateTokenLifetime: genieTokenLifetime))
        labric = LabricSimulator(apiKeys: [key], faults: FaultInjector())
        genieServer = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), responder: genie, logger: logger)
        labricServer = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), responder: labric, logger: logger)
    }

    public func start() throws {
        try genieServer.start()
        try labricServer.start()
    }

    /// `GENIE_API_URL` for a gateway in front of the Genie simulator.
    public var genieAPIURL: String { "http://127.0.0.1:\(genieServer.port)/public/v1" }
    /// `LABRIC_API_BASE_URL` for a gateway in front of the Labric simulator.
    public var labricBaseURL: String { "http://127.0.0.1:\(labricServer.port)" }

    public func shutdown() async {
        await genieServer.shutdown(gracePeriod: .seconds(2))
        await labricServer.shutdown(gracePeriod: .seconds(2))
    }
}
