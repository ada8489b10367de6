import Foundation
import LabgateTestSupport
import MicroHTTPServer
import Synchronization
import Testing

/// `ServerLoop.addFlusher`: per-loop state that gathers what requests did (labgate's request metrics) is handed on
/// before the loop sends the answers of the round that recorded it, so that a client never sees an answer whose
/// record is still held.
@Suite struct LoopFlusherTests {
    /// What work queued for the loop's next round records, as an upstream's answer does, is flushed before that
    /// round's answer reaches the client: checked after each of 50 keep-alive requests, on two loops.
    @Test func whatARoundRecordedIsFlushedBeforeItsAnswersGoOut() async throws {
        let flushed = Flushed()
        let key = ServerLoop.makeAttachmentKey()
        try await withServer(
            { $0.loops = 2 },
            responder: ChannelResponder { request, channel in
                let loop = channel.loop
                let tally: Tally
                if let attached = loop.attachment(for: key) {
                    tally = attached as! Tally
                } else {
                    tally = Tally(flushed)
                    loop.attach(tally, for: key)
                    loop.addFlusher(tally)
                }
                let target = request.target
                loop.execute {
                    tally.pending.append(target)
                    channel.send(HTTPServerResponse(status: 200, body: .string(target)))
                    // The round's end comes well after the answer went: only a flush before the send is in time.
                    loop.atRoundEnd(RoundEndWork { usleep(10_000) })
                }
                return true
            }
        ) { server in
            let missing = try await offPool {
                let client = try RawClient(port: server.port)
                var missing: [String] = []
                for i in 0..<50 {
                    try client.send("GET /n/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
                    let text = try client.readResponse().text
                    if !flushed.targets.withLock({ $0.contains(text) }) { missing.append(text) }
                }
                return missing
            }
            #expect(missing.isEmpty, "answered before flushed: \(missing)")
            #expect(flushed.targets.withLock { $0.count } == 50)
        }
    }
}

/// What the tallies handed over, from any loop.
private final class Flushed: Sendable {
    let targets = Mutex<Set<String>>([])
}

/// Records on its loop, hands the records over when flushed.
private final class Tally: ServerLoopFlusher, @unchecked Sendable {
    var pending: [String] = []
    let flushed: Flushed

    init(_ flushed: Flushed) {
        self.flushed = flushed
    }

    func flush() {
        guard !pending.isEmpty else { return }
        flushed.targets.withLock { $0.formUnion(pending) }
        pending.removeAll()
    }
}
