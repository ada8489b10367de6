import ArgumentParser
import Gateway

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `labgate keys`: manages the client keys file.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage client keys (the file of clients.keys_file / LABGATE_KEYS_FILE).",
        subcommands: [Add.self, List.self]
    )

    /// The keys file: `--keys-file`, else `LABGATE_KEYS_FILE`.
    struct FileOption: ParsableArguments {
        @Option(
            name: .customLong("keys-file"),
            help: ArgumentHelp("The keys file (default: $LABGATE_KEYS_FILE).", valueName: "file"),
            completion: .file(extensions: ["yaml", "yml"])
        )
        var keysFile: String?

        func path() throws -> String {
            if let keysFile, !keysFile.isEmpty { return keysFile }
            if let path = ProcessInfo.processInfo.environment["LABGATE_KEYS_FILE"], !path.isEmpty { return path }
            throw ValidationError("Say which keys file: --keys-file FILE, or set LABGATE_KEYS_FILE.")
        }
    }

    /// `labgate keys add NAME --scope UPSTREAM:LEVEL ...`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a client key: print it once, store only its hash.",
            discussion: """
                Prints the new key alone on standard output, once: labgate keeps only its SHA-256 hash. Clients send \
                it as Authorization: Bearer <key> (the Labric SDK's api_key, a Genie token.txt). The keys file is \
                created (mode 0600) when missing; a running gateway picks the new key up within a second.
                """
        )

        @Argument(help: "The client's name, as the access log shows it (letters, digits, '.', '_', '@', '-').")
        var name: String

        @Option(
            name: .customLong("scope"),
            help: ArgumentHelp(
                "What the key may do, repeatable: \(ClientScope.all.map(\.description).joined(separator: ", ")).",
                valueName: "upstream:level"
            )
        )
        var scopes: [String] = []

        @OptionGroup var file: FileOption

        func validate() throws {
            if let problem = ClientKeys.problem(withName: name) { throw ValidationError("NAME: \(problem)") }
            guard !scopes.isEmpty else { throw ValidationError("Give at least one --scope, e.g. --scope labric:read.") }
            let known = ClientScope.all.map(\.description).joined(separator: ", ")
            for scope in scopes where ClientScope(parsing: scope) == nil {
                throw ValidationError("Unknown scope \"\(scope)\" (known: \(known)).")
            }
        }

        func run() async throws {
            let path = try file.path()
            let parsed = scopes.compactMap { ClientScope(parsing: $0) }
            let key: String
            do {
                key = try ClientKeysFile.addClient(name: name, scopes: parsed, path: path)
            } catch {
                printToStandardError("labgate keys add: \(error)")
                throw ExitCode.failure
            }
            print(key)
            let granted = Array(Set(parsed)).sorted().map(\.description).joined(separator: ", ")
            printToStandardError(
                "Added client \(name) (\(granted)) to \(path). The key above is shown only this once; store it now.")
        }
    }

    /// `labgate keys list`: names and scopes, never hashes.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the clients in the keys file and their scopes.")

        @OptionGroup var file: FileOption

        func run() async throws {
            let path = try file.path()
            let keys: ClientKeys
            do {
                guard let text = try ConfigurationFileReader.text(atPath: path) else {
                    printToStandardError("labgate keys list: \(path) does not exist.")
                    throw ExitCode.failure
                }
                keys = try ClientKeys(yaml: text)
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printToStandardError("labgate keys list: \(path): \(error)")
                throw ExitCode.failure
            }
            for entry in keys.entries {
                print("\(entry.name)\t\(entry.scopes.map(\.description).joined(separator: ","))")
            }
        }
    }
}
