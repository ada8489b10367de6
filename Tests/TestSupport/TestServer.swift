import Foundation
import Logging
import MicroHTTPServer

/// Runs `body` against a live server on 127.0.0.1 and a port from the OS, and always shuts the server down.
public func withServer<T>(
    _ configure: (inout HTTPServer.Configuration) -> Void = { _ in },
    responder: any HTTPResponder,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, responder: responder, logger: Logger(label: "test"))
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

/// The same with the responder as a closure.
public func withServer<T>(
    _ configure: (inout HTTPServer.Configuration) -> Void = { _ in },
    responder: @escaping @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    try await withServer(configure, responder: ClosureResponder(responder), body)
}

/// Polls `condition` until it holds or `timeout` passes; tests wait for state this way, never with bare sleeps.
public func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
