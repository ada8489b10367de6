import NIOCore
import Synchronization

/// Writes a streamed response body. `write` returns once the chunk is queued and suspends while the queue is full.
public struct ResponseBodyWriter: Sendable {
    let sink: any ResponseBodySink

    init(sink: any ResponseBodySink) {
        self.sink = sink
    }

    /// A writer that hands each chunk to `write`: for responders that wrap another response's body, and for tests.
    public init(_ write: @escaping @Sendable (ByteBuffer) async throws -> Void) {
        self.sink = ClosureSink(write: write)
    }

    /// Queues one chunk; an empty buffer is ignored.
    /// - Throws: `HTTPServerError.clientGone` when the client has left; stop producing then.
    public func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await sink.write(buffer)
    }

    public func write(_ text: String) async throws {
        try await write(ByteBuffer(string: text))
    }
}

/// Where a ResponseBodyWriter sends its chunks: the connection, or memory in tests.
protocol ResponseBodySink: Sendable {
    func write(_ buffer: ByteBuffer) async throws
}

final class CollectingSink: ResponseBodySink {
    private let buffer = Mutex(ByteBuffer())
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func write(_ chunk: ByteBuffer) async throws {
        try buffer.withLock { collected in
            guard collected.readableBytes + chunk.readableBytes <= limit else { throw HTTPServerError.bodyTooLarge }
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
    }

    var collected: ByteBuffer { buffer.withLock { $0 } }
}

struct ClosureSink: ResponseBodySink {
    let write: @Sendable (ByteBuffer) async throws -> Void

    func write(_ buffer: ByteBuffer) async throws {
        try await write(buffer)
    }
}
