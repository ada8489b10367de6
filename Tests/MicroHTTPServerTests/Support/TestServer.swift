import Foundation
import Logging
import MicroHTTPServer
import Synchronization

/// Runs `body` against a live server on 127.0.0.1 and a port from the OS, and always shuts the server down.
func withServer<T>(
    _ configure: (inout HTTPServer.Configuration) -> Void = { _ in },
    responder: @escaping @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let server = HTTPServer(
        configuration: configuration,
        responder: ClosureResponder(responder),
        logger: Logger(label: "test")
    )
    try server.start()
    do {
        let result = try await body(server)
        await server.shutdown(gracePeriod: .seconds(5))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(1))
        throw error
    }
}

/// Polls `condition` until it holds or `timeout` passes; tests wait for state this way, never with bare sleeps.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A shared count for handlers to report through; a class so that `#expect` can read it.
final class Counter: Sendable {
    private let atomic = Atomic(0)
    func add(_ n: Int) { atomic.add(n, ordering: .relaxed) }
    func store(_ n: Int) { atomic.store(n, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// A shared flag for handlers to report through.
final class Flag: Sendable {
    private let atomic = Atomic(false)
    func set() { atomic.store(true, ordering: .relaxed) }
    var value: Bool { atomic.load(ordering: .relaxed) }
}
