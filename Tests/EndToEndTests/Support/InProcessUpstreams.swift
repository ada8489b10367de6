import Foundation
import LabgateTestSupport
import Logging
import MicroHTTPServer
import Sandbox
import Synchronization

/// In-process upstreams on 127.0.0.1 and port 0, always shut down, for tests that need to know (or shape) what the
/// gateway talks to.
enum InProcessUpstreams {
    /// Runs `body` with both simulators started.
    static func withSimulators<T>(
        genieTokenLifetime: Double = 300,
        _ body: (SandboxUpstreams) async throws -> T
    ) async throws -> T {
        let upstreams = SandboxUpstreams(genieTokenLifetime: genieTokenLifetime, logger: Logger(label: "e2e.upstream"))
        try upstreams.start()
        do {
            let result = try await body(upstreams)
            await upstreams.shutdown()
            return result
        } catch {
            await upstreams.shutdown()
            throw error
        }
    }

    /// Runs `body` with `responder` served on its own server.
    static func withServer<T>(
        _ responder: any HTTPResponder,
        _ body: (HTTPServer) async throws -> T
    ) async throws -> T {
        try await LabgateTestSupport.withServer(responder: responder, body)
    }
}

/// Wraps the Genie simulator and keeps every private token its `POST /authn/login` hands out, so that a test can
/// look for them in what the gateway printed.
struct TokenRecordingResponder: HTTPResponder {
    let genie: GenieSimulator
    let issued = IssuedTokens()

    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        var response = try await genie.respond(to: request)
        guard request.path.hasSuffix("/authn/login"), response.status == 200 else { return response }
        let text = String(buffer: try await response.collectBody(upTo: 1 << 20))
        if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let jwt = object["jwt"] as? String
        {
            issued.append(jwt)
        }
        response.body = .string(text)
        return response
    }
}

/// Tokens seen so far.
final class IssuedTokens: Sendable {
    private let tokens = Mutex<[String]>([])
    func append(_ token: String) { tokens.withLock { $0.append(token) } }
    var all: [String] { tokens.withLock { $0 } }
}

/// A count that handlers report through.
final class Counter: Sendable {
    private let atomic = Atomic(0)
    func add(_ n: Int) { atomic.add(n, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}
