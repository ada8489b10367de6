import ArgumentParser
import Gateway
import Logging
import Sandbox

/// `labgate sandbox`: the gateway in front of built-in Genie and Labric simulators, with made-up credentials.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run the gateway in front of built-in Genie and Labric simulators (no real lab is contacted)."
    )

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 for any free port).")
    var port = 8080

    @Option(name: .customLong("genie-token-ttl"), help: "Seconds a simulated Genie private token lives.")
    var genieTokenTTL: Double = 300

    func run() async throws {
        LogSetup.bootstrap(level: .info)
        let logger = Logger(label: "labgate")
        let upstreams = SandboxUpstreams(genieTokenLifetime: genieTokenTTL, logger: logger)
        try upstreams.start()
        var configuration = GatewayConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.allowUnauthenticated = true
        configuration.genie = try .init(
            apiURL: upstreams.genieAPIURL, token: Secret(upstreams.geniePublicToken, source: "sandbox"))
        configuration.labric = try .init(
            baseURL: upstreams.labricBaseURL, apiKey: Secret(upstreams.labricAPIKey, source: "sandbox"))
        let gateway = GatewayService(
            configuration: configuration, accessLog: try LogSetup.accessLogger(configuration), logger: logger)
        let host = self.host
        do {
            try await GatewayRunner.run(gateway, logger: logger) { port in
                // Straight to the descriptor: stdout may be a pipe, and the banner must not wait in a buffer.
                JSONLogHandler.Sink.stdout.write(Self.banner(host: host, port: port))
            }
        } catch {
            await upstreams.shutdown()
            throw error
        }
        await upstreams.shutdown()
    }

    static func banner(host: String, port: Int) -> String {
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        return """
            labgate sandbox listening on \(base)
            SANDBOX: the Genie and Labric APIs here are built-in simulators. No real lab, instrument or vendor is contacted.

            Try it:
              curl -s \(base)/genie/public/v1/instruments
              python3 -c 'from labric import Labric; print(Labric(api_key="unused", base_url="\(base)/labric").files.list())'
              echo unused > token.txt && python3 ../shared/reference/genie_catalog_example.py \(base)/genie token.txt

            """
    }
}
