import MicroHTTPServer
import NIOCore

// The forwarded requests answered without a task (issue 7): no body, a fixed credential (Labric, Genie's public
// API). They are routed, checked and counted exactly like the others; the upstream's answer is relayed from
// AsyncHTTPClient's event loop straight to the client's connection.
extension GatewayResponder {
    public func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool {
        let admitted: Admitted
        // Times from the loop's round clock, read once a round: three clock reads a request were 1% of labgate's
        // CPU (perf, issue 7). The round began when its wait ended, so the error is the round's work before this
        // request, microseconds, against histogram buckets from 1 ms.
        switch admit(request, at: channel.loopNow) {
        case .refused(let response):
            channel.send(response)
            return true
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
            return false  // login, the private API (token, 401 replay) and local answers: `respond`
        }
        let (route, requestID, started, client) =
            (admitted.route, admitted.requestID, admitted.started, admitted.client)
        do {
            try rateLimiter?.admit(client: client)
        } catch {
            channel.send(
                observed(error.response(requestID: requestID), request, route.name, requestID, started, client: client))
            return true
        }
        let record = RequestRecord(
            requestID: requestID, route: route.name, method: request.method, target: request.target,
            status: 0, peer: request.peer, client: client, started: started, upstreamDuration: nil)
        // Counted on the loop's tally: the shared metrics were a line both loops wrote for every request (issue 7).
        observer.started(on: loopRoute.tally)
        forwarder.forward(
            request, target: target, report: RelayReport(route: loopRoute, channel: channel, record: consume record))
        return true
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
