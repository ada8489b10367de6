import NIOCore

/// A response written through calls instead of a task: for responders whose answer comes from callbacks on another
/// thread (an HTTP client's delegate on its event loop), so that no task is started and nothing awaits.
///
/// Every method may be called from any thread, in this order: either `send` once, or `sendHead` once, then `write`
/// any number of times, then `finish`. Calls after the exchange ended (the client left, the deadline passed, the
/// server shut down) are ignored; `onCancel` says when that happens.
///
/// A struct around the exchange, not an object of its own: copies are the same channel, and one fewer allocation per
/// request (issue 7).
public struct HTTPResponseChannel: Sendable {
    let exchange: Exchange

    init(exchange: Exchange) {
        self.exchange = exchange
    }

    /// Sends a whole response. A `.stream` body cannot be written here: it ends the exchange with a cut body.
    public func send(_ response: consuming HTTPServerResponse) {
        let isStream = if case .stream = response.body { true } else { false }
        exchange.deliver(response)
        if isStream { exchange.finishStream(failed: true) }
    }

    /// Sends the head of a response whose body follows through `write` and `finish`.
    /// - Parameter length: the body's length when known (sent as Content-Length), nil for a chunked body.
    public func sendHead(status: Int, headers: HTTPHeaders, length: Int?) {
        exchange.deliver(
            HTTPServerResponse(status: status, headers: headers, body: .stream(length: length, write: Self.noWriter)))
    }

    /// Sends a whole response whose fields `fields` adds one by one, each handed to libmicrohttpd as it comes
    /// (`ResponseFields`): no list is made, for a relay that reads them where they arrived (issue 7).
    /// - Parameter body: its bytes, copied; nil for none.
    public func send(status: Int, body: ByteBuffer?, _ fields: (inout ResponseFields) -> Void) {
        guard let prepared = PreparedResponse.whole(status: status, body: body, fields) else {
            return exchange.deliver(Self.unprepared)
        }
        exchange.deliver(prepared: prepared)
    }

    /// `sendHead` with the fields added as `send(status:body:_:)` adds them.
    public func sendHead(status: Int, length: Int?, _ fields: (inout ResponseFields) -> Void) {
        guard let prepared = PreparedResponse.stream(status: status, length: length, from: exchange, fields) else {
            exchange.deliver(Self.unprepared)
            return exchange.finishStream(failed: true)
        }
        exchange.deliver(prepared: prepared)
    }

    /// The answer when libmicrohttpd could not make a response (out of memory).
    private static var unprepared: HTTPServerResponse {
        .jsonError(
            status: 500, code: "internal_error", detail: "The response could not be made.", requestID: RequestID.make())
    }

    /// Queues a body chunk for the client.
    /// - Returns: false when the queue is full: stop writing until `whenWritable` calls back.
    @discardableResult
    public func write(_ chunk: ByteBuffer) -> Bool {
        exchange.enqueue(chunk) != .full
    }

    /// Calls `callback` once the queue has room again (at once when it has), or when the exchange has ended.
    /// It may be called on the server's thread: it must only hand off, never block.
    public func whenWritable(_ callback: @escaping @Sendable () -> Void) {
        exchange.whenWritable(callback)
    }

    /// Ends the body: completely, or `failed`, which cuts it short so the client sees a truncated response.
    public func finish(failed: Bool = false) {
        exchange.finishStream(failed: failed)
    }

    /// Calls `handler` once when the exchange ends before `finish` (at once when it has already): stop the work
    /// that produces the response then.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        exchange.onCancel(handler)
    }

    /// Goes on reading the request body after the receiver took less than it was offered
    /// (`RequestBodyReceiver.bodyReceived`). On the server's loop thread.
    public func resumeBody() {
        exchange.resumeBody()
    }

    private static let noWriter: @Sendable (ResponseBodyWriter) async throws -> Void = { _ in }
}

extension HTTPResponseChannel {
    /// The loop thread of the server this exchange belongs to; `respond(to:through:)` is called on it.
    public var loop: ServerLoop { exchange.context.loop }

    /// The loop's round clock (`ServerLoop.now`), read without handing out the loop, which cost a retain and a
    /// release a read (issue 7). On the loop thread only.
    public var loopNow: ContinuousClock.Instant { exchange.context.loop.now }

    /// The loop's own request IDs (`ServerLoop.requestIDs`). On the loop thread only.
    public var requestIDs: RequestID.Source { exchange.context.loop.requestIDs }

    /// Whether the calling thread is this exchange's loop, without handing out the loop.
    public var isOnLoop: Bool { exchange.context.loop.isCurrent }
}
