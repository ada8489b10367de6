import MicroHTTPServer

/// The bookkeeping of one relayed request: what the access log and the metrics record once it ends, told once, on
/// the relay's thread. A value kept inside the relay: as an object of its own (and before that two closures) it cost
/// an allocation and its reference counting on every forwarded request (issue 7).
struct RelayReport: Sendable {
    /// The responder and the upstream, through the loop's own object (`LoopRoute`).
    let route: LoopRoute
    let channel: HTTPResponseChannel
    /// Status and upstream time still unknown (0, nil).
    let record: RequestRecord

    var responder: GatewayResponder { route.responder }

    /// The loop's metrics when told on the loop, else nil (the shared metrics).
    private var localTally: RequestTally? {
        guard let tally = route.tally, channel.isOnLoop else { return nil }
        return tally
    }

    /// The request failed before the upstream's head (a `GatewayError`, or a cancellation when the client left):
    /// nothing has been sent to the client.
    func relayFailed(_ error: any Error) {
        let observer = responder.observer
        observer.finished(on: localTally)
        // The client left before the head: there is no one to answer or to log for.
        guard let error = error as? GatewayError else { return }
        observer.upstreamError(route: record.route, code: error.code.rawValue)
        channel.send(responder.observed(error.response(requestID: record.requestID), record))
    }

    /// The response went to the client, completely or cut short, at `end` (now when not given).
    func relayEnded(_ ending: UpstreamRelay.Ending, at end: ContinuousClock.Instant = .now) {
        if let tally = localTally {
            tally.ended(
                record, status: ending.status, upstreamDuration: ending.upstreamDuration, bytes: ending.bytes,
                failed: ending.failed, at: end)
            return
        }
        let observer = responder.observer
        observer.finished()
        observer.completed(
            record, status: ending.status, upstreamDuration: ending.upstreamDuration, bytes: ending.bytes,
            failed: ending.failed, at: end)
    }
}
