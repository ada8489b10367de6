import AsyncHTTPClient
import MicroHTTPServer
import NIOCore
import NIOHTTP1

/// Relays one upstream response to the client as AsyncHTTPClient delivers it, on the request's event loop: no task
/// and no await between the upstream's bytes and the client's connection (issue 7).
///
/// The head waits for the end of the event loop's current read (one `execute`), so that a small response that
/// arrived in one read goes to the client whole, in one hand-off; a body that keeps coming (server-sent events, large
/// files) streams chunk by chunk from there, with AsyncHTTPClient's backpressure: a full client queue holds the
/// upstream's reads.
final class UpstreamRelay: HTTPClientResponseDelegate {
    typealias Response = Void

    /// Where the relay ends: the client's status and bytes, for the access log and metrics.
    struct Ending: Sendable {
        var status: Int
        var bytes: Int
        /// Time to the upstream's response head; nil when there was none.
        var upstreamDuration: Duration?
        /// The body was cut short (upstream failure after the head, or the client left).
        var failed: Bool
    }

    private struct State {
        /// The filtered head, from `didReceiveHead` until `flush` sends it.
        var head: HTTPServerResponse?
        var headSent = false
        var pending: [ByteBuffer] = []
        var bytes = 0
        /// No more upstream bytes: the response is complete, or it failed.
        var ended = false
        var upstreamDuration: Duration?
        var status = 0
    }

    let channel: HTTPResponseChannel
    let filter: HeaderFilter
    let method: String
    var isHead: Bool { method == "HEAD" }
    let requestID: String
    let started: ContinuousClock.Instant
    /// The request's end: called once, on the event loop.
    let onEnd: @Sendable (Ending) -> Void
    /// An error before the response head: the client gets labgate's error response for it.
    let onError: @Sendable (any Error) -> Void
    private let state: NIOLoopBoundBox<State>

    init(
        channel: HTTPResponseChannel,
        filter: HeaderFilter,
        method: String,
        requestID: String,
        eventLoop: any EventLoop,
        onError: @escaping @Sendable (any Error) -> Void,
        onEnd: @escaping @Sendable (Ending) -> Void
    ) {
        self.channel = channel
        self.filter = filter
        self.method = method
        self.requestID = requestID
        self.started = .now
        self.onError = onError
        self.onEnd = onEnd
        self.state = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        // The body's writer is unused: this relay sends the body itself, by the framing this response says.
        let response = filter.clientResponse(
            status: head.status.code, headers: head.headers, method: method, requestID: requestID
        ) { _ in }
        state.withValue { state in
            state.head = response
            state.upstreamDuration = .now - started
            state.status = response.status
        }
        // After the rest of this read: what came with the head goes with it.
        task.eventLoop.execute { self.flush() }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let sent = state.withValue { state -> Bool in
            state.bytes += buffer.readableBytes
            if !state.headSent { state.pending.append(buffer) }
            return state.headSent
        }
        guard sent, !channel.write(buffer) else { return task.eventLoop.makeSucceededVoidFuture() }
        let writable = task.eventLoop.makePromise(of: Void.self)
        channel.whenWritable { writable.succeed() }
        return writable.futureResult
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        let headSent = state.withValue { state -> Bool in
            state.ended = true
            return state.headSent
        }
        guard headSent else { return }  // the scheduled flush sends it all
        channel.finish()
        end(failed: false)
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        let (ended, hasHead) = state.withValue { state -> (Bool, Bool) in
            defer { state.ended = true }
            return (state.ended, state.head != nil || state.headSent)
        }
        if ended { return }
        guard hasHead else {
            onError(error)
            return
        }
        // The head is known: send what there is, then cut the body short, so the client sees it.
        flush(endedEarly: true)
        channel.finish(failed: true)
        end(failed: true)
    }

    /// Sends the head and what came with it; a response that is complete already goes as one buffer.
    private func flush(endedEarly: Bool = false) {
        let step = state.withValue { state -> (HTTPServerResponse, [ByteBuffer], complete: Bool)? in
            guard !state.headSent, let head = state.head else { return nil }
            state.headSent = true
            state.head = nil
            defer { state.pending = [] }
            return (head, state.pending, state.ended && !endedEarly)
        }
        guard let (head, pending, complete) = step else { return }
        if Self.deliver(head, pending, complete: complete, isHead: isHead, to: channel) { end(failed: false) }
    }

    /// Hands a held head and the body parts that came with it to `channel`: one buffer when the response is
    /// complete already, else the head and the parts so far, the rest to follow. Shared with `LinkRelay`.
    /// - Returns: whether the response is over (nothing more will be written).
    static func deliver(
        _ head: HTTPServerResponse,
        _ pending: [ByteBuffer],
        complete: Bool,
        isHead: Bool,
        to channel: HTTPResponseChannel
    ) -> Bool {
        guard case .stream(let length, _) = head.body else {
            channel.send(head)
            return complete
        }
        if complete && !isHead {
            var response = head
            response.body = .bytes(joined(pending))
            channel.send(response)
            return true
        }
        channel.sendHead(status: head.status, headers: head.headers, length: length)
        for chunk in pending { channel.write(chunk) }
        if complete { channel.finish() }
        return complete
    }

    private func end(failed: Bool) {
        let ending = state.withValue {
            Ending(status: $0.status, bytes: $0.bytes, upstreamDuration: $0.upstreamDuration, failed: failed)
        }
        onEnd(ending)
    }

    static func joined(_ chunks: [ByteBuffer]) -> ByteBuffer {
        if chunks.count == 1 { return chunks[0] }
        var all = ByteBuffer()
        all.reserveCapacity(chunks.reduce(0) { $0 + $1.readableBytes })
        for var chunk in chunks { all.writeBuffer(&chunk) }
        return all
    }
}
