import MicroHTTPServer
import NIOCore

/// One request in flight on an upstream connection of the server's loop, and the receiver of its answer: a subclass
/// overrides the `link…` methods, which are called on the loop thread in this order: `linkReceived(head:)`, body
/// parts, then `linkEnded` or `linkFailed`; `linkReadEnded` after each socket read's worth of events. Also the
/// handle to cancel the request or to go on reading after backpressure.
///
/// One object for the request and its answer's receiver: as two (the exchange holding a handler) they cost an
/// allocation and their reference counting on every forwarded request (callgrind, issue 7).
///
/// `@unchecked Sendable` holds because every mutable field is touched on the loop thread only; `cancel` and
/// `resumeReading` hop there when called elsewhere.
open class LinkExchange: @unchecked Sendable {
    let isHead: Bool
    /// The request may be sent again on a new connection when a reused one turned out closed (no byte came back).
    let mayRetry: Bool
    public let loop: ServerLoop

    /// A request body, streamed as the client sends it.
    public enum Body: Sendable {
        case empty
        /// Sent as it comes, with the length the head declares (`Content-Length`).
        case length
        /// Framed here as chunks (`Transfer-Encoding: chunked` in the head).
        case chunked
    }

    // Loop thread only.
    var connection: LinkConnection?
    var attempts = 0
    var isOver = false
    /// Body bytes went to a connection: the request can no longer be sent again on another one.
    var bodyStarted = false

    /// A request to be sent on `loop` by `LinkClient.start`; its head comes from `writeHead(into:)`.
    public init(method: String, loop: ServerLoop) {
        isHead = method == "HEAD"
        mayRetry = Self.mayRetry(method)
        self.loop = loop
    }

    /// Whether a request may be sent twice: not POST, PATCH and LOCK (nginx's rule for `proxy_next_upstream`). A
    /// switch over literals, which compare without hashing: a `Set` look-up cost 380 instructions (issue 7).
    private static func mayRetry(_ method: String) -> Bool {
        switch method {
        case "POST", "PATCH", "LOCK": false
        default: true
        }
    }

    // MARK: For a subclass (loop thread)

    /// Appends the request's head to `buffer` (`LinkRequestHead.write(into:…)`), the connection's own, reused from
    /// request to request: a buffer per request cost two allocations (callgrind, issue 7). Called when a connection
    /// takes the request, again on a retry.
    /// - Returns: how its body follows (`sendBody`, `endBody`; the head declares its framing), or nil when the head
    ///   cannot be written: nothing is sent, and `linkFailed` with `.badRequest` follows.
    open func writeHead(into buffer: inout ByteBuffer) -> Body? { nil }

    /// The head's field lines are a slice of the connection's read buffer: read at once, or by the end of the read
    /// (`linkReadEnded`), they cost no copy; a slice held past it makes the next read take a new buffer.
    open func linkReceived(head: consuming HTTP1ResponseParser.Head) {}
    /// - Returns: false to stop reading from the upstream until `resumeReading()`.
    open func linkReceived(body: ByteBuffer) -> Bool { true }
    open func linkReadEnded() {}
    open func linkEnded() {}
    /// The exchange failed: before the head (answer the client with an error) or after it (cut the body short).
    open func linkFailed(_ error: LinkError) {}
    /// A streamed request body (`sendBody`) may go on: the connection took what was waiting.
    open func linkBodyWritable() {}

    // MARK: The request

    /// Takes what it can of the request body's next bytes, on the loop thread; returns how many. Fewer than all:
    /// the connection holds enough unsent, and `linkBodyWritable` says when to go on. Once the exchange is over (an
    /// early answer, a failure, a cancel), every byte is taken and dropped.
    public func sendBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard !isOver, let connection else { return bytes.count }
        return connection.sendBody(bytes)
    }

    /// The request body is complete (on the loop thread).
    public func endBody() {
        guard !isOver, let connection else { return }
        connection.endBody()
    }

    /// Stops the exchange (the client left): its connection is closed, its `link…` methods hear nothing more.
    public func cancel() {
        onLoop { exchange in
            guard !exchange.isOver else { return }
            exchange.isOver = true
            exchange.connection?.abandon()
            exchange.connection = nil
        }
    }

    /// Goes on reading after `linkReceived(body:)` returned false.
    public func resumeReading() {
        onLoop { exchange in
            guard !exchange.isOver else { return }
            exchange.connection?.resumeReading()
        }
    }

    private func onLoop(_ work: @escaping @Sendable (LinkExchange) -> Void) {
        if loop.isCurrent {
            work(self)
        } else {
            loop.execute { work(self) }
        }
    }
}

/// The head of an HTTP/1.1 request, written into one buffer reserved at its size, each piece checked on
/// the way (token names, values without CR, LF or NUL, a visible target). The gateway writes the fields it forwards
/// straight into it: a list of them made first, then copied here, cost an allocation and a copy of every field per
/// request (issue 7). Piece-by-piece ByteBuffer writes and a separate validation pass cost 14,900 instructions per
/// request (callgrind, issue 7).
public struct LinkRequestHead: ~Copyable {
    private var writer: HeadWriter
    private var valid: Bool

    private init(writer: HeadWriter) {
        self.writer = writer
        valid = true
    }

    /// Appends the request line, the fields `fields` adds and the blank line to `buffer`, which grows only when it
    /// has less room than the head may need; false, and `buffer` as it was, when `fields` returned false, a piece
    /// failed its check, or the fields did not fit the room made for them (`fieldRoom`: their names and values, plus
    /// 4 bytes each). Not generic over an error: called from another module, a generic one ran unspecialised
    /// (callgrind, issue 7).
    public static func write(
        into buffer: inout ByteBuffer, method: String, target: String, fieldRoom: Int,
        _ fields: (inout LinkRequestHead) -> Bool
    ) -> Bool {
        let size = method.utf8.count + target.utf8.count + 14 + fieldRoom
        var valid = false
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { space in
            // The room asked for, not all the buffer has: a reused buffer may have much more.
            var head = LinkRequestHead(
                writer: HeadWriter(space: UnsafeMutableRawBufferPointer(rebasing: space[..<size])))
            head.valid =
                head.writer.copy(method, .token) && head.writer.copy(" ") && head.writer.copy(target, .target)
                && head.writer.copy(" HTTP/1.1\r\n")
            valid = fields(&head) && head.valid && head.writer.copy("\r\n")
            return valid ? head.writer.offset : 0
        }
        return valid
    }

    /// Field lines alone (`name: value` CRLF each, no request line, no blank line), checked as `write` checks them, to
    /// be copied into many heads by `add(lines:)`; nil when `fields` returned false or a piece failed its check. For
    /// the fields every request to an upstream carries: its `Host` and the credential cost about 500 instructions each
    /// when written from Strings per request (callgrind, issue 7).
    public static func lines(fieldRoom: Int, _ fields: (inout LinkRequestHead) -> Bool) -> [UInt8]? {
        var valid = false
        let lines = [UInt8](unsafeUninitializedCapacity: fieldRoom) { space, count in
            var head = LinkRequestHead(writer: HeadWriter(space: UnsafeMutableRawBufferPointer(space)))
            valid = fields(&head) && head.valid
            count = valid ? head.writer.offset : 0
        }
        return valid ? lines : nil
    }

    /// Adds field lines made by `lines(fieldRoom:_:)`, which were checked when they were made.
    public mutating func add(lines: [UInt8]) {
        valid = valid && lines.withUnsafeBytes { writer.append($0) }
    }

    /// Adds a field; a name that is not a token or a value with CR, LF or NUL makes the whole head invalid.
    public mutating func add(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        valid =
            valid && writer.copy(name, .token) && writer.pair(UInt8(ascii: ":"), UInt8(ascii: " "))
            && writer.copy(value, .fieldValue) && writer.pair(0x0D, 0x0A)
    }

    /// `add` of a field its caller has checked already: the name a token, the value without CR, LF or NUL. The
    /// gateway's header rules check every forwarded field; checking each byte again here cost about 450
    /// instructions a request (callgrind, issue 7).
    public mutating func add(checked name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        valid =
            valid && writer.append(name) && writer.pair(UInt8(ascii: ":"), UInt8(ascii: " ")) && writer.append(value)
            && writer.pair(0x0D, 0x0A)
    }

    /// `add` of Strings.
    public mutating func add(_ name: String, _ value: String) {
        valid =
            valid && writer.copy(name, .token) && writer.pair(UInt8(ascii: ":"), UInt8(ascii: " "))
            && writer.copy(value, .fieldValue) && writer.pair(0x0D, 0x0A)
    }
}

/// Copies the pieces of a request head into reserved bytes, checking each byte on the way.
private struct HeadWriter {
    enum Rule {
        /// A method or field name: visible ASCII, no colon, not empty.
        case token
        /// An origin-form target: visible bytes (non-ASCII passes; the router has checked it).
        case target
        /// No CR, LF or NUL.
        case fieldValue
    }

    let space: UnsafeMutableRawBufferPointer
    var offset = 0

    mutating func copy(_ text: String, _ rule: Rule) -> Bool {
        // Read in place when the bytes are contiguous (native and small Strings): `withUTF8` needs a mutable copy,
        // a retain and a release per String, eight a request (callgrind, issue 7).
        if let copied = text.utf8.withContiguousStorageIfAvailable({ copy(UnsafeRawBufferPointer($0), rule) }) {
            return copied
        }
        var text = text
        return text.withUTF8 { bytes in copy(UnsafeRawBufferPointer(bytes), rule) }
    }

    mutating func copy(_ bytes: UnsafeRawBufferPointer, _ rule: Rule) -> Bool {
        if rule == .token && bytes.isEmpty { return false }
        return Self.allAllowed(bytes, rule) && append(bytes)
    }

    /// Whether every byte passes `rule`: eight at a time, then the rest one by one. Checking each byte cost about
    /// ten instructions a byte, a fifth of the request's bytes work (callgrind, issue 7).
    static func allAllowed(_ bytes: UnsafeRawBufferPointer, _ rule: Rule) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let refused =
                switch rule {
                case .token:
                    word & highBits != 0 || hasByte(below: 0x21, word) || hasByte(UInt8(ascii: ":"), word)
                        || hasByte(0x7F, word)
                case .target: hasByte(below: 0x21, word) || hasByte(0x7F, word)
                case .fieldValue: hasByte(0, word) || hasByte(0x0D, word) || hasByte(0x0A, word)
                }
            if refused { return false }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            let allowed =
                switch rule {
                case .token: byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: ":")
                case .target: byte > 0x20 && byte != 0x7F
                case .fieldValue: byte != 0x0D && byte != 0x0A && byte != 0
                }
            if !allowed { return false }
            index += 1
        }
        return true
    }

    private static let lowBits: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Whether one of the word's bytes is below `limit` (at most 128): the borrow of a subtraction reaches the high
    /// bit of such a byte only, and a byte of 128 or more has that bit masked off. (`hasZeroByte` is the case 1.)
    @inline(__always)
    private static func hasByte(below limit: UInt8, _ word: UInt64) -> Bool {
        (word &- lowBits &* UInt64(limit)) & ~word & highBits != 0
    }

    /// Whether one of the word's bytes is `byte`: the parser's zero-byte test on the word with `byte` cleared.
    @inline(__always)
    private static func hasByte(_ byte: UInt8, _ word: UInt64) -> Bool {
        HTTP1ResponseParser.hasZeroByte(word ^ (lowBits &* UInt64(byte)))
    }

    mutating func copy(_ literal: StaticString) -> Bool {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Two bytes (`: `, CRLF), stored rather than copied: a memcpy call each cost more than the bytes.
    mutating func pair(_ first: UInt8, _ second: UInt8) -> Bool {
        guard offset + 2 <= space.count else { return false }
        space[offset] = first
        space[offset + 1] = second
        offset += 2
        return true
    }

    /// Copies `bytes` without a check: `copy` checks first, and lines from `LinkRequestHead.lines` were checked
    /// when made.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard offset + bytes.count <= space.count else { return false }
        if let base = bytes.baseAddress, bytes.count > 0 {
            (space.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count)
        }
        offset += bytes.count
        return true
    }
}
