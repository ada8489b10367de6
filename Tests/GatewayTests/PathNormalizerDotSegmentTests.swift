import Testing

@testable import Gateway
@testable import Sandbox

/// The one-pass dot-segment check against the first implementation (each segment decoded into an array, then
/// compared), kept here as the reference, over paths made of the pieces that matter.
@Suite struct PathNormalizerDotSegmentTests {
    static let pieces = [
        ".", "..", "%2e", "%2E", "%2e%2E", "/", "\\", "%2f", "%2F", "%5c", "%5C", ";", "%3B", "a", "b.", ".c", "%",
        "%z", "%2", "x;.", "%00",
    ]

    @Test func agreesWithTheSegmentArrayReference() {
        var random = SeededGenerator(seed: "dot-segments")  // seeded: a failure replays
        for _ in 0..<20_000 {
            let count = Int(random.next() % 8) + 1
            let path =
                "/" + (0..<count).map { _ in Self.pieces[Int(random.next() % UInt64(Self.pieces.count))] }.joined()
            #expect(PathNormalizer.containsDotSegment(path) == Self.reference(path), "\(path)")
        }
    }

    @Test(arguments: [
        ("/a/./b", true), ("/a/../b", true), ("/a/%2e%2E/b", true), ("/a/..;x/b", true), ("/a%2f..%5cb", true),
        ("/a/...", false), ("/a/.b", false), ("/a/%3B..", false), ("/", false), ("/..", true), ("/a/.", true),
    ])
    func knownPaths(path: String, dot: Bool) {
        #expect(PathNormalizer.containsDotSegment(path) == dot)
    }

    /// The first implementation: split at "/" and "\", raw or encoded; decode; cut at a raw ";"; compare.
    static func reference(_ path: String) -> Bool {
        var bytes = Array(path.utf8)[...]
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x61...0x66: byte - 0x61 + 10
            case 0x41...0x46: byte - 0x41 + 10
            default: nil
            }
        }
        while true {
            var segment: [UInt8] = []
            var parameters = false
            var separator = false
            while let byte = bytes.first {
                if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                    bytes.removeFirst()
                    separator = true
                    break
                }
                if byte == UInt8(ascii: "%"), bytes.count >= 3,
                    let high = hex(bytes[bytes.startIndex + 1]), let low = hex(bytes[bytes.startIndex + 2])
                {
                    bytes.removeFirst(3)
                    let value = high << 4 | low
                    if value == UInt8(ascii: "/") || value == UInt8(ascii: "\\") {
                        separator = true
                        break
                    }
                    if !parameters { segment.append(value) }
                    continue
                }
                bytes.removeFirst()
                if byte == UInt8(ascii: ";") { parameters = true }
                if !parameters { segment.append(byte) }
            }
            if segment == [0x2E] || segment == [0x2E, 0x2E] { return true }
            if !separator { return false }
        }
    }
}
