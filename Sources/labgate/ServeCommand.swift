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
        let configuration = try options.loadOrExit()
        LogSetup.bootstrap(level: configuration.logLevel)
        let logger = Logger(label: "labgate")
        logger.info("configuration\n\(configuration.redactedSummary())")
        let gateway = GatewayService(
            configuration: configuration, accessLog: try LogSetup.accessLogger(configuration), logger: logger)
        try await GatewayRunner.run(gateway, logger: logger)
    }
}

/// Runs a gateway's services until SIGTERM or SIGINT, then drains; a second signal ends at once.
///
/// The listener is bound inside the group, once it traps the signals: bound before, a SIGTERM arriving between the
/// first answered request and the group's start would kill the process (the default action) instead of draining.
enum GatewayRunner {
    /// - Parameter onListening: called with the bound port, before the first request is served.
    /// - Throws: `ExitCode.failure` (the reason printed) when the listener cannot be bound.
    static func run(
        _ gateway: GatewayService,
        extra: [any Service] = [],
        logger: Logger,
        onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let listening = Listening(gateway: gateway, onListening: onListening)
        let services = gateway.services.map { ($0 as? GatewayService) === gateway ? listening : $0 }
        let group = ServiceGroup(
            configuration: .init(
                services: ([SecondSignalExit(logger: logger)] + extra + services + [HangupReloader(gateway: gateway)])
                    .map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let failure as Listening.StartFailure {
            printToStandardError("labgate: \(failure.error)")
            throw ExitCode.failure
        }
    }

    /// The gateway, bound when the group runs it.
    private struct Listening: Service {
        struct StartFailure: Error {
            let error: any Error
        }

        let gateway: GatewayService
        let onListening: @Sendable (Int) -> Void

        func run() async throws {
            do {
                // Past binding, the gateway's run throws nothing: any error is a failure to start.
                try await gateway.run(onListening: onListening)
            } catch {
                throw StartFailure(error: error)
            }
        }
    }
}
