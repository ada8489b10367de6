import MicroHTTPServer
import NIOCore
import PropertyBased
import Testing

@testable import UpstreamLink

/// A valid response as an upstream might write it, with what the parser must make of it.
struct ResponseSample: Sendable, CustomStringConvertible {
    var minorVersion: Int
    var status: Int
    /// Fields as they should come out: values trimmed. The framing and Connection fields are among them.
    var fields: [(name: String, value: String)]
    var body: [UInt8]
    var chunked: Bool
    var keepAlive: Bool
    var encoded: [UInt8]

    var description: String { String(decoding: encoded, as: UTF8.self).debugDescription }
}

@Suite struct HTTP1ResponseParserPropertyTests {
    static func anyOf(_ values: [String]) -> Generator<String, Shrink.None<String?>> {
        Gen<String?>.element(of: values).map { $0 ?? "" }
    }

    static let tokenCharacters = Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// A name that is neither a framing nor a Connection field (those are added on purpose).
    static let name = Gen.oneOf(
        anyOf(["Content-Type", "X-Request-Id", "Cache-Control", "Set-Cookie", "ETag", "Server", "Vary"]),
        Gen<Character?>.element(of: tokenCharacters).map { $0 ?? "x" }.string(of: 1...16)
            .filter { !["content-length", "transfer-encoding", "connection"].contains($0.lowercased()) }
    )

    /// A value with optional whitespace around it, and the value trimmed.
    static let value = zip(anyOf(["", " ", "\t", "  \t"]), Gen.character(in: " "..."~").string(of: 0...40))
        .map { padding, text in (padding + text + padding, String(text.trimmingWhitespace)) }

    static let field = zip(name, value).map { name, value in (name: name, raw: value.0, value: value.1) }

    /// Flags: HTTP/1.0, chunked, bare LF line endings, a 100 Continue first, chunk extensions, trailers, uppercase hex.
    static let sample = zip(
        Gen.int(in: 200...599), field.array(of: 0...8), Gen.uint8().array(of: 0...600),
        Gen.int(in: 1...90).array(of: 1...6), Gen.bool.array(of: 7), Gen.int(in: 0...2)
    )
    .map { status, fields, body, chunkSizes, flags, connection in
        encode(
            status: status == 204 || status == 304 ? 200 : status, fields: fields, body: body, chunkSizes: chunkSizes,
            flags: flags, connection: connection)
    }

    static let pieces = Gen.int(in: 1...40).array(of: 1...12)

    static func encode(
        status: Int, fields: [(name: String, raw: String, value: String)], body: [UInt8], chunkSizes: [Int],
        flags: [Bool], connection: Int
    ) -> ResponseSample {
        let http10 = flags[0]
        let chunked = flags[1]
        let eol = flags[2] ? "\n" : "\r\n"
        var head = flags[3] ? "HTTP/1.1 100 Continue\(eol)\(eol)" : ""
        head += "HTTP/1.\(http10 ? 0 : 1) \(status) Some Reason\(eol)"
        var expected = fields.map { (name: $0.name, value: $0.value) }
        for field in fields { head += "\(field.name):\(field.raw)\(eol)" }
        if connection > 0 {
            let token = connection == 1 ? "close" : "Keep-Alive"
            head += "Connection: \(token)\(eol)"
            expected.append((name: "Connection", value: token))
        }
        let framing = chunked ? ("Transfer-Encoding", "chunked") : ("Content-Length", "\(body.count)")
        head += "\(framing.0): \(framing.1)\(eol)\(eol)"
        expected.append((name: framing.0, value: framing.1))

        var encoded = Array(head.utf8)
        if chunked {
            var offset = 0
            var index = 0
            while offset < body.count {
                let size = min(chunkSizes[index % chunkSizes.count], body.count - offset)
                let hex = String(size, radix: 16, uppercase: flags[6])
                encoded += Array("\(hex)\(flags[4] ? ";name=\"v\"" : "")\(eol)".utf8)
                encoded += body[offset..<offset + size]
                encoded += Array(eol.utf8)
                offset += size
                index += 1
            }
            encoded += Array("0\(eol)\(flags[5] ? "X-Trailer: 1\(eol)" : "")\(eol)".utf8)
        } else {
            encoded += body
        }
        let reusable = http10 ? connection == 2 && !chunked : connection != 1
        return ResponseSample(
            minorVersion: http10 ? 0 : 1, status: status, fields: expected, body: body, chunked: chunked,
            keepAlive: reusable, encoded: encoded)
    }

    @Test func validResponsesParseTheSameWhateverTheSplits() async {
        await propertyCheck(count: 1000, input: Self.sample, Self.pieces) { sample, pieces in
            var parser = HTTP1ResponseParser()
            var buffer = ByteBuffer()
            parser.expectResponse(isHead: false)
            // The same response twice on one connection: the second waits in the buffer until it is expected.
            let first = feedParser(&parser, sample.encoded + sample.encoded, appendingTo: &buffer, pieces: pieces)
            #expect(first.leftover == sample.encoded)
            parser.expectResponse(isHead: false)
            let second = feedParser(&parser, [], appendingTo: &buffer)
            for result in [first, second] {
                #expect(result.error == nil)
                #expect(result.heads.count == 1)
                #expect(result.head?.status == sample.status)
                #expect(result.head.map { Array($0.headers).map(\.name) } == sample.fields.map(\.name))
                #expect(result.head.map { Array($0.headers).map(\.value) } == sample.fields.map(\.value))
                #expect(result.head?.framing == (sample.chunked ? .chunked : .length(sample.body.count)))
                #expect(result.head?.keepAlive == sample.keepAlive)
                #expect(result.body == sample.body)
                #expect(result.ends == 1)
                #expect(result.order.first == "head" && result.order.last == "end")
            }
            #expect(second.leftover.isEmpty)
            #expect(parser.isIdle)
        }
    }

    /// Pieces of HTTP that make random input reach past the status line.
    static let fragments = [
        "HTTP/1.1 ", "HTTP/1.0 ", "HTTP/1.1 200 OK\r\n", "200", "100", "101", "204", "304", " OK", "\r\n", "\n", "\r",
        ":", ": ", " ", "\t", "Content-Length", "Transfer-Encoding", "chunked", "gzip", "Connection", "close", "0",
        "5", "a", "F", "fffffffffffffff", "ffffffffffffffff", "999999999999999999", "9999999999999999999", ";", ",",
        "\0", "X-A", "hello", "\u{7F}", "\u{FF}",
    ]

    /// Random bytes, random fragments of HTTP, and valid responses with a few bytes replaced, inserted or removed.
    static let hostile = Gen.oneOf(
        Gen.uint8().array(of: 0...300),
        anyOf(fragments).array(of: 0...60).map { Array($0.joined().utf8) },
        zip(sample, zip(Gen.int(in: 0...3), Gen.int(in: 0...10_000), Gen.uint8()).array(of: 1...6)).map {
            sample, mutations in
            var bytes = sample.encoded
            for (kind, position, byte) in mutations where !bytes.isEmpty {
                let index = position % bytes.count
                switch kind {
                case 0: bytes[index] = byte
                case 1: bytes.insert(byte, at: index)
                case 2: bytes.remove(at: index)
                default: bytes.removeLast(bytes.count - index)
                }
            }
            return bytes
        }
    )

    @Test func hostileInputNeverTrapsAndEndsInAnErrorOrAnEnd() async {
        let settings = zip(Gen.bool, Gen.int(in: 0...2))
        await propertyCheck(count: 3000, input: Self.hostile, Self.pieces, settings) { bytes, pieces, settings in
            let (isHead, limit) = settings
            var parser = HTTP1ResponseParser(maxHeadBytes: [64, 300, 64 << 10][limit])
            parser.expectResponse(isHead: isHead)
            let result = feedParser(&parser, bytes, pieces: pieces, eof: true)
            // After the EOF a response either ended once or failed.
            #expect((result.error == nil) == (result.ends == 1))
            #expect(result.heads.count <= 1)
            #expect(result.ends <= 1)
            if !result.order.isEmpty { #expect(result.order.first == "head") }
            if result.ends == 1 {
                #expect(result.order.last == "end")
                #expect(parser.isIdle)
                switch result.head?.framing {
                case .length(let count)?: #expect(result.body.count == count)
                case .some(.none): #expect(result.body.isEmpty)
                default: break
                }
            }
            if let failure = result.error {
                // Failed for good: the same error again, and no more events.
                var more = ByteBuffer(bytes: bytes)
                do throws(HTTP1ResponseParser.Error) {
                    try parser.parse(&more) { _ in Issue.record("event after an error") }
                    Issue.record("no error after an error")
                } catch {
                    #expect(error == failure)
                }
                #expect(!parser.isIdle)
            }
        }
    }
}

extension StringProtocol {
    /// Without the SP and HTAB that a field value's ends may carry.
    fileprivate var trimmingWhitespace: SubSequence {
        let isWhitespace = { (character: Character) in character == " " || character == "\t" }
        guard let first = firstIndex(where: { !isWhitespace($0) }), let last = lastIndex(where: { !isWhitespace($0) })
        else { return self[endIndex...] }
        return self[first...last]
    }
}
