import NIOCore

extension HTTP1ResponseParser {
    /// How far a chunk-size line (`1a;name=value\r\n`) has been read; it may arrive a byte at a time.
    struct ChunkLine: Sendable {
        enum Phase: Sendable {
            /// The CRLF (or LF) that ends the previous chunk's data, before its CR or after it.
            case dataEnd, dataEndLineFeed
            case size, extensions, lineFeed
        }

        var size = 0
        var digits = 0
        /// Bytes of the line so far, bounded so that endless extensions are refused.
        var length = 0
        var phase: Phase

        /// `afterData` when the line follows a chunk's data, whose line ending comes first.
        init(afterData: Bool = false) {
            phase = afterData ? .dataEnd : .size
        }
    }

    /// How much of the trailer section has been seen: enough to find its blank line and to bound it.
    struct Trailers: Sendable {
        var total = 0
        var lineLength = 0
    }

    enum ChunkLineScan {
        case partial(ChunkLine)
        case size(Int)
        case failure(Error)
    }

    /// Consumes the chunk-size line; true when it is complete and the state moved on.
    mutating func readChunkLine(_ buffer: inout ByteBuffer, _ line: ChunkLine) throws(Error) -> Bool {
        let limit = maxHeadBytes
        let (consumed, scan) = buffer.withUnsafeReadableBytes { Self.scanChunkLine($0, line, limit: limit) }
        buffer.moveReaderIndex(forwardBy: consumed)
        switch scan {
        case .partial(let line):
            state = .chunkLine(line)
            return false
        case .size(0):
            state = .trailers(Trailers())
        case .size(let size):
            state = .chunkData(remaining: size)
        case .failure(let error):
            throw error
        }
        return true
    }

    static func scanChunkLine(_ bytes: UnsafeRawBufferPointer, _ start: ChunkLine, limit: Int) -> (Int, ChunkLineScan) {
        var line = start
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            // The end of the previous chunk's data is not part of the line, so not counted in its length.
            if line.phase != .dataEnd && line.phase != .dataEndLineFeed { line.length += 1 }
            if line.length > limit {
                return (index, .failure(Error(.badChunk, "upstream sent a chunk-size line longer than \(limit) bytes")))
            }
            switch line.phase {
            case .dataEnd, .dataEndLineFeed:
                if byte == ASCII.lf {
                    line.phase = .size
                } else if byte == ASCII.cr && line.phase == .dataEnd {
                    line.phase = .dataEndLineFeed
                } else {
                    return (index, .failure(Error(.badChunk, "upstream sent chunk data longer than its chunk size")))
                }
            case .size:
                if let value = hexValue(byte) {
                    // 15 hex digits fit an Int with room to spare, so the size cannot overflow.
                    guard line.digits < 15 else {
                        return (index, .failure(Error(.badChunk, "upstream sent a chunk size of more than 15 digits")))
                    }
                    line.size = line.size << 4 | value
                    line.digits += 1
                    continue
                }
                guard line.digits > 0 else {
                    return (index, .failure(Error(.badChunk, "upstream sent a chunk-size line without a size")))
                }
                switch byte {
                case ASCII.lf: return (index, .size(line.size))
                case ASCII.cr: line.phase = .lineFeed
                case ASCII.semicolon, ASCII.space, ASCII.tab: line.phase = .extensions
                default: return (index, .failure(Error(.badChunk, "upstream sent an invalid chunk size")))
                }
            case .extensions:
                // Chunk extensions are ignored; only the end of their line matters.
                if byte == ASCII.lf { return (index, .size(line.size)) }
                if byte == ASCII.cr { line.phase = .lineFeed }
            case .lineFeed:
                guard byte == ASCII.lf else {
                    return (index, .failure(Error(.badChunk, "upstream sent a bare CR in a chunk-size line")))
                }
                return (index, .size(line.size))
            }
        }
        return (index, .partial(line))
    }

    /// Skips the trailer fields up to their blank line, then ends the response.
    mutating func readTrailers(
        _ buffer: inout ByteBuffer, _ start: Trailers, _ emit: (consuming Event) -> Void
    ) throws(Error) -> Bool {
        let limit = maxHeadBytes
        let (consumed, done, trailers) = buffer.withUnsafeReadableBytes { bytes in
            var trailers = start
            var index = 0
            // `total` stops at `limit`: a byte beyond it means the section is too large.
            while index < bytes.count && trailers.total < limit {
                let byte = bytes[index]
                index += 1
                trailers.total += 1
                if byte == ASCII.lf {
                    if trailers.lineLength == 0 { return (index, true, trailers) }
                    trailers.lineLength = 0
                } else if byte != ASCII.cr {
                    trailers.lineLength += 1
                }
            }
            return (index, false, trailers)
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if done {
            finish(emit)
            return false
        }
        if trailers.total >= limit && buffer.readableBytes > 0 {
            throw Error(.headTooLarge, "upstream sent chunked trailers larger than \(limit) bytes")
        }
        state = .trailers(trailers)
        return false
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte &- UInt8(ascii: "A") &+ 10)
        default: nil
        }
    }
}
