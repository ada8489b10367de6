import MicroHTTPServer
import NIOCore
import Testing

@testable import UpstreamLink

/// What a parser made of some bytes: its events, in order, and what it left in the buffer.
struct ParseTranscript {
    var heads: [HTTP1ResponseParser.Head] = []
    var body: [UInt8] = []
    var bodyEvents = 0
    var ends = 0
    /// "head", "body" and "end", in the order they came.
    var order: [String] = []
    var error: HTTP1ResponseParser.Error?
    var leftover: [UInt8] = []

    var head: HTTP1ResponseParser.Head? { heads.first }
    var code: HTTP1ResponseParser.Error.Code? { error?.code }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Feeds `bytes` to `parser` in pieces of the given sizes (cycled; all at once when empty), then the EOF if asked.
func feedParser(
    _ parser: inout HTTP1ResponseParser, _ bytes: [UInt8], pieces: [Int] = [], eof: Bool = false
) -> ParseTranscript {
    var buffer = ByteBuffer()
    return feedParser(&parser, bytes, appendingTo: &buffer, pieces: pieces, eof: eof)
}

/// Like `feedParser(_:_:pieces:eof:)`, appending to a buffer that may still hold what an earlier feed left.
func feedParser(
    _ parser: inout HTTP1ResponseParser, _ bytes: [UInt8], appendingTo buffer: inout ByteBuffer, pieces: [Int] = [],
    eof: Bool = false
) -> ParseTranscript {
    var transcript = ParseTranscript()
    let record = { (event: HTTP1ResponseParser.Event) in
        switch event {
        case .head(let head):
            transcript.heads.append(head)
            transcript.order.append("head")
        case .body(let slice):
            transcript.body += slice.readableBytesView
            transcript.bodyEvents += 1
            transcript.order.append("body")
        case .end:
            transcript.ends += 1
            transcript.order.append("end")
        }
    }
    var offset = 0
    var piece = 0
    do {
        // At least one call, so that bytes an earlier feed left in `buffer` are parsed too.
        repeat {
            let size = pieces.isEmpty ? bytes.count : max(1, pieces[piece % pieces.count])
            let end = min(bytes.count, offset + size)
            buffer.writeBytes(bytes[offset..<end])
            offset = end
            piece += 1
            try parser.parse(&buffer, record)
        } while offset < bytes.count
        if eof { try parser.parseEOF(record) }
    } catch {
        transcript.error = error
    }
    transcript.leftover = Array(buffer.readableBytesView)
    return transcript
}

/// One response to a GET (or HEAD) on a fresh parser.
func parseResponse(
    _ text: String, isHead: Bool = false, pieces: [Int] = [], eof: Bool = false, maxHeadBytes: Int = 64 << 10
) -> ParseTranscript {
    var parser = HTTP1ResponseParser(maxHeadBytes: maxHeadBytes)
    parser.expectResponse(isHead: isHead)
    return feedParser(&parser, Array(text.utf8), pieces: pieces, eof: eof)
}

@Suite struct HTTP1ResponseParserTests {
    @Test func readsAContentLengthBody() {
        let result = parseResponse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
        #expect(result.error == nil)
        #expect(result.head?.status == 200)
        #expect(result.head?.framing == .length(5))
        #expect(result.head?.keepAlive == true)
        #expect(result.head.map { Array($0.headers).map(\.name) } == ["Content-Type", "Content-Length"])
        #expect(result.head?.headers["content-type"] == "text/plain")
        #expect(result.bodyText == "hello")
        #expect(result.order == ["head", "body", "end"])
        #expect(result.leftover.isEmpty)
    }

    @Test func endsAZeroLengthBodyRightAfterTheHead() {
        let result = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(result.head?.framing == .length(0))
        #expect(result.order == ["head", "end"])
    }

    @Test func emitsBodyBytesAsSoonAsTheyArrive() throws {
        var parser = HTTP1ResponseParser()
        parser.expectResponse(isHead: false)
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
        var pieces: [String] = []
        let collect = { (event: HTTP1ResponseParser.Event) in
            if case .body(let slice) = event { pieces.append(String(buffer: slice)) }
        }
        try parser.parse(&buffer, collect)
        #expect(pieces == ["abc"])
        #expect(!parser.isIdle)
        buffer.writeString("def")
        try parser.parse(&buffer, collect)
        #expect(pieces == ["abc", "def"])
        #expect(parser.isIdle)
    }

    @Test func trimsValuesAndKeepsHeadersInOrder() {
        let result = parseResponse(
            "HTTP/1.1 200 OK\r\nX-A: \t one two \t\r\nx-b:\r\nX-A:three\r\nContent-Length: 0\r\n\r\n")
        let fields = result.head.map { Array($0.headers) } ?? []
        #expect(fields.map(\.name) == ["X-A", "x-b", "X-A", "Content-Length"])
        #expect(fields.map(\.value) == ["one two", "", "three", "0"])
    }

    @Test func readsChunkedBodyWithExtensionsAndTrailers() {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1A ; a=\"b\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
            + "0;last\r\nX-Checksum: 42\r\nX-Other: yes\r\n\r\n"
        let result = parseResponse(text)
        #expect(result.error == nil)
        #expect(result.head?.framing == .chunked)
        #expect(result.head?.keepAlive == true)
        #expect(result.bodyText == "helloabcdefghijklmnopqrstuvwxyz")
        #expect(result.bodyEvents == 2)
        #expect(result.ends == 1)
        #expect(result.order.last == "end")
        #expect(result.leftover.isEmpty)
        // Trailers are dropped, not merged into the head.
        #expect(result.head?.headers["X-Checksum"] == nil)
    }

    @Test func readsChunkedBodyFedOneByteAtATime() {
        let text =
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "3\r\nabc\r\n10;x=y\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n"
        let result = parseResponse(text, pieces: [1])
        #expect(result.error == nil)
        #expect(result.head?.status == 201)
        #expect(result.bodyText == "abc0123456789abcdef")
        #expect(result.ends == 1)
        #expect(result.leftover.isEmpty)
    }

    @Test func doesNotEmitEmptyChunks() {
        let result = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(result.order == ["head", "end"])
    }

    @Test(arguments: [
        ("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false),
        ("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true),
    ])
    func hasNoBodyFor204And304AndHead(text: String, isHead: Bool) {
        let result = parseResponse(text, isHead: isHead)
        #expect(result.error == nil)
        #expect(result.head?.framing == HTTP1ResponseParser.Framing.none)
        #expect(result.head?.keepAlive == true)
        #expect(result.order == ["head", "end"])
    }

    @Test func readsACloseDelimitedBodyUntilEOF() {
        let result = parseResponse(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this, until close", eof: true)
        #expect(result.error == nil)
        #expect(result.head?.framing == .untilClose)
        #expect(result.head?.keepAlive == false)
        #expect(result.bodyText == "all of this, until close")
        #expect(result.order.last == "end")
        #expect(result.ends == 1)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
        "HTTP/1.1 200 OK\r\nContent-Le",
        "",
    ])
    func reportsATruncatedResponse(text: String) {
        let result = parseResponse(text, eof: true)
        #expect(result.code == .truncated)
        #expect(result.ends == 0)
    }

    @Test func ignoresEOFWhenNoResponseIsInProgress() throws {
        var parser = HTTP1ResponseParser()
        try parser.parseEOF { _ in Issue.record("no event expected") }
        parser.expectResponse(isHead: false)
        let result = feedParser(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx".utf8))
        #expect(result.ends == 1)
        try parser.parseEOF { _ in Issue.record("no event expected") }
    }

    @Test func skipsInterimResponses() {
        let text =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        for pieces in [[], [1], [7, 3]] {
            let result = parseResponse(text, pieces: pieces)
            #expect(result.error == nil)
            #expect(result.heads.count == 1)
            #expect(result.head?.status == 200)
            #expect(result.head?.headers["Link"] == nil)
            #expect(result.bodyText == "ok")
            #expect(result.ends == 1)
        }
    }

    @Test func refusesSwitchingProtocols() {
        let result = parseResponse(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        #expect(result.code == .switchingProtocols)
        #expect(result.heads.isEmpty)
    }

    @Test(arguments: [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 6",
        "Content-Length: -5",
        "Content-Length: +5",
        "Content-Length: 5x",
        "Content-Length: 0x10",
        "Content-Length: ",
        "Content-Length: 5,",
        "Content-Length: 1234567890123456789",
    ])
    func refusesABadContentLength(fields: String) {
        let result = parseResponse("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\nhello")
        #expect(result.code == .badContentLength)
        #expect(result.heads.isEmpty)
    }

    @Test(arguments: ["Content-Length: 5\r\nContent-Length: 5", "Content-Length: 5, 5", "Content-Length: 005"])
    func acceptsEqualDuplicateContentLengths(fields: String) {
        let result = parseResponse("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\nhello")
        #expect(result.error == nil)
        #expect(result.head?.framing == .length(5))
        #expect(result.bodyText == "hello")
    }

    @Test func acceptsTheLongestContentLength() {
        let result = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n")
        #expect(result.head?.framing == .length(999_999_999_999_999_999))
    }

    @Test func prefersChunkedOverContentLengthButClosesAfter() {
        let text =
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        let result = parseResponse(text)
        #expect(result.error == nil)
        #expect(result.head?.framing == .chunked)
        #expect(result.head?.keepAlive == false)
        #expect(result.head?.headers["Content-Length"] == "100")
        #expect(result.bodyText == "abc")
        #expect(result.ends == 1)
    }

    @Test func ignoresABadContentLengthNextToTransferEncoding() {
        let result = parseResponse(
            "HTTP/1.1 200 OK\r\nContent-Length: nope\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(result.error == nil)
        #expect(result.head?.framing == .chunked)
        #expect(result.head?.keepAlive == false)
    }

    @Test(arguments: [
        "Transfer-Encoding: gzip", "Transfer-Encoding: chunked, gzip",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
    ])
    func readsUntilCloseWhenChunkedIsNotTheFinalCoding(fields: String) {
        let result = parseResponse("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\n5\r\nhello", eof: true)
        #expect(result.error == nil)
        #expect(result.head?.framing == .untilClose)
        #expect(result.head?.keepAlive == false)
        #expect(result.bodyText == "5\r\nhello")
        #expect(result.ends == 1)
    }

    @Test(arguments: ["Transfer-Encoding: gzip, chunked", "Transfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED"])
    func readsChunkedWhenItIsTheFinalCoding(fields: String) {
        let result = parseResponse("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\n0\r\n\r\n")
        #expect(result.head?.framing == .chunked)
        #expect(result.head?.keepAlive == true)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.0 200 OK\r\nConnection: foo , keep-alive\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", false),
    ])
    func decidesWhetherTheConnectionStaysOpen(text: String, keepAlive: Bool) {
        let result = parseResponse(text)
        #expect(result.error == nil)
        #expect(result.head?.keepAlive == keepAlive)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length\t: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: a\r\r\n\r\n",
    ])
    func refusesAMalformedHeaderLine(text: String) {
        let result = parseResponse(text)
        #expect(result.code == .malformedHeader)
        #expect(result.heads.isEmpty)
    }

    @Test(arguments: [
        "HTTP/1.1 200\r\n", "HTTP/1.1 200 \r\n", "HTTP/1.0 599 Whatever it is\r\n", "HTTP/1.1 404 Not\tFound\r\n",
    ])
    func acceptsStatusLineVariants(statusLine: String) {
        let result = parseResponse(statusLine + "Content-Length: 0\r\n\r\n")
        #expect(result.error == nil)
        #expect(result.ends == 1)
    }

    @Test(arguments: [
        "HTTP/1.1 099 Low", "HTTP/1.1 600 High", "HTTP/1.1 20 Short", "HTTP/1.1 2000 Long", "HTTP/1.1  200 OK",
        "HTTP/2.0 200 OK", "http/1.1 200 OK", "HTTP/1.x 200 OK", "HTTP/1.1 2a0 OK", "HTTP/1.1 200OK", "ICY 200 OK",
        "", "HTTP/1.1 200 O\0K", "HTTP/1.1 200 O\rK",
    ])
    func refusesAMalformedStatusLine(statusLine: String) {
        let result = parseResponse(statusLine + "\r\nContent-Length: 0\r\n\r\n")
        #expect(result.code == .malformedStatusLine)
    }

    @Test func refusesAHeadTooLargeWhenComplete() {
        let head = "HTTP/1.1 200 OK\r\nX-Padding: \(String(repeating: "a", count: 200))\r\nContent-Length: 0\r\n\r\n"
        #expect(parseResponse(head, maxHeadBytes: head.utf8.count).error == nil)
        #expect(parseResponse(head, maxHeadBytes: head.utf8.count - 1).code == .headTooLarge)
    }

    @Test func refusesAHeadTooLargeBeforeItIsComplete() {
        var parser = HTTP1ResponseParser(maxHeadBytes: 100)
        parser.expectResponse(isHead: false)
        var buffer = ByteBuffer()
        let start = Array("HTTP/1.1 200 OK\r\nX-Padding: ".utf8) + Array(repeating: 0x61, count: 40)
        let partial = feedParser(&parser, start, appendingTo: &buffer)
        #expect(partial.error == nil)
        #expect(partial.leftover == start)
        let result = feedParser(&parser, Array(repeating: 0x61, count: 40), appendingTo: &buffer)
        #expect(result.code == .headTooLarge)
    }

    @Test func refusesTooLargeTrailers() {
        let trailers = "X-T: \(String(repeating: "t", count: 100))\r\n\r\n"
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers
        #expect(parseResponse(text, maxHeadBytes: 100).code == .headTooLarge)
        #expect(parseResponse(text, maxHeadBytes: trailers.utf8.count).error == nil)
    }

    @Test func leavesAnIncompleteHeadInTheBuffer() {
        var parser = HTTP1ResponseParser()
        parser.expectResponse(isHead: false)
        let start = Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n".utf8)
        let result = feedParser(&parser, start)
        #expect(result.order.isEmpty)
        #expect(result.leftover == start)
    }

    @Test func parsesTwoResponsesInSequence() {
        var parser = HTTP1ResponseParser()
        #expect(parser.isIdle)
        parser.expectResponse(isHead: false)
        #expect(!parser.isIdle)
        let first = feedParser(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none".utf8))
        #expect(first.bodyText == "one")
        #expect(parser.isIdle)
        parser.expectResponse(isHead: true)
        let second = feedParser(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".utf8))
        #expect(second.head?.framing == HTTP1ResponseParser.Framing.none)
        #expect(second.ends == 1)
        parser.expectResponse(isHead: false)
        let third = feedParser(
            &parser, Array("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n".utf8))
        #expect(third.head?.status == 404)
        #expect(third.bodyText == "x")
        #expect(parser.isIdle)
    }

    @Test func leavesBytesAfterTheEndInTheBuffer() {
        let result = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
        #expect(result.bodyText == "ok")
        #expect(result.ends == 1)
        #expect(String(decoding: result.leftover, as: UTF8.self) == "HTTP/1.1 200 OK\r\n")
        let chunked = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra")
        #expect(String(decoding: chunked.leftover, as: UTF8.self) == "extra")
        let empty = parseResponse("HTTP/1.1 204 No Content\r\n\r\n\r\n")
        #expect(empty.leftover == [0x0D, 0x0A])
    }

    @Test func acceptsBareLineFeeds() {
        let plain = parseResponse("HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nok")
        #expect(plain.head?.headers["X-A"] == "1")
        #expect(plain.bodyText == "ok")
        let chunked = parseResponse(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2;x\nok\n0\nX-T: 1\n\n", pieces: [1])
        #expect(chunked.error == nil)
        #expect(chunked.bodyText == "ok")
        #expect(chunked.ends == 1)
        let mixed = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok")
        #expect(mixed.bodyText == "ok")
    }

    @Test(arguments: [
        "1234567890abcdef\r\n", "\r\n", ";ext\r\n", "z\r\n", "5\rx", "5\r\nhelloX", "5\r\nhello\rX", " 5\r\n", "-1\r\n",
    ])
    func refusesABadChunk(chunk: String) {
        let result = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
        #expect(result.code == .badChunk)
    }

    @Test func acceptsTheLongestChunkSize() {
        let result = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nabc")
        #expect(result.error == nil)
        #expect(result.bodyText == "abc")
    }

    @Test func staysFailedAfterAnError() {
        var parser = HTTP1ResponseParser()
        parser.expectResponse(isHead: false)
        let first = feedParser(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n".utf8))
        #expect(first.code == .badContentLength)
        parser.expectResponse(isHead: false)
        let again = feedParser(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8), eof: true)
        #expect(again.code == .badContentLength)
        #expect(again.order.isEmpty)
        #expect(!parser.isIdle)
    }

    @Test func neverPutsHeaderValuesInErrorMessages() {
        let secret = "Bearer-s3cr3t"
        for text in [
            "HTTP/1.1 200 OK\r\nAuthorization: \(secret)\r\n \(secret)\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \(secret)\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: \(secret)\0\r\n\r\n",
            "HTTP/1.1 200 \(secret)\0\r\n\r\n",
        ] {
            let result = parseResponse(text)
            #expect(result.error != nil)
            #expect(result.error?.description.contains(secret) == false)
        }
    }
}
