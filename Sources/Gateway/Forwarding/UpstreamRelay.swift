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

    let filter: HeaderFilter
    let started: ContinuousClock.Instant
    /// Told once, on the event loop, how the request ended; an error before the response head becomes labgate's
    /// error response.
    /// What the relay needs of the request (its channel, method and id) is read from the report's record.
    let report: RelayReport
    private let state: NIOLoopBoundBox<RelayProgress<HTTPServerResponse>>

    var channel: HTTPResponseChannel { report.channel }
    var method: String { report.record.method }
    var isHead: Bool { method == "HEAD" }
    var requestID: String { report.record.requestID }

    init(filter: HeaderFilter, eventLoop: any EventLoop, report: consuming RelayReport) {
        self.filter = filter
        self.started = .now
        self.report = report
        self.state = .makeBoxSendingValue(RelayProgress<HTTPServerResponse>(), eventLoop: eventLoop)
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        // The body's writer is unused: this relay sends the body itself, by the framing this response says.
        let response = filter.clientResponse(
            status: head.status.code, headers: head.headers, method: method, requestID: requestID
        ) { _ in }
        state.withValue { $0.received(head: response, status: Int(head.status.code), after: .now - started) }
        // After the rest of this read: what came with the head goes with it.
        task.eventLoop.execute { self.flush() }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let sent = state.withValue { $0.received(body: buffer) }
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
            return (state.ended, state.hasHead)
        }
        if ended { return }
        guard hasHead else {
            report.relayFailed(UpstreamClient.gatewayError(for: error))
            return
        }
        // The head is known: send what there is, then cut the body short, so the client sees it.
        flush(endedEarly: true)
        channel.finish(failed: true)
        end(failed: true)
    }

    /// Sends the head and what came with it; a response that is complete already goes as one buffer.
    private func flush(endedEarly: Bool = false) {
        guard let (head, parts, complete) = state.withValue({ $0.takeHeld(endedEarly: endedEarly) }) else { return }
        if RelayProgress.deliver(head, parts, complete: complete, isHead: isHead, to: channel) {
            end(failed: false)
        }
    }

    private func end(failed: Bool) {
        report.relayEnded(state.withValue { $0.ending(failed: failed) })
    }
}
