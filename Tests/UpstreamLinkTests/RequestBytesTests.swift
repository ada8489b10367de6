import MicroHTTPServer
import NIOCore
import Testing

@testable import UpstreamLink

/// A head written into a buffer of its own (`LinkRequestHead.write(into:…)`); nil when it was refused.
private func head(
    method: String, target: String, fieldRoom: Int, _ fields: (inout LinkRequestHead) -> Bool
) -> ByteBuffer? {
    var buffer = ByteBuffer()
    return LinkRequestHead.write(into: &buffer, method: method, target: target, fieldRoom: fieldRoom, fields)
        ? buffer : nil
}

/// The head of a body-less request with every field of `headers`, checked (`LinkRequestHead.add`); nil when the
/// target or a field holds a byte HTTP/1.1 cannot carry.
private func requestBytes(method: String, target: String, headers: HTTPHeaders) -> ByteBuffer? {
    head(method: method, target: target, fieldRoom: headers.contentBytes + 4 * headers.count) { head in
        headers.forEachField { name, value in head.add(name, value) }
        return true
    }
}

@Suite struct RequestBytesTests {
    @Test func writesTheHeadExactly() throws {
        let headers: HTTPHeaders = ["Host": "up:8081", "Authorization": "Bearer lbk_x", "X-Note": "caf\u{e9} \t ok"]
        let bytes = try #require(requestBytes(method: "GET", target: "/a/b?c=%2F", headers: headers))
        #expect(
            String(buffer: bytes)
                == "GET /a/b?c=%2F HTTP/1.1\r\nHost: up:8081\r\nAuthorization: Bearer lbk_x\r\nX-Note: caf\u{e9} \t ok\r\n\r\n"
        )
    }

    /// Lines made once (`LinkRequestHead.lines`) and copied into a head are the bytes `add` writes for the same
    /// fields; a field that fails its check makes no lines, so a credential with a line break is never sent.
    @Test func fieldLinesMadeOnceAreTheFieldsBytes() throws {
        let lines = try #require(
            LinkRequestHead.lines(fieldRoom: 64) { head in
                head.add("Host", "up:8081")
                head.add("Authorization", "Bearer lbk_x")
                return true
            })
        #expect(String(decoding: lines, as: UTF8.self) == "Host: up:8081\r\nAuthorization: Bearer lbk_x\r\n")
        let bytes = try #require(
            head(method: "GET", target: "/a", fieldRoom: 64 + lines.count) { head in
                head.add("X-Request-Id", "r1")
                head.add(lines: lines)
                return true
            })
        #expect(
            String(buffer: bytes)
                == "GET /a HTTP/1.1\r\nX-Request-Id: r1\r\nHost: up:8081\r\nAuthorization: Bearer lbk_x\r\n\r\n")
        #expect(
            LinkRequestHead.lines(fieldRoom: 64) {
                $0.add("Authorization", "Bearer a\r\nX-Injected: 1"); return true
            } == nil)
        #expect(
            LinkRequestHead.lines(fieldRoom: 8) {
                $0.add("Authorization", "Bearer lbk_x"); return true
            } == nil)  // no room
        // Lines past the head's buffer make the head invalid, not a longer head (the buffer may be larger than the
        // room asked for: allocations are rounded up).
        let long = try #require(
            LinkRequestHead.lines(fieldRoom: 300) {
                $0.add("Authorization", String(repeating: "a", count: 256)); return true
            })
        #expect(
            head(method: "GET", target: "/a", fieldRoom: 0) { head in
                head.add(lines: long)
                return true
            } == nil)
    }

    /// A head appended to a reused buffer (an upstream connection's own, `LinkExchange.writeHead`) keeps to the room
    /// asked for, however much the buffer has, and a refused head leaves the buffer as it was.
    @Test func aHeadWrittenIntoAReusedBufferKeepsToItsRoom() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 4096)
        buffer.writeString("GET /old HTTP/1.1\r\n\r\n")
        buffer.clear()
        let long = try #require(
            LinkRequestHead.lines(fieldRoom: 300) {
                $0.add("Authorization", String(repeating: "a", count: 256)); return true
            })
        let tooLong = LinkRequestHead.write(into: &buffer, method: "GET", target: "/a", fieldRoom: 0) { head in
            head.add(lines: long)
            return true
        }
        #expect(!tooLong)
        #expect(buffer.readableBytes == 0)
        let written = LinkRequestHead.write(into: &buffer, method: "GET", target: "/a", fieldRoom: 16) { head in
            head.add("X-A", "b")
            return true
        }
        #expect(written)
        #expect(String(buffer: buffer) == "GET /a HTTP/1.1\r\nX-A: b\r\n\r\n")
        #expect(buffer.capacity >= 4096)  // the same storage, not a new one
    }

    @Test func writesAHeadWithoutFields() throws {
        let bytes = try #require(requestBytes(method: "DELETE", target: "/x", headers: [:]))
        #expect(String(buffer: bytes) == "DELETE /x HTTP/1.1\r\n\r\n")
    }

    @Test(arguments: [
        ("", "/x", "A", "b"),  // empty method
        ("G T", "/x", "A", "b"),  // space in the method
        ("GET", "/x y", "A", "b"),  // space in the target
        ("GET", "/x\r\n", "A", "b"),  // line break in the target
        ("GET", "/x", "", "b"),  // empty name
        ("GET", "/x", "A:B", "b"),  // colon in a name
        ("GET", "/x", "A\u{e9}", "b"),  // non-ASCII name
        ("GET", "/x", "A", "b\r\nInjected: 1"),  // line break in a value
        ("GET", "/x", "A", "b\u{0}c"),  // NUL in a value
    ])
    func refusesWhatCouldSplitTheHead(method: String, target: String, name: String, value: String) {
        #expect(
            requestBytes(
                method: method, target: target,
                headers: [(name, value)].reduce(into: HTTPHeaders()) { $0.add($1.0, $1.1) }) == nil)
    }

    /// Every refused byte at every place of a piece longer than a word: the check reads eight bytes at a time.
    @Test func refusesAForbiddenByteAnywhereInALongPiece() {
        func oneField(method: String = "GET", target: String = "/x", name: String = "A", value: String = "b")
            -> ByteBuffer?
        {
            requestBytes(
                method: method, target: target,
                headers: [(name, value)].reduce(into: HTTPHeaders()) { $0.add($1.0, $1.1) })
        }
        func with(_ byte: Character, at position: Int, in base: String) -> String {
            var characters = Array(base)
            characters[position] = byte
            return String(characters)
        }
        let long = String(repeating: "a", count: 21)
        #expect(oneField(method: long, target: "/" + long, name: long, value: long) != nil)
        #expect(oneField(target: "/" + long + "\u{e9}\u{7E}") != nil)  // non-ASCII passes in a target
        #expect(oneField(value: long + "\u{e9}\u{7F}\t") != nil)  // and in a value, with DEL and tabs
        for position in 0..<21 {
            for byte: Character in [" ", ":", "\u{7F}", "\u{e9}", "\u{0}", "\t"] {
                #expect(
                    oneField(name: with(byte, at: position, in: long)) == nil,
                    "name, \(byte.unicodeScalars.first!.value) at \(position)")
            }
            for byte: Character in [" ", "\u{7F}", "\r", "\n", "\u{0}"] {
                #expect(
                    oneField(target: "/" + with(byte, at: position, in: long)) == nil,
                    "target, \(byte.unicodeScalars.first!.value) at \(position)")
            }
            for byte: Character in ["\r", "\n", "\u{0}"] {
                #expect(
                    oneField(value: with(byte, at: position, in: long)) == nil,
                    "value, \(byte.unicodeScalars.first!.value) at \(position)")
            }
        }
    }
}
