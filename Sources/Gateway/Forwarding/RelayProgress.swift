import MicroHTTPServer
import NIOCore

/// What a relay knows of one upstream response on its way to the client, and the step that hands over what was
/// held: shared by `UpstreamRelay` (AsyncHTTPClient's event loop) and `LinkRelay` (the server's loop), whose rules
/// are the same. The head is held until the end of the read it came in, so that a small answer that came whole
/// goes to the client as one buffer.
struct RelayProgress {
    /// The filtered head, until `takeHeld` hands it over.
    private(set) var head: HTTPServerResponse?
    private(set) var headSent = false
    private var pending: [ByteBuffer] = []
    private(set) var bytes = 0
    /// No more upstream bytes: the response is complete, or it failed.
    var ended = false
    private var upstreamDuration: Duration?
    private var status = 0

    /// The head is known (held or sent): a failure now cuts the body instead of answering with an error.
    var hasHead: Bool { head != nil || headSent }

    mutating func received(head response: HTTPServerResponse, after duration: Duration) {
        head = response
        upstreamDuration = duration
        status = response.status
    }

    /// Counts a body part and keeps it while the head is held.
    /// - Returns: whether the caller must write it to the client now (the head went already).
    mutating func received(body chunk: ByteBuffer) -> Bool {
        bytes += chunk.readableBytes
        if !headSent { pending.append(chunk) }
        return headSent
    }

    /// Takes the held head and the parts that came with it, once; nil when there is no head yet or it went.
    /// `complete` says the upstream has ended (and did not fail: `endedEarly` false).
    mutating func takeHeld(endedEarly: Bool) -> (head: HTTPServerResponse, parts: [ByteBuffer], complete: Bool)? {
        guard !headSent, let held = head else { return nil }
        headSent = true
        head = nil
        defer { pending = [] }
        return (held, pending, ended && !endedEarly)
    }

    func ending(failed: Bool) -> UpstreamRelay.Ending {
        .init(status: status, bytes: bytes, upstreamDuration: upstreamDuration, failed: failed)
    }

    /// Hands a held head and the body parts that came with it to `channel`: one buffer when the response is
    /// complete already, else the head and the parts so far, the rest to follow.
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

    static func joined(_ chunks: [ByteBuffer]) -> ByteBuffer {
        if chunks.count == 1 { return chunks[0] }
        var all = ByteBuffer()
        all.reserveCapacity(chunks.reduce(0) { $0 + $1.readableBytes })
        for var chunk in chunks { all.writeBuffer(&chunk) }
        return all
    }
}
