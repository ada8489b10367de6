import ArgumentParser

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `labgate health`: exits 0 when the gateway's `/healthz` answers 200 within 2 seconds, for Docker's HEALTHCHECK
/// and scripts.
///
/// Deliberately a tiny blocking HTTP/1.1 GET over a POSIX socket: no event loop and no client library to start for
/// one request, so the check stays fast and cheap when it runs every few seconds.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when the gateway's /healthz answers 200 within 2 seconds.",
        discussion: """
            The default URL is http://127.0.0.1:8080/healthz, with the port from LABGATE_PORT and the host from \
            LABGATE_HOST when it is set to a specific address. Only http is supported.
            """
    )

    @Option(help: "The health endpoint to call.")
    var url: String?

    func run() async throws {
        let target = url ?? Self.defaultURL(environment: ProcessInfo.processInfo.environment)
        let probe: HealthProbe
        do {
            probe = try HealthProbe(url: target, timeout: .seconds(2))
        } catch {
            printToStandardError("labgate health: \(error)")
            throw ExitCode.validationFailure
        }
        do {
            let status = try probe.status()
            guard status == 200 else {
                printToStandardError("labgate health: \(target) answered \(status)")
                throw ExitCode.failure
            }
        } catch let error as HealthProbe.Failure {
            printToStandardError("labgate health: \(target): \(error)")
            throw ExitCode.failure
        }
    }

    /// `http://HOST:PORT/healthz` for the gateway this environment configures: the wildcard addresses a
    /// container listens on (`0.0.0.0`, `::`) are reached through loopback.
    static func defaultURL(environment: [String: String]) -> String {
        let port = environment["LABGATE_PORT"].flatMap { Int($0.filter { !$0.isWhitespace }) } ?? 8080
        var host = environment["LABGATE_HOST"]?.filter { !$0.isWhitespace } ?? ""
        if host.isEmpty || host == "0.0.0.0" || host == "::" || host == "[::]" { host = "127.0.0.1" }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        return "http://\(host):\(port)/healthz"
    }
}
