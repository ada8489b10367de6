import Testing

@testable import MicroHTTPServer

/// `HTTPHeaders` keeps its fields as records in one byte array: what goes in comes out, in order, byte for byte,
/// however many fields, and every name and value is followed by a NUL for libmicrohttpd.
@Suite struct HTTPHeadersTests {
    @Test func fieldsComeBackInOrderAsTheyWentIn() {
        var headers: HTTPHeaders = ["Host": "up:8081", "X-Empty": "", "Accept": "a/b, c/d"]
        headers.add("host", "second")
        #expect(
            headers.map { "\($0.name)=\($0.value)" } == ["Host=up:8081", "X-Empty=", "Accept=a/b, c/d", "host=second"])
        #expect(headers.count == 4)
        #expect(headers.contentBytes == "Hostup:8081X-EmptyAccepta/b, c/dhostsecond".utf8.count)
        #expect(headers["HOST"] == "up:8081")
        #expect(headers.values("Host") == ["up:8081", "second"])
        #expect(headers.contains("x-empty") && !headers.contains("X-Emptyy"))
        #expect(headers["Missing"] == nil)
    }

    /// Past the first allocation: 300 fields of growing sizes, the first ones still intact after every growth.
    @Test func manyFieldsSurviveGrowth() {
        var headers = HTTPHeaders()
        for index in 0..<300 { headers.add("X-\(index)", String(repeating: "v", count: index)) }
        #expect(headers.count == 300)
        var index = 0
        headers.forEachField { name, value in
            #expect(String(decoding: name, as: UTF8.self) == "X-\(index)")
            #expect(value.count == index && value.allSatisfy { $0 == UInt8(ascii: "v") })
            // The NUL after each, which libmicrohttpd reads as the end of the C string.
            #expect(
                name.baseAddress!.load(fromByteOffset: name.count, as: UInt8.self) == 0
                    && value.baseAddress!.load(fromByteOffset: value.count, as: UInt8.self) == 0)
            index += 1
        }
        #expect(index == 300)
    }

    @Test func replaceAndRemoveKeepTheOtherFields() {
        var headers: HTTPHeaders = ["A": "1", "b": "2", "a": "3", "C": "4"]
        var copy = headers
        headers.replace("a", "5")
        #expect(headers.map { "\($0.name)=\($0.value)" } == ["b=2", "C=4", "a=5"])
        headers.remove("c")
        #expect(headers.map { "\($0.name)=\($0.value)" } == ["b=2", "a=5"])
        headers.removeAll { $0.value == "2" }
        #expect(headers.map { "\($0.name)=\($0.value)" } == ["a=5"])
        // A copy is its own value.
        copy.add("D", "6")
        #expect(copy.count == 5 && headers.count == 1)
    }

    /// Copies share one buffer until one of them changes: adding to either leaves the other as it was, whether the
    /// field fits in the shared buffer or makes it grow.
    @Test func copiesStaySeparateWhenTheyGrow() {
        var first = HTTPHeaders()
        first.reserveCapacity(4)
        first.add("A", "1")
        var second = first
        second.add("B", "2")  // fits: the shared buffer is copied, not written
        first.add("C", "3")
        var third = first
        third.add("D", String(repeating: "x", count: 1000))  // grows
        #expect(first.map { "\($0.name)=\($0.value)" } == ["A=1", "C=3"])
        #expect(second.map { "\($0.name)=\($0.value)" } == ["A=1", "B=2"])
        #expect(third.count == 3 && third["D"]?.count == 1000 && third["C"] == "3")
    }

    /// Removal moves the kept fields down in place, in order, and leaves a copy that shares the buffer as it was;
    /// the list then takes new fields into the room the removed ones left.
    @Test func removalInPlaceKeepsOrderAndCopies() {
        var headers: HTTPHeaders = [
            "Connection": "keep-alive", "Server": "nginx", "Content-Length": "76", "Date": "today",
            "Content-Type": "application/json", "Keep-Alive": "timeout=5",
        ]
        let shared = headers
        headers.removeAll { name, _ in name.count == 10 || name.count == 14 }  // Connection, Keep-Alive, Content-Length
        #expect(
            headers.map { "\($0.name)=\($0.value)" } == ["Server=nginx", "Date=today", "Content-Type=application/json"])
        #expect(headers.contentBytes == "Servernginx".utf8.count + "Datetoday".utf8.count + 28)
        #expect(shared.count == 6 && shared["Connection"] == "keep-alive" && shared["Keep-Alive"] == "timeout=5")
        headers.add("X-Request-Id", "abc")
        #expect(headers.map(\.name) == ["Server", "Date", "Content-Type", "X-Request-Id"])
        headers.removeAll { _, _ in true }
        #expect(headers.count == 0 && headers.contentBytes == 0 && headers["Server"] == nil)
    }

    /// Look-ups skip the walk when no name has the length asked for: a field is found as long as it is there, by
    /// any case, however long its name; once the last name of a length is removed, that length reads as absent.
    @Test func nameLengthsFollowAddsAndRemovals() {
        let long = String(repeating: "n", count: 70)
        var headers: HTTPHeaders = ["Connection": "close", "Host": "h", long: "v"]
        #expect(headers.mayHaveName(ofCount: 10) && headers.mayHaveName(ofCount: 4) && headers.mayHaveName(ofCount: 70))
        #expect(!headers.mayHaveName(ofCount: 12) && headers["X-Request-Id"] == nil)
        // Lengths of 63 and more share a bit: a different long name is looked for, and not found.
        #expect(headers[long.uppercased()] == "v" && headers[String(repeating: "n", count: 64)] == nil)
        headers.add("x-request-id", "abc")
        #expect(headers["X-Request-Id"] == "abc" && headers.mayHaveName(ofCount: 12))
        headers.remove("connection")
        #expect(!headers.mayHaveName(ofCount: 10) && headers["Connection"] == nil)
        #expect(headers["host"] == "h" && headers.mayHaveName(ofCount: 4))
        // A copy keeps its own lengths.
        var copy = headers
        copy.removeAll { _, _ in true }
        #expect(!copy.mayHaveName(ofCount: 4) && copy["Host"] == nil && headers["Host"] == "h")
    }

    /// Bytes are kept exactly, including bytes that are not UTF-8 (a proxy forwards what it was sent).
    @Test func bytesAreKeptExactly() {
        var headers = HTTPHeaders()
        let raw: [UInt8] = [0x63, 0xFF, 0xFE, 0x20, 0x09]
        raw.withUnsafeBytes { value in
            "X-Raw".utf8CString.withUnsafeBytes { headers.add(UnsafeRawBufferPointer(rebasing: $0.dropLast()), value) }
        }
        headers.forEachField { name, value in
            #expect(Array(name) == Array("X-Raw".utf8))
            #expect(Array(value) == raw)
        }
    }

    /// A list given back hands its buffer to the spares when it was its only holder, and the next list made from the
    /// spares takes that buffer, empty; a list that shares its buffer with a copy gives nothing, and the copy keeps
    /// its fields.
    @Test func sparesTakeBackOnlyUnsharedBuffers() throws {
        let spares = HTTPHeaders.Spares()
        var first = HTTPHeaders(capacity: 2, bytes: 40, from: spares)
        first.add("Host", "up:8081")
        first.add("Accept", "a/b")
        let buffer = ObjectIdentifier(try #require(first.storage))  // not a reference: that would share the buffer
        first.giveBack(to: spares)
        #expect(first.count == 0 && first.storage == nil)
        #expect(spares.count == 1)

        var second = HTTPHeaders(capacity: 1, bytes: 10, from: spares)
        #expect(second.storage.map(ObjectIdentifier.init) == buffer)
        #expect(spares.count == 0)
        #expect(second.count == 0 && second["Host"] == nil)  // nothing of the last list's fields
        second.add("X-A", "b")
        #expect(second.map { "\($0.name)=\($0.value)" } == ["X-A=b"])

        let copy = second
        second.giveBack(to: spares)
        #expect(spares.count == 0)  // the copy still holds the buffer
        #expect(copy["X-A"] == "b")
    }

    /// Spares hold small buffers only, and a bounded number of them; a list that needs more than a spare holds gets a
    /// new buffer.
    @Test func sparesAreBoundedInSizeAndNumber() throws {
        let spares = HTTPHeaders.Spares()
        var large = HTTPHeaders(capacity: 1, bytes: HTTPHeaders.Spares.maxCapacity + 1, from: spares)
        large.add("X", "y")
        large.giveBack(to: spares)
        #expect(spares.count == 0)

        var lists = (0..<(HTTPHeaders.Spares.maxCount + 5)).map { _ in HTTPHeaders(capacity: 1, bytes: 8, from: spares)
        }
        for index in lists.indices { lists[index].giveBack(to: spares) }
        #expect(spares.count == HTTPHeaders.Spares.maxCount)

        let small = try #require(HTTPHeaders(capacity: 1, bytes: 8, from: spares).storage)
        #expect(small.header >= HTTPHeaders.Spares.minCapacity)
        let bigger = HTTPHeaders(capacity: 1, bytes: 4 * HTTPHeaders.Spares.minCapacity, from: spares)
        #expect(try #require(bigger.storage).header >= 4 * HTTPHeaders.Spares.minCapacity)
    }
}
