import NIOCore
import Synchronization

extension HTTPServerResponse {
    /// The error shape of every error labgate makes itself (DESIGN.md, "Errors made by labgate"), which the Labric SDK
    /// parses as a typed error: `{"detail": ..., "code": ..., "request_id": ...}`.
    public static func jsonError(
        status: Int,
        code: String,
        detail: String,
        requestID: String,
        headers extra: HTTPHeaders = [:]
    ) -> HTTPServerResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-Id": requestID]
        for field in extra { headers.add(field.name, field.value) }
        let body =
            "{\"detail\":\(JSONText.quote(detail)),\"code\":\(JSONText.quote(code)),\"request_id\":\(JSONText.quote(requestID))}"
        return HTTPServerResponse(status: status, headers: headers, body: .string(body))
    }
}

/// Minimal JSON string quoting, so that error bodies need no encoder.
public enum JSONText {
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Request ids for errors made before any handler runs, and for every request without one of its own.
public enum RequestID {
    /// 15 hex digits, unique within the process: a count from a random start, scrambled by splitmix64's finalizer
    /// taken modulo 2^60 (each step, an odd multiplication or a right shift folded in with xor, is still a
    /// bijection there, so no two counts share an ID). Not a `getrandom` call per request: that was one system call
    /// in nine on the proxied path (issue 7). Fifteen, not sixteen: a String of up to 15 UTF-8 bytes is stored
    /// inline, so the ID costs no allocation, and its copies (record, headers, log) no reference counting.
    ///
    /// The counts of this shared counter stay below 2^40; each `Source` counts in a block of its own above that.
    public static func make() -> String {
        format(counter.add(1, ordering: .relaxed).newValue)
    }

    /// The IDs of one thread (a server loop's: `ServerLoop.requestIDs`), counted without an atomic operation. Both
    /// loops adding to one shared counter wrote a line the other core also writes, once per request (issue 7).
    /// `@unchecked Sendable`: used on its own thread only.
    public final class Source: @unchecked Sendable {
        private var block: UInt64
        private var count: UInt64 = 0

        public init() {
            block = RequestID.newBlock()
        }

        public func next() -> String {
            count += 1
            if count == Self.blockSize {
                (block, count) = (RequestID.newBlock(), 1)
            }
            return RequestID.format(block | count)
        }

        static let blockSize: UInt64 = 1 << 40
    }

    /// The start of an unused block of 2^40 counts; the first is the shared counter's.
    private static func newBlock() -> UInt64 {
        blocks.add(1, ordering: .relaxed).newValue << 40
    }

    private static func format(_ count: UInt64) -> String {
        let mask: UInt64 = (1 << 60) - 1
        var value = (start &+ count &* 0x9E37_79B9_7F4A_7C15) & mask
        value = ((value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9) & mask
        value = ((value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB) & mask
        value ^= value >> 31
        return String(unsafeUninitializedCapacity: digits) { text in
            for index in 0..<digits {
                let nibble = UInt8(truncatingIfNeeded: value >> UInt64(4 * (digits - 1 - index))) & 0xF
                text[index] = nibble < 10 ? 48 + nibble : 87 + nibble
            }
            return digits
        }
    }

    /// The length of a made ID.
    public static let digits = 15

    private static let start: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)
    private static let blocks = Atomic<UInt64>(0)
}
