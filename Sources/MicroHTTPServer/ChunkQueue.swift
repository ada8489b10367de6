import DequeModule
import NIOCore

/// Body parts queued between libmicrohttpd and a body's reader or writer, first in, first out: an exchange has one
/// each way. No storage until the first part, and most exchanges queue nothing.
///
/// Not a bare `Deque`: an empty one holds swift-collections' shared empty buffer, whose reference count is an atomic
/// that every exchange made, cleared and freed wrote (three times a request), so both loops passed its cache line
/// between the cores (issue 7).
struct ChunkQueue {
    private var parts: Deque<ByteBuffer>?

    var isEmpty: Bool { parts?.isEmpty ?? true }

    var first: ByteBuffer? { parts?.first }

    mutating func append(_ part: ByteBuffer) {
        if parts == nil { parts = Deque(minimumCapacity: 2) }
        parts!.append(part)
    }

    /// Adds `bytes` to the last part while it stays within `limit` bytes (in place: the queued bytes are not
    /// copied), else as a part of its own.
    mutating func append(_ bytes: UnsafeRawBufferPointer, joiningUpTo limit: Int) {
        if let last = parts?.indices.last, parts![last].readableBytes + bytes.count <= limit {
            parts![last].writeBytes(bytes)
        } else {
            append(ByteBuffer(bytes: bytes))
        }
    }

    mutating func popFirst() -> ByteBuffer? {
        parts?.popFirst()
    }

    /// Puts `part` in the first part's place (what is left of it once some was read).
    mutating func replaceFirst(with part: ByteBuffer) {
        guard let start = parts?.startIndex, !parts!.isEmpty else { return }
        parts![start] = part
    }

    mutating func removeAll() {
        parts = nil
    }
}
