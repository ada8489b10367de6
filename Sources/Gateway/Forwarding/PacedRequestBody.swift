import MicroHTTPServer
import NIOCore

/// A client's request body on its way to AsyncHTTPClient, paced so that what is handed over but not yet written stays
/// bounded.
///
/// AsyncHTTPClient pulls a streamed body from a task and hands each part to the connection's event loop without
/// waiting for it to be written; it stops pulling only once the channel has told it that it is not writable. When
/// the client sends faster than the event loop writes (a busy machine), parts pile up in the loop's task queue:
/// measured, a 256 MiB upload grew the gateway's peak RSS by 76-164 MiB. Every `window` bytes this body waits until
/// each event loop of the group has run everything queued before it (the loops run their tasks in order), so the
/// client's pause reaches AsyncHTTPClient before more is read: at most `window` bytes beyond the channel's buffer.
struct PacedRequestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let body: RequestBody
    let loops: [any EventLoop]
    let window: Int

    init(_ body: RequestBody, loops: any EventLoopGroup, window: Int = 256 << 10) {
        self.body = body
        self.loops = Array(loops.makeIterator())
        self.window = window
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), loops: loops, window: window)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: RequestBody.AsyncIterator
        let loops: [any EventLoop]
        let window: Int
        var sinceBarrier = 0

        mutating func next() async throws -> ByteBuffer? {
            if sinceBarrier >= window {
                sinceBarrier = 0
                for loop in loops { try await loop.submit {}.get() }
            }
            guard let chunk = try await chunks.next() else { return nil }
            sinceBarrier += chunk.readableBytes
            return chunk
        }
    }
}
