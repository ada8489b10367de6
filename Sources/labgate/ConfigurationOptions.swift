import ArgumentParser
import Gateway

/// The options that choose and override the gateway's configuration, shared by every command that loads it
/// (`@OptionGroup var options: ConfigurationOptions`), so that `check-config` validates exactly what `serve` runs.
///
/// Credentials have no flags on purpose: command lines are visible to every user of the machine.
struct ConfigurationOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "The YAML configuration file (default: $LABGATE_CONFIG, else config/labgate.yaml if present).",
            valueName: "file"
        ),
        completion: .file(extensions: ["yaml", "yml"])
    )
    var configFile: String?

    @Option(help: "The address to listen on (overrides LABGATE_HOST and listen.host).")
    var host: String?

    @Option(help: "The port to listen on, 0 for any free port (overrides LABGATE_PORT and listen.port).")
    var port: Int?

    @Flag(
        name: .customLong("allow-unauthenticated"),
        help: "Allow listening on a non-loopback address without client keys."
    )
    var allowUnauthenticated = false

    /// The flags as the loader takes them; an absent flag leaves the file and environment in charge.
    var flags: GatewayConfiguration.Flags {
        GatewayConfiguration.Flags(host: host, port: port, allowUnauthenticated: allowUnauthenticated ? true : nil)
    }

    /// Loads the configuration from the file, the process environment and these flags.
    /// - Throws: `ConfigurationError` listing every problem.
    func load() throws(ConfigurationError) -> GatewayConfiguration {
        try GatewayConfiguration.load(configFile: configFile, flags: flags)
    }

    /// `load()` for a command: every problem goes to standard error and the command exits 1.
    func loadOrExit() throws -> GatewayConfiguration {
        do {
            return try load()
        } catch {
            printToStandardError(error.description)
            throw ExitCode.failure
        }
    }
}
