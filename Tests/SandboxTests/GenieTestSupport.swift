import Foundation
import MicroHTTPServer
import Sandbox

/// Calls a responder directly, the way the server would, and reads the answer.
enum GenieTestSupport {
    static let publicToken = "genie-public-token-7f3a"

    /// A simulator on a manual clock, 5-minute private tokens, time running 10x.
    static func simulator(
        clock: ManualClock,
        lifetime: TimeInterval = 300,
        faults: FaultInjector = FaultInjector()
    ) -> GenieSimulator {
        GenieSimulator(
            configuration: .init(publicToken: publicToken, privateTokenLifetime: lifetime, clock: clock.clock),
            faults: faults
        )
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var text: String
        var json: JSONValue? { JSONValue(parsing: text) }
        /// The `{"data": ...}` payload of a public API answer.
        var data: JSONValue? { json?["data"] }
        /// The `{"error": {...}}` of a Genie error.
        var error: JSONValue? { json?["error"] }
    }

    static func send(
        _ responder: some HTTPResponder,
        _ method: String,
        _ target: String,
        bearer: String? = nil,
        body: String? = nil
    ) async throws -> Reply {
        var headers: HTTPHeaders = [:]
        if let bearer { headers.add("Authorization", "Bearer \(bearer)") }
        if body != nil { headers.add("Content-Type", "application/json") }
        let request = HTTPServerRequest(
            method: method,
            target: target,
            headers: headers,
            body: body.map { RequestBody(string: $0) } ?? .empty
        )
        let response = try await responder.respond(to: request)
        let buffer = try await response.collectBody()
        return Reply(
            status: response.status,
            headers: response.headers,
            text: String(decoding: buffer.readableBytesView, as: UTF8.self)
        )
    }

    /// Exchanges the public token for a private one.
    static func login(_ simulator: GenieSimulator) async throws -> String {
        let reply = try await send(simulator, "POST", "/authn/login", body: #"{"jwt": "\#(publicToken)\n"}"#)
        guard reply.status == 200, let jwt = reply.json?["jwt"]?.stringValue else {
            throw TestFailure("login answered \(reply.status): \(reply.text)")
        }
        return jwt
    }

    /// The claims of a JWT-shaped token.
    static func claims(_ jwt: String) -> JSONValue? {
        let parts = jwt.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).flatMap { JSONValue(parsing: $0) }
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
