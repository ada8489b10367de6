/// The seam between the server and what it serves: one request in, one response out.
public protocol HTTPResponder: Sendable {
    /// Answers one request. A thrown error becomes a 500 JSON error unless the client has already gone.
    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse

    /// Answers a request without a body on the server's own thread, or returns nil to have `respond` called.
    /// Only for answers that are immediate and cheap (health probes, errors, static bytes): it must never block.
    /// It saves the hop to a task and back, which is most of the cost of a tiny response. A `.stream` body is not
    /// taken here (it needs a task): `respond` is called instead.
    func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse?

    /// Called on the server's thread for a request with a body, before any of the body is read: a response returned
    /// here is sent at once and the connection closed, the body never read (e.g. 413 for a route's own, smaller
    /// body limit). libmicrohttpd sends a later answer only once the whole body has arrived. It must never block.
    func refuseBody(of request: HTTPServerRequest) -> HTTPServerResponse?

    /// Starts answering a request without a body through `channel`, on the server's thread, or returns false to
    /// have `respond` called. For answers that come from callbacks elsewhere (an HTTP client's delegate on its
    /// event loop): no task is started and nothing waits. It must only start the work, never block; the answer
    /// must then come through `channel`, or the exchange lasts until the client leaves or the request deadline.
    /// Asked after `respondImmediately` declined.
    func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool

    /// `respond(to:through:)` for a request with a body: starts answering through `channel` and returns who takes
    /// the body, pushed to it on the server's thread as libmicrohttpd reads it; or nil to have `respond` called
    /// (which reads the body as an async sequence, on a task). No task and no hop between threads per slice: an
    /// upload through the server loop's upstream client goes from socket to socket on one thread (issue 7). Asked
    /// after `refuseBody` declined; it must never block.
    func bodyReceiver(for request: HTTPServerRequest, through channel: HTTPResponseChannel)
        -> (any RequestBodyReceiver)?
}

/// Takes a request body slice by slice on the server's thread (`HTTPResponder.bodyReceiver(for:through:)`).
public protocol RequestBodyReceiver: AnyObject {
    /// Takes what it can of the body's next bytes; returns how many. Fewer than all pauses reading from the client
    /// until `HTTPResponseChannel.resumeBody()`; the rest is offered again then.
    func bodyReceived(_ bytes: UnsafeRawBufferPointer) -> Int
    /// Called once: `complete` when the whole body was received, false when the exchange ended before (the client
    /// left, the deadline passed). Nothing is offered after it. Bytes after an answer was sent are dropped without
    /// being offered, and the body then ends as complete.
    func bodyEnded(complete: Bool)
}

extension HTTPResponder {
    public func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? { nil }
    public func refuseBody(of request: HTTPServerRequest) -> HTTPServerResponse? { nil }

    public func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool { false }

    public func bodyReceiver(for request: HTTPServerRequest, through channel: HTTPResponseChannel)
        -> (any RequestBodyReceiver)?
    { nil }
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
