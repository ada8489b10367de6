import MicroHTTPServer
import NIOCore

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
        /// As received, in order (Content-Length / Transfer-Encoding included).
        public var headers: HTTPHeaders
        public var framing: Framing
        /// The connection may carry another request after this response.
        public var keepAlive: Bool
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
        case chunkDataEnd(sawCR: Bool)
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
    public mutating func parse(_ buffer: inout ByteBuffer, _ emit: (Event) -> Void) throws(Error) {
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
    public mutating func parseEOF(_ emit: (Event) -> Void) throws(Error) {
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
        case .length, .chunkData, .chunkLine, .chunkDataEnd, .trailers:
            let error = Error(.truncated, "upstream closed the connection in the middle of the response body")
            state = .failed(error)
            throw error
        }
    }

    /// Advances by one state; false when it needs more bytes or the message has ended.
    mutating func step(_ buffer: inout ByteBuffer, _ emit: (Event) -> Void) throws(Error) -> Bool {
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
            state = left == 0 ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: left)
            return left == 0
        case .chunkDataEnd(let sawCR):
            return try readChunkDataEnd(&buffer, sawCR: sawCR)
        case .trailers(let trailers):
            return try readTrailers(&buffer, trailers, emit)
        case .untilClose:
            if buffer.readableBytes > 0, let slice = buffer.readSlice(length: buffer.readableBytes) {
                emit(.body(slice))
            }
            return false
        }
    }

    mutating func finish(_ emit: (Event) -> Void) {
        state = .idle
        emit(.end)
    }

    /// Emits up to `remaining` bytes of `buffer` as one slice; returns how many are still due.
    static func emitBody(_ buffer: inout ByteBuffer, upTo remaining: Int, _ emit: (Event) -> Void) -> Int {
        let count = min(remaining, buffer.readableBytes)
        guard count > 0, let slice = buffer.readSlice(length: count) else { return remaining }
        emit(.body(slice))
        return remaining - count
    }

    // MARK: - Head

    enum HeadScan {
        case complete(length: Int)
        case incomplete(scanned: Int)
        case tooLarge
    }

    mutating func readHead(
        _ buffer: inout ByteBuffer, isHead: Bool, scanned: Int, _ emit: (Event) -> Void
    ) throws(Error) -> Bool {
        let limit = maxHeadBytes
        let scan = buffer.withUnsafeReadableBytes { Self.scanHead($0, from: scanned, limit: limit) }
        let length: Int
        switch scan {
        case .tooLarge:
            throw Error(.headTooLarge, "upstream response head is larger than \(limit) bytes")
        case .incomplete(let scanned):
            state = .head(isHead: isHead, scanned: scanned)
            return false
        case .complete(let complete):
            length = complete
        }
        let head = try buffer.withUnsafeReadableBytes { (bytes) throws(Error) in
            try Self.parseHead(UnsafeRawBufferPointer(rebasing: bytes[0..<length]), isHead: isHead)
        }
        buffer.moveReaderIndex(forwardBy: length)
        guard let head else {
            // A 1xx interim response: skipped, the final one follows on the same connection.
            state = .head(isHead: isHead, scanned: 0)
            return true
        }
        emit(.head(head))
        switch head.framing {
        case .none, .length(0):
            finish(emit)
            return false
        case .length(let count):
            state = .length(remaining: count)
        case .chunked:
            state = .chunkLine(ChunkLine())
        case .untilClose:
            state = .untilClose
        }
        return true
    }

    /// Looks for the blank line that ends a head, resuming after the `scanned` bytes already known not to end it.
    static func scanHead(_ bytes: UnsafeRawBufferPointer, from scanned: Int, limit: Int) -> HeadScan {
        let end = min(bytes.count, limit)
        var index = min(max(scanned, 0), end)
        while index < end {
            if bytes[index] == ASCII.lf {
                // The line ending here is empty (a lone LF or CRLF).
                if index == 0 || bytes[index - 1] == ASCII.lf
                    || (bytes[index - 1] == ASCII.cr && (index == 1 || bytes[index - 2] == ASCII.lf))
                {
                    return .complete(length: index + 1)
                }
            }
            index += 1
        }
        // Not within the first `limit` bytes: the head, once complete, would be larger.
        return bytes.count >= limit && bytes.count > 0 ? .tooLarge : .incomplete(scanned: end)
    }

    /// What the header fields say about framing, gathered while they are parsed.
    struct FramingFields {
        var transferEncoding = false
        var chunkedLast = false
        var contentLength: Int?
        var contentLengthBad = false
        var close = false
        var keepAlive = false
    }

    /// Parses a complete head (its last line is the empty one); nil for a 1xx interim response.
    static func parseHead(_ head: UnsafeRawBufferPointer, isHead: Bool) throws(Error) -> Head? {
        let (statusLine, afterStatus) = nextLine(head, from: 0)
        let (status, minorVersion) = try parseStatusLine(head, statusLine)
        if status == 101 {
            throw Error(.switchingProtocols, "upstream answered 101 Switching Protocols, which is not supported")
        }
        let interim = status < 200
        var headers = HTTPHeaders()
        var fields = FramingFields()
        var cursor = afterStatus
        while true {
            let (line, next) = nextLine(head, from: cursor)
            if line.isEmpty { break }
            cursor = next
            try parseField(head, line, into: &headers, &fields, keep: !interim)
        }
        if interim { return nil }

        let http10 = minorVersion == 0
        let reusable = http10 ? fields.keepAlive && !fields.close : !fields.close
        if isHead || status == 204 || status == 304 {
            return Head(status: status, headers: headers, framing: .none, keepAlive: reusable)
        }
        if fields.transferEncoding {
            // RFC 9112 6.1 and 6.3: with Content-Length too, or on HTTP/1.0, the framing is suspect, so close after.
            let chunked = fields.chunkedLast
            let clean = chunked && fields.contentLength == nil && !fields.contentLengthBad && !http10
            return Head(
                status: status, headers: headers, framing: chunked ? .chunked : .untilClose,
                keepAlive: clean && reusable)
        }
        if fields.contentLengthBad {
            throw Error(.badContentLength, "upstream sent an invalid or conflicting Content-Length")
        }
        if let length = fields.contentLength {
            return Head(status: status, headers: headers, framing: .length(length), keepAlive: reusable)
        }
        return Head(status: status, headers: headers, framing: .untilClose, keepAlive: false)
    }

    /// The line starting at `start` without its LF or CRLF, and where the next line starts.
    static func nextLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (Range<Int>, next: Int) {
        var index = start
        while index < bytes.count && bytes[index] != ASCII.lf { index += 1 }
        let next = min(index + 1, bytes.count)
        if index > start && bytes[index - 1] == ASCII.cr { return (start..<index - 1, next) }
        return (start..<index, next)
    }

    /// `HTTP/1.x SSS reason`, the reason possibly empty or absent; returns the status and x.
    static func parseStatusLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) throws(Error) -> (Int, Int) {
        let malformed = Error(.malformedStatusLine, "upstream sent a malformed status line")
        let start = line.lowerBound
        guard line.count >= 12 else { throw malformed }
        for (offset, expected) in "HTTP/1.".utf8.enumerated() where bytes[start + offset] != expected {
            throw malformed
        }
        guard let minor = digit(bytes[start + 7]), bytes[start + 8] == ASCII.space,
            let hundreds = digit(bytes[start + 9]), let tens = digit(bytes[start + 10]),
            let units = digit(bytes[start + 11]), line.count == 12 || bytes[start + 12] == ASCII.space
        else { throw malformed }
        let status = hundreds * 100 + tens * 10 + units
        guard (100...599).contains(status) else { throw malformed }
        for index in start + 12..<line.upperBound where bytes[index] == 0 || bytes[index] == ASCII.cr {
            throw malformed
        }
        return (status, minor)
    }

    /// One `name: value` line (without its line ending).
    static func parseField(
        _ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, into headers: inout HTTPHeaders,
        _ fields: inout FramingFields, keep: Bool
    ) throws(Error) {
        let start = line.lowerBound
        let end = line.upperBound
        if bytes[start] == ASCII.space || bytes[start] == ASCII.tab {
            throw Error(.malformedHeader, "upstream sent a folded header line (obs-fold)")
        }
        var colon = start
        while colon < end && isTokenByte(bytes[colon]) { colon += 1 }
        guard colon > start, colon < end, bytes[colon] == ASCII.colon else {
            throw Error(.malformedHeader, "upstream sent a header line that is not `token: value`")
        }
        var valueStart = colon + 1
        var valueEnd = end
        while valueStart < valueEnd && isWhitespace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        for index in valueStart..<valueEnd where bytes[index] == 0 || bytes[index] == ASCII.cr {
            throw Error(.malformedHeader, "upstream sent a header value containing NUL or a bare CR")
        }
        let name = UnsafeRawBufferPointer(rebasing: bytes[start..<colon])
        let value = valueStart..<valueEnd
        if equalsLowercase(name, "content-length") {
            noteContentLength(bytes, value, &fields)
        } else if equalsLowercase(name, "transfer-encoding") {
            fields.transferEncoding = true
            var last: Range<Int>?
            forEachElement(bytes, value) { element in if !element.isEmpty { last = element } }
            // The final coding is the last element of all Transfer-Encoding lines together.
            if let last {
                fields.chunkedLast = equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[last]), "chunked")
            }
        } else if equalsLowercase(name, "connection") {
            forEachElement(bytes, value) { element in
                let token = UnsafeRawBufferPointer(rebasing: bytes[element])
                if equalsLowercase(token, "close") {
                    fields.close = true
                } else if equalsLowercase(token, "keep-alive") {
                    fields.keepAlive = true
                }
            }
        }
        if keep {
            headers.add(
                String(decoding: name, as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[value]), as: UTF8.self))
        }
    }

    /// Every element of the list must be the same decimal number of at most 18 digits (so it fits an `Int`).
    static func noteContentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>, _ fields: inout FramingFields) {
        var elements = 0
        forEachElement(bytes, value) { element in
            elements += 1
            guard !element.isEmpty, element.count <= 18 else {
                fields.contentLengthBad = true
                return
            }
            var number = 0
            for index in element {
                guard let digit = digit(bytes[index]) else {
                    fields.contentLengthBad = true
                    return
                }
                number = number * 10 + digit
            }
            if let previous = fields.contentLength, previous != number { fields.contentLengthBad = true }
            fields.contentLength = number
        }
        if elements == 0 { fields.contentLengthBad = true }
    }

    /// Calls `body` with each comma-separated element of `range`, trimmed of SP/HTAB (empty elements included).
    static func forEachElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        guard !range.isEmpty else { return }
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound && bytes[end] != ASCII.comma { end += 1 }
            var low = start
            var high = end
            while low < high && isWhitespace(bytes[low]) { low += 1 }
            while high > low && isWhitespace(bytes[high - 1]) { high -= 1 }
            body(low..<high)
            start = end + 1
        }
    }

    /// ASCII case-insensitive comparison with a lowercase literal of letters and `-`: `| 0x20` folds only those,
    /// except CR onto `-`, and a CR never gets this far.
    static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] { return false }
        return true
    }

    static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte &- UInt8(ascii: "0")) : nil
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == ASCII.space || byte == ASCII.tab }

    /// RFC 9110 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
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
