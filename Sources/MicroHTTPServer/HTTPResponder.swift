/// The seam between the server and what it serves: one request in, one response out.
public protocol HTTPResponder: Sendable {
    /// Answers one request. A thrown error becomes a 500 JSON error unless the client has already gone.
    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse
}

/// A responder made from a closure.
public struct ClosureResponder: HTTPResponder {
    let closure: @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse

    public init(_ closure: @escaping @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse) {
        self.closure = closure
    }

    public func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        try await closure(request)
    }
}
