import NIOCore
import Synchronization

/// A request body as an async sequence of chunks. Reading it pulls from the connection, so a slow reader slows
/// the client down (backpressure) instead of filling memory. It can be iterated once.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    let source: (any RequestBodySource)?
    /// The length the client announced with Content-Length, if any.
    public let declaredLength: Int?

    init(source: any RequestBodySource, declaredLength: Int?) {
        self.source = source
        self.declaredLength = declaredLength
    }

    /// No body.
    public static let empty = RequestBody(chunks: [])

    /// A body made of these chunks (tests, replays of a kept body).
    public init(chunks: [ByteBuffer]) {
        self.source = chunks.isEmpty ? nil : ChunkListSource(chunks)
        self.declaredLength = chunks.reduce(0) { $0 + $1.readableBytes }
    }

    public init(buffer: ByteBuffer) {
        self.init(chunks: [buffer])
    }

    public init(string: String) {
        self.init(buffer: ByteBuffer(string: string))
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(source: source)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: (any RequestBodySource)?

        public mutating func next() async throws -> ByteBuffer? {
            guard let source else { return nil }
            return try await source.nextChunk()
        }
    }

    /// Reads the whole body into one buffer.
    /// - Throws: `HTTPServerError.bodyTooLarge` past `limit` bytes (the rest is left unread).
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await var chunk in self {
            guard collected.readableBytes + chunk.readableBytes <= limit else { throw HTTPServerError.bodyTooLarge }
            collected.writeBuffer(&chunk)
        }
        return collected
    }
}

/// Something that hands out a body's chunks in order, nil at the end.
protocol RequestBodySource: Sendable {
    func nextChunk() async throws -> ByteBuffer?
}

final class ChunkListSource: RequestBodySource {
    private let chunks: Mutex<ArraySlice<ByteBuffer>>

    init(_ chunks: [ByteBuffer]) { self.chunks = Mutex(chunks[...]) }

    func nextChunk() async throws -> ByteBuffer? {
        chunks.withLock { $0.popFirst() }
    }
}
