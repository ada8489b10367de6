import ArgumentParser

@main
struct Labgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labgate",
        abstract: "A local HTTP gateway that holds the Genie and Labric credentials for lab scripts.",
        subcommands: [
            ServeCommand.self,
            SandboxCommand.self,
            CheckConfigCommand.self,
            HealthCommand.self,
            KeysCommand.self,
        ]
    )
}
