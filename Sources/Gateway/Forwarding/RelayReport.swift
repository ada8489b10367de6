/// Where a relayed response's outcome goes: told once, on the relay's thread, how the request ended. One object per
/// forwarded request: the two closures it replaced cost two allocations and captured the whole request (issue 7).
protocol RelayReport: AnyObject, Sendable {
    /// The request failed before the upstream's head (a `GatewayError`, or a cancellation when the client left):
    /// nothing has been sent to the client.
    func relayFailed(_ error: any Error)
    /// The response went to the client, completely or cut short.
    func relayEnded(_ ending: UpstreamRelay.Ending)
}
