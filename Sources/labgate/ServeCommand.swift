import ArgumentParser
import Gateway
import Logging
import ServiceLifecycle

/// `labgate serve`: the gateway in front of the configured upstreams.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway in front of the configured Genie and Labric upstreams."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration: GatewayConfiguration
        do {
            configuration = try options.load()
        } catch {
            printToStandardError(error.description)
            throw ExitCode.failure
        }
        LogSetup.bootstrap(level: configuration.logLevel)
        let logger = Logger(label: "labgate")
        logger.info("configuration\n\(configuration.redactedSummary())")
        let gateway = GatewayService(
            configuration: configuration, accessLog: try LogSetup.accessLogger(configuration.accessLog), logger: logger)
        do {
            try gateway.start()
        } catch {
            printToStandardError("labgate: \(error)")
            throw ExitCode.failure
        }
        try await GatewayRunner.run(gateway, logger: logger)
    }
}

/// Runs a gateway's services until SIGTERM or SIGINT, then drains; a second signal ends at once.
enum GatewayRunner {
    static func run(_ gateway: GatewayService, extra: [any Service] = [], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: (extra + gateway.services).map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger
            )
        )
        try await group.run()
    }
}
