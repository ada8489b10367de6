import ArgumentParser
import Gateway

/// `labgate check-config`: loads the configuration as `serve` would and prints it with credentials masked, or
/// prints every problem and exits 1, so a deployment can be checked before it is started.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print it, credentials masked.",
        discussion: """
            Reads the YAML file, then the environment, then the flags, exactly as `labgate serve` does. \
            Exits 0 and prints the effective configuration when it is valid; prints every problem and exits 1 \
            otherwise.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.loadOrExit()
        print(configuration.redactedSummary())
    }
}
