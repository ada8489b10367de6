import MicroHTTPServer
import NIOCore
import UpstreamLink

/// Relays one upstream response from the server loop's `LinkClient` to the client's connection, on the loop thread:
/// the same rules as `UpstreamRelay` (the head waits for the end of the socket read it came in, a complete small
/// answer goes as one buffer, a longer one streams with backpressure), without a thread in between. It is the
/// client's request to the upstream too (a `LinkExchange`): one object per forwarded request.
///
/// `@unchecked Sendable` holds because its state is touched on the loop thread only (the `link…` calls); the
/// channel's callbacks that may run elsewhere only call `LinkExchange`'s thread-safe methods.
final class LinkRelay: LinkExchange, @unchecked Sendable {
    /// The request's upstream, record and client's channel: what the relay needs of the request is read from it.
    let report: RelayReport
    /// The client's fields and the upstream's target, for the head (`writeHead`, again on a retry); the fields'
    /// buffer goes to the loop's spares once the request has ended (`giveBackHeaders`).
    private var headers: HTTPHeaders
    private let target: String
    private let withBody: Bool
    /// Why the head could not be written: the header rules' answer (`linkFailed`).
    private var refusal: GatewayError?
    /// A request body goes on to the upstream until it ended (`bodyEnded`), which the server always says.
    private var bodyOpen: Bool

    /// The parser's head is held until the read it came in has ended (`linkReadEnded`): its field lines are a slice
    /// of that read's buffer.
    private var progress = RelayProgress<HTTP1ResponseParser.Head>()

    init(headers: HTTPHeaders, target: String, withBody: Bool, report: consuming RelayReport) {
        let (method, loop) = (report.record.method, report.channel.loop)
        self.report = report
        self.headers = headers
        self.target = target
        self.withBody = withBody
        bodyOpen = withBody
        super.init(method: method, loop: loop)
    }

    override func writeHead(into buffer: inout ByteBuffer) -> LinkExchange.Body? {
        do {
            return try report.route.writeHead(
                into: &buffer, method: method, headers: headers, target: target, requestID: requestID,
                withBody: withBody)
        } catch {
            refusal = error
            return nil
        }
    }

    /// It has failed or answered already (a refused head, an unreachable upstream).
    var hasEnded: Bool { progress.ended }

    var channel: HTTPResponseChannel { report.channel }
    var method: String { report.record.method }
    var requestID: String { report.record.requestID }
    /// When the request arrived (from the loop's round clock).
    var started: ContinuousClock.Instant { report.record.started }

    override func linkReceived(head: consuming HTTP1ResponseParser.Head) {
        let status = head.status
        // The loop's round clock: upstream sockets are served first in a round, so it is when the head came.
        progress.received(head: head, status: status, after: channel.loopNow - started)
    }

    override func linkReceived(body chunk: ByteBuffer) -> Bool {
        guard progress.received(body: chunk) else { return true }
        if channel.write(chunk) { return true }
        channel.whenWritable { [self] in resumeReading() }
        return false
    }

    override func linkReadEnded() {
        flush(endedEarly: false)
    }

    override func linkEnded() {
        progress.ended = true
        guard progress.headSent else { return }  // the flush after this read sends it all
        channel.finish()
        end(failed: false)
    }

    override func linkFailed(_ error: LinkError) {
        progress.ended = true
        guard progress.hasHead else {
            giveBackHeaders()
            report.relayFailed(refusal ?? Self.gatewayError(for: error))
            return
        }
        // The head is known: send what there is, then cut the body short, so the client sees it.
        flush(endedEarly: true)
        channel.finish(failed: true)
        end(failed: true)
    }

    private func flush(endedEarly: Bool) {
        guard let (head, parts, complete) = progress.takeHeld(endedEarly: endedEarly) else { return }
        if deliver(head, parts, complete: complete) { end(failed: false) }
    }

    /// Hands the head and the body parts that came with it to the channel, as `RelayProgress.deliver` does a filtered
    /// response (the same rules as `HeaderFilter.clientResponse`), with the fields going from the upstream's bytes
    /// through the header rules to libmicrohttpd: no list, no `HTTPServerResponse` (issue 7).
    /// - Returns: whether the response is over (nothing more will be written).
    private func deliver(_ head: HTTP1ResponseParser.Head, _ pending: HeldParts, complete: Bool) -> Bool {
        let (filter, requestID, status) = (report.route.filter, requestID, head.status)
        let named = head.connectionNamesFields ? HeaderFilter.namedByConnection(head.forEachField) : []
        func fields(_ response: inout ResponseFields) {
            // Checked already: by the parser (a token name, no CR, LF or NUL in the value), by the rules (no framing
            // field), and the id when it was taken or made.
            head.forEachField { name, value in
                filter.returnField(name, value, named: named) { response.add(checked: $0, $1) }
            }
            HeaderFilter.addRequestID(requestID) { response.add(checked: $0, $1) }
        }
        if status == 204 || status == 304 || (100..<200).contains(status) {
            channel.send(status: status, body: nil, fields)
            return complete
        }
        let isHead = method == "HEAD"
        if complete && !isHead {
            channel.send(status: status, body: pending.joined(), fields)
            return true
        }
        // The parser knows the body's length; only a HEAD answer's announced length is read from the fields.
        let length: Int? =
            switch head.framing {
            case .length(let count): count
            case .none where isHead: Self.announcedLength(head) ?? 0
            case .none, .chunked, .untilClose: isHead ? 0 : nil
            }
        channel.sendHead(status: status, length: length, fields)
        pending.forEach { _ = channel.write($0) }
        if complete { channel.finish() }
        return complete
    }

    /// The first `Content-Length` of a head, when it is a valid one.
    private static func announcedLength(_ head: HTTP1ResponseParser.Head) -> Int? {
        var length: Int??
        head.forEachField { name, value in
            if length == nil, HeaderFilter.NameKind.classify(name) == .contentLength {
                length = HeaderFilter.parseContentLength(value)
            }
        }
        return length ?? nil
    }

    private func end(failed: Bool) {
        giveBackHeaders()
        report.relayEnded(progress.ending(failed: failed), at: channel.loopNow)
    }

    /// The request's fields are not needed once it has ended (no retry comes): their buffer goes to the next list
    /// made on this loop (`HTTPHeaders.Spares`). On the loop thread, as every `link…` call.
    private func giveBackHeaders() {
        headers.giveBack(to: loop.headerSpares)
    }

    // MARK: The request body, from the client's connection to the upstream's (loop thread)

    override func linkBodyWritable() {
        channel.resumeBody()
    }

    /// The 400 for a request HTTP/1.1 cannot carry (`Forwarder` finds it when writing the request's bytes).
    static let unforwardable = GatewayError(.badRequest, "The request cannot be forwarded.")

    /// labgate's error for a failure before the head: 504 for silence, 400 for a request HTTP/1.1 cannot carry,
    /// 502 otherwise.
    static func gatewayError(for error: LinkError) -> GatewayError {
        switch error.code {
        case .timeout: GatewayError(.upstreamTimeout, "The upstream did not answer in time.")
        case .badRequest: unforwardable
        case .unreachable, .broken: GatewayError(.upstreamUnreachable, "The upstream could not be reached.")
        }
    }
}

extension LinkRelay: RequestBodyReceiver {
    func bodyReceived(_ bytes: UnsafeRawBufferPointer) -> Int {
        bodyOpen ? sendBody(bytes) : bytes.count
    }

    func bodyEnded(complete: Bool) {
        guard bodyOpen else { return }
        bodyOpen = false
        if complete { endBody() } else { cancel() }
    }
}
