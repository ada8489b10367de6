import MicroHTTPServer
import NIOCore

/// What a relay knows of one upstream response on its way to the client: shared by `UpstreamRelay` (AsyncHTTPClient's
/// event loop, a filtered `HTTPServerResponse` as its head) and `LinkRelay` (the server's loop, the parser's head),
/// whose rules are the same. The head is held until the end of the read it came in, so that a small answer that came
/// whole goes to the client as one buffer.
struct RelayProgress<Head> {
    /// The head, until `takeHeld` hands it over.
    private(set) var head: Head?
    private(set) var headSent = false
    private var pending = HeldParts()
    private(set) var bytes = 0
    /// No more upstream bytes: the response is complete, or it failed.
    var ended = false
    private var upstreamDuration: Duration?
    private var status = 0

    /// The head is known (held or sent): a failure now cuts the body instead of answering with an error.
    var hasHead: Bool { head != nil || headSent }

    mutating func received(head: consuming Head, status: Int, after duration: Duration) {
        self.status = status
        upstreamDuration = duration
        self.head = head
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
    mutating func takeHeld(endedEarly: Bool) -> (head: Head, parts: HeldParts, complete: Bool)? {
        // Moved out, not copied and then destroyed: each copy of a response retains its parts (issue 7).
        guard !headSent, let held = head.take() else { return nil }
        headSent = true
        var parts = HeldParts()
        swap(&parts, &pending)
        return (held, parts, ended && !endedEarly)
    }

    func ending(failed: Bool) -> UpstreamRelay.Ending {
        .init(status: status, bytes: bytes, upstreamDuration: upstreamDuration, failed: failed)
    }
}

extension RelayProgress where Head == HTTPServerResponse {
    /// Hands a held head and the body parts that came with it to `channel`: one buffer when the response is
    /// complete already, else the head and the parts so far, the rest to follow.
    /// - Returns: whether the response is over (nothing more will be written).
    static func deliver(
        _ head: consuming HTTPServerResponse,
        _ pending: HeldParts,
        complete: Bool,
        isHead: Bool,
        to channel: HTTPResponseChannel
    ) -> Bool {
        // The response is moved along, never copied: each copy retains its parts (issue 7).
        var response = head
        guard case .stream(let length, _) = response.body else {
            channel.send(response)
            return complete
        }
        if complete && !isHead {
            response.body = .bytes(pending.joined())
            channel.send(response)
            return true
        }
        channel.sendHead(status: response.status, headers: response.headers, length: length)
        pending.forEach { _ = channel.write($0) }
        if complete { channel.finish() }
        return complete
    }
}

/// The body parts that came with a held head, in order. The first is kept inline: most answers come in one read, and
/// an array made the held parts an allocation per request (issue 7).
struct HeldParts {
    private var first: ByteBuffer?
    private var rest: [ByteBuffer] = []

    mutating func append(_ chunk: ByteBuffer) {
        if first == nil { first = chunk } else { rest.append(chunk) }
    }

    func forEach(_ body: (ByteBuffer) -> Void) {
        guard let first else { return }
        body(first)
        for chunk in rest { body(chunk) }
    }

    /// All parts as one buffer: the only one as it is, several copied together.
    func joined() -> ByteBuffer {
        guard let first else { return ByteBuffer() }
        if rest.isEmpty { return first }
        var all = ByteBuffer()
        all.reserveCapacity(rest.reduce(first.readableBytes) { $0 + $1.readableBytes })
        forEach { chunk in
            var chunk = chunk
            all.writeBuffer(&chunk)
        }
        return all
    }
}
