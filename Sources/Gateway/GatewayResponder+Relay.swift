import MicroHTTPServer
import NIOCore

// The forwarded requests answered without a task (issue 7): a fixed credential (Labric, Genie's public API). They
// are routed, checked and counted exactly like the others; the upstream's answer is relayed from the server loop's
// client (AsyncHTTPClient's event loop for a TLS upstream) straight to the client's connection. A request body
// streams on the loop too when the upstream has a loop client.
extension GatewayResponder {
    public func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool {
        switch relay(request, through: channel, body: false) {
        case .declined: false
        case .answered, .relaying: true
        }
    }

    /// A request with a body to an upstream with a loop client (`Upstream.link`, plain http): its body streams from
    /// the client's connection to the upstream's on the loop thread (issue 7). Others (login, the private API, which
    /// may replay the body; TLS upstreams) go through `respond`.
    public func bodyReceiver(for request: HTTPServerRequest, through channel: HTTPResponseChannel)
        -> (any RequestBodyReceiver)?
    {
        switch relay(request, through: channel, body: true) {
        case .declined: nil
        case .answered: DiscardedBody.shared  // refused: the exchange drops the body
        case .relaying(let relay): relay
        }
    }

    enum RelayStart {
        /// Not a request this path takes: `respond` does.
        case declined
        /// Refused with an answer already sent.
        case answered
        /// Forwarded; the body, when there is one, goes to the relay.
        case relaying(LinkRelay?)
    }

    /// Admits, routes and forwards a request to a fixed-credential upstream from the loop.
    private func relay(_ request: HTTPServerRequest, through channel: HTTPResponseChannel, body: Bool) -> RelayStart {
        let admitted: Admitted
        // Times from the loop's round clock, read once a round: three clock reads a request were 1% of labgate's
        // CPU (perf, issue 7). The round began when its wait ended, so the error is the round's work before this
        // request, microseconds, against histogram buckets from 1 ms.
        switch admit(request, at: channel.loopNow, ids: channel.requestIDs) {
        case .refused(let response):
            channel.send(response)
            return .answered
        case .admitted(let value):
            admitted = value
        }
        let loopRoute: LoopRoute
        let target: String
        switch admitted.route {
        case .labric(let value) where upstreams.labric != nil:
            (loopRoute, target) = (self.loopRoute(upstreams.labric!, key: loopRouteKeys.labric, channel), value)
        case .geniePublic(let value) where upstreams.genie != nil:
            (loopRoute, target) = (self.loopRoute(upstreams.genie!, key: loopRouteKeys.genie, channel), value)
        default:
            return .declined  // login, the private API (token, 401 replay) and local answers: `respond`
        }
        // A body streams through the loop's client only; AsyncHTTPClient's path reads it on a task.
        if body && !loopRoute.hasLink { return .declined }
        let (route, requestID, started, client) =
            (admitted.route, admitted.requestID, admitted.started, admitted.client)
        do {
            try rateLimiter?.admit(client: client)
        } catch {
            channel.send(
                observed(error.response(requestID: requestID), request, route.name, requestID, started, client: client))
            return .answered
        }
        let record = RequestRecord(
            requestID: requestID, route: route.name, method: request.method, target: request.target,
            status: 0, peer: request.peer, client: client, started: started, upstreamDuration: nil)
        // Counted on the loop's tally: the shared metrics were a line both loops wrote for every request (issue 7).
        observer.started(on: loopRoute.tally)
        // The report made in the call, not bound first: a bound one was copied, its record's strings retained
        // (callgrind: 400 instructions a request, issue 7).
        if body {
            return .relaying(
                forwarder.forwardStreaming(
                    request, target: target,
                    report: RelayReport(route: loopRoute, channel: channel, record: consume record)))
        }
        forwarder.forward(
            request, target: target, report: RelayReport(route: loopRoute, channel: channel, record: consume record))
        return .relaying(nil)
    }

    /// This loop's `LoopRoute` to `upstream`, made on first use. On the loop thread (`respond(to:through:)`).
    private func loopRoute(_ upstream: Upstream, key: Int, _ channel: HTTPResponseChannel) -> LoopRoute {
        let loop = channel.loop
        if let route = loop.attachment(for: key) { return unsafeDowncast(route, to: LoopRoute.self) }
        let route = LoopRoute(responder: self, upstream: upstream, tally: observer.tally(for: channel))
        loop.attach(route, for: key)
        return route
    }
}

/// The receiver of a body refused with an answer: the exchange drops the bytes itself once the answer is out, so
/// this one is offered nothing.
final class DiscardedBody: RequestBodyReceiver, Sendable {
    static let shared = DiscardedBody()

    func bodyReceived(_ bytes: UnsafeRawBufferPointer) -> Int { bytes.count }
    func bodyEnded(complete: Bool) {}
}
