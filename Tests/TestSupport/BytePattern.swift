import Foundation
import NIOCore

/// A deterministic byte pattern, so both ends can check a large body without keeping it. Offsets index a 1 MiB
/// pseudo-random block, so filling and checking are memcpy/memcmp (fast even in debug builds).
public enum BytePattern {
    public static let size = 1 << 20
    public static let block: [UInt8] = {
        var state: UInt32 = 2_463_534_242
        return (0..<size).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return UInt8(truncatingIfNeeded: state)
        }
    }()

    /// Fills `target` with the pattern's bytes starting at `offset`.
    public static func fill(_ target: UnsafeMutableRawBufferPointer, from offset: Int) {
        block.withUnsafeBytes { source in
            var done = 0
            while done < target.count {
                let start = (offset + done) % size
                let n = min(target.count - done, size - start)
                (target.baseAddress! + done).copyMemory(from: source.baseAddress! + start, byteCount: n)
                done += n
            }
        }
    }

    /// Fills `buffer` with the pattern's bytes starting at `offset`.
    public static func fill(_ buffer: inout [UInt8], from offset: Int) {
        buffer.withUnsafeMutableBytes { fill($0, from: offset) }
    }

    /// `count` bytes of the pattern starting at `offset`.
    public static func chunk(at offset: Int, count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
            fill(UnsafeMutableRawBufferPointer(rebasing: target[..<count]), from: offset)
            return count
        }
        return buffer
    }

    /// True when `bytes` are the pattern's bytes starting at `offset`.
    public static func matches(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        block.withUnsafeBytes { source in
            var done = 0
            while done < bytes.count {
                let start = (offset + done) % size
                let n = min(bytes.count - done, size - start)
                if memcmp(bytes.baseAddress! + done, source.baseAddress! + start, n) != 0 { return false }
                done += n
            }
            return true
        }
    }

    /// True when `buffer`'s readable bytes are the pattern's bytes starting at `offset`.
    public static func matches(_ buffer: ByteBuffer, at offset: Int) -> Bool {
        buffer.withUnsafeReadableBytes { matches($0, at: offset) }
    }
}

/// `total` bytes of `BytePattern` in chunks of `chunkSize`, made only as they are pulled: an upload body that never
/// exists in memory as a whole.
public struct PatternChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let total: Int
    let chunkSize: Int

    public init(total: Int, chunkSize: Int) {
        self.total = total
        self.chunkSize = chunkSize
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let total: Int
        let chunkSize: Int
        var offset = 0

        public mutating func next() async -> ByteBuffer? {
            guard offset < total else { return nil }
            let count = Swift.min(chunkSize, total - offset)
            defer { offset += count }
            return BytePattern.chunk(at: offset, count: count)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(total: total, chunkSize: chunkSize) }
}
