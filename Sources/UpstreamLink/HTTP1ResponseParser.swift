import MicroHTTPServer
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Incremental parser for the responses on one upstream HTTP/1.1 connection, one after another.
///
/// Pure and socket-free: the connection feeds it what it reads and acts on the events. Nothing an upstream sends can
/// make it trap. After an error it stays failed (every later call throws the same error): the connection is unusable.
public struct HTTP1ResponseParser: Sendable {
    /// How the body of a response is delimited.
    public enum Framing: Sendable, Equatable {
        /// No body: the request was HEAD, or the status is 204 or 304.
        case none
        case length(Int)
        case chunked
        /// The body runs until the upstream closes the connection.
        case untilClose
    }

    /// A final (non-1xx) response head.
    public struct Head: Sendable {
        public var status: Int
        /// The field lines as received, in order (Content-Length / Transfer-Encoding included), each with its line
        /// end, checked by the parser; `forEachField` reads them. A slice of the connection's read buffer, not a
        /// copy into a list (issue 7).
        public var fieldLines: ByteBuffer
        public var framing: Framing
        /// The connection may carry another request after this response.
        public var keepAlive: Bool
        /// A `Connection` field listed something besides `close` and `keep-alive`: the fields it names are
        /// hop-by-hop for this message. When false, a proxy need not look for them (issue 7).
        public var connectionNamesFields = false

        /// Calls `body` with each field's name and value (without the whitespace around it), in order.
        public func forEachField(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void) {
            fieldLines.withUnsafeReadableBytes { HTTP1ResponseParser.forEachField($0, body) }
        }

        /// The fields as a list, made when asked.
        public var headers: HTTPHeaders {
            var headers = HTTPHeaders()
            forEachField { name, value in headers.add(name, value) }
            return headers
        }
    }

    public enum Event: Sendable {
        case head(Head)
        /// A slice of the caller's buffer, not a copy.
        case body(ByteBuffer)
        case end
    }

    /// Why a response could not be read; the connection must then be closed.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public enum Code: Sendable, Equatable {
            case headTooLarge, malformedStatusLine, malformedHeader, badContentLength, badChunk, truncated
            case switchingProtocols
        }

        public var code: Code
        /// A human message, never containing header values (they may carry credentials).
        public var description: String

        init(_ code: Code, _ description: String) {
            self.code = code
            self.description = description
        }
    }

    enum State: Sendable {
        case idle
        /// `scanned` bytes at the buffer's reader index hold no complete head yet, so a new read resumes there.
        case head(isHead: Bool, scanned: Int)
        case length(remaining: Int)
        case chunkLine(ChunkLine)
        case chunkData(remaining: Int)
        case trailers(Trailers)
        case untilClose
        case failed(Error)
    }

    let maxHeadBytes: Int
    var state = State.idle

    public init(maxHeadBytes: Int = 64 << 10) {
        self.maxHeadBytes = max(0, maxHeadBytes)
    }

    /// No response in progress (before the first `expectResponse`, or after `.end`).
    public var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// Starts the next response; `isHead` when its request's method was HEAD (no body then, whatever the headers say).
    ///
    /// A failed parser stays failed: the connection it read must not carry another request.
    public mutating func expectResponse(isHead: Bool) {
        if case .failed = state { return }
        assert(isIdle, "expectResponse while a response is still in progress")
        state = .head(isHead: isHead, scanned: 0)
    }

    /// Consumes what it can from `buffer` (moves its reader index) and emits events in order.
    ///
    /// An incomplete head is left in `buffer` (the caller appends the next read to it and calls again). Body bytes
    /// are emitted as slices of `buffer` as soon as they arrive. After `.end` it stops: bytes after the message stay
    /// in `buffer` (the caller treats them as an upstream fault).
    /// - Throws: `Error` when the upstream's bytes are not a valid response.
    public mutating func parse(_ buffer: inout ByteBuffer, _ emit: (consuming Event) -> Void) throws(Error) {
        do {
            while try step(&buffer, emit) {}
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// The upstream closed the connection: `.end` for a close-delimited body; `truncated` mid-head or mid-body;
    /// nothing when no response was in progress.
    /// - Throws: `Error` with code `truncated` when a response was cut short.
    public mutating func parseEOF(_ emit: (consuming Event) -> Void) throws(Error) {
        switch state {
        case .idle:
            return
        case .failed(let error):
            throw error
        case .untilClose:
            finish(emit)
            return
        case .head:
            let error = Error(.truncated, "upstream closed the connection before the response head was complete")
            state = .failed(error)
            throw error
        case .length, .chunkData, .chunkLine, .trailers:
            let error = Error(.truncated, "upstream closed the connection in the middle of the response body")
            state = .failed(error)
            throw error
        }
    }

    /// Advances by one state; false when it needs more bytes or the message has ended.
    mutating func step(_ buffer: inout ByteBuffer, _ emit: (consuming Event) -> Void) throws(Error) -> Bool {
        switch state {
        case .idle:
            return false
        case .failed(let error):
            throw error
        case .head(let isHead, let scanned):
            return try readHead(&buffer, isHead: isHead, scanned: scanned, emit)
        case .length(let remaining):
            let left = Self.emitBody(&buffer, upTo: remaining, emit)
            if left == 0 {
                finish(emit)
            } else {
                state = .length(remaining: left)
            }
            return false
        case .chunkLine(let line):
            return try readChunkLine(&buffer, line)
        case .chunkData(let remaining):
            let left = Self.emitBody(&buffer, upTo: remaining, emit)
            // The CRLF after the data is read with the next chunk-size line.
            state = left == 0 ? .chunkLine(ChunkLine(afterData: true)) : .chunkData(remaining: left)
            return left == 0
        case .trailers(let trailers):
            return try readTrailers(&buffer, trailers, emit)
        case .untilClose:
            if buffer.readableBytes > 0, let slice = buffer.readSlice(length: buffer.readableBytes) {
                emit(.body(slice))
            }
            return false
        }
    }

    mutating func finish(_ emit: (consuming Event) -> Void) {
        state = .idle
        emit(.end)
    }

    /// Emits up to `remaining` bytes of `buffer` as one slice; returns how many are still due.
    static func emitBody(_ buffer: inout ByteBuffer, upTo remaining: Int, _ emit: (consuming Event) -> Void) -> Int {
        let count = min(remaining, buffer.readableBytes)
        guard count > 0, let slice = buffer.readSlice(length: count) else { return remaining }
        emit(.body(slice))
        return remaining - count
    }

    // MARK: - Bytes

    /// The offset of the first `byte` in `bytes[from..<to]`, or nil; `from...to` must lie within `bytes`.
    @inline(__always)
    static func firstIndex(of byte: UInt8, _ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress, let found = memchr(base + from, Int32(byte), to - from) else {
            return nil
        }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Whether `bytes[from..<to]` holds a NUL or a CR, looked for eight bytes at a time; `from...to` as above.
    @inline(__always)
    static func containsNULOrCR(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        guard to - from >= 8 else {
            for index in from..<max(from, to) where bytes[index] == 0 || bytes[index] == ASCII.cr { return true }
            return false
        }
        var index = from
        while true {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if hasZeroByte(word) || hasZeroByte(word ^ 0x0D0D_0D0D_0D0D_0D0D) { return true }
            if index == to - 8 { return false }
            // The last word may overlap the one before it.
            index = min(index + 8, to - 8)
        }
    }

    /// Whether a byte of `word` is 0 (exact: the borrow can only spill over from a byte that is 0 itself).
    @inline(__always)
    static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// ASCII case-insensitive comparison with a lowercase literal of letters and `-`: `| 0x20` folds only those,
    /// except CR onto `-`, and a CR never gets this far.
    @inline(__always)
    static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        matches(bytes, lowercase, fold: 0x20)
    }

    /// Whether `bytes` are exactly the literal's, case included.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        matches(bytes, literal, fold: 0)
    }

    /// Whether `bytes`, each ORed with `fold`, are the literal's; eight bytes at a time when there are that many.
    @inline(__always)
    static func matches(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString, fold: UInt8) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        let expected = UnsafeRawPointer(literal.utf8Start)
        guard count >= 8 else {
            for index in 0..<count where bytes[index] | fold != expected.load(fromByteOffset: index, as: UInt8.self) {
                return false
            }
            return true
        }
        let folds = UInt64(fold) &* 0x0101_0101_0101_0101
        var offset = 0
        while true {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) | folds
            if word != expected.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
            if offset == count - 8 { return true }
            // The last word may overlap the one before it.
            offset = min(offset + 8, count - 8)
        }
    }

    @inline(__always)
    static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte &- UInt8(ascii: "0")) : nil
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == ASCII.space || byte == ASCII.tab }

    /// RFC 9110 tchar: letters, digits and ``!#$%&'*+-.^_`|~``, as one bit per byte below 128.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        let bits: UInt64 = byte < 64 ? 0x03FF_6CFA_0000_0000 : 0x57FF_FFFF_C7FF_FFFE
        return byte < 128 && bits >> (byte & 63) & 1 == 1
    }

    /// The bytes the grammar names, kept inside the parser so they never clash with the module's other code.
    enum ASCII {
        static let lf = UInt8(ascii: "\n")
        static let cr = UInt8(ascii: "\r")
        static let space = UInt8(ascii: " ")
        static let tab = UInt8(ascii: "\t")
        static let colon = UInt8(ascii: ":")
        static let comma = UInt8(ascii: ",")
        static let semicolon = UInt8(ascii: ";")
    }
}
