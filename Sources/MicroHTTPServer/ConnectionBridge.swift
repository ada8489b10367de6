import CMicroHTTPD
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The per-connection libmicrohttpd calls: reading the head, queuing a response. MHD thread only.
enum ConnectionBridge {
    /// MHD_CONTENT_READER_END_OF_STREAM and _END_WITH_ERROR: casts in C, so Swift does not import them.
    static let endOfStream = -1
    static let endWithError = -2

    /// The request's fields, in a buffer from `spares` (the loop's, on its thread).
    static func requestHeaders(_ connection: OpaquePointer, spares: HTTPHeaders.Spares) -> HTTPHeaders {
        // Without an iterator MHD only counts: one buffer for the list instead of one per doubling (32 bytes a field,
        // `reserveCapacity`'s guess).
        let count = Int(MHD_get_connection_values(connection, .HEADER_KIND, nil, nil))
        var headers = HTTPHeaders(capacity: count, bytes: 32 * count, from: spares)
        withUnsafeMutablePointer(to: &headers) { pointer in
            _ = MHD_get_connection_values_n(connection, .HEADER_KIND, headerIterator, pointer)
        }
        return headers
    }

    /// A C string from libmicrohttpd as a String. The common methods and versions come back as literals:
    /// `String(cString:)` costs about 500 instructions (its length, UTF-8 validation, the string), an exact match a
    /// length switch and a compare (callgrind, issue 7). Exact bytes only, so a method stays as it was sent.
    static func string(_ text: UnsafePointer<CChar>) -> String {
        let bytes = UnsafeRawBufferPointer(start: text, count: strlen(text))
        func matches(_ literal: StaticString) -> Bool { memcmp(literal.utf8Start, text, bytes.count) == 0 }
        switch bytes.count {
        case 3:
            if matches("GET") { return "GET" }
            if matches("PUT") { return "PUT" }
        case 4:
            if matches("POST") { return "POST" }
            if matches("HEAD") { return "HEAD" }
        case 5:
            if matches("PATCH") { return "PATCH" }
        case 6:
            if matches("DELETE") { return "DELETE" }
        case 7:
            if matches("OPTIONS") { return "OPTIONS" }
        case 8:
            if matches("HTTP/1.1") { return "HTTP/1.1" }
            if matches("HTTP/1.0") { return "HTTP/1.0" }
        default:
            break
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func peer(_ connection: OpaquePointer) -> PeerAddress? {
        var raw = PeerAddress.Raw(0, 0)
        let family = withUnsafeMutableBytes(of: &raw) {
            cmhd_connection_peer(connection, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return family < 0 ? nil : PeerAddress(family: family, raw: raw)
    }

    /// Creates and queues the MHD response for `response` (`PreparedResponse.of`). For a streamed body, `exchange`
    /// feeds the content reader.
    static func queue(
        _ response: HTTPServerResponse,
        on connection: OpaquePointer,
        closing: Bool,
        streamFrom exchange: Exchange? = nil
    ) -> MHD_Result {
        guard let prepared = PreparedResponse.of(response, streamFrom: exchange) else { return .NO }
        return prepared.queue(on: connection, closing: closing)
    }

    /// A response whose body `exchange`'s content reader streams (`Exchange.read`), `length` bytes (nil: unknown,
    /// chunked). It holds the exchange until libmicrohttpd destroys it.
    static func streamResponse(length: Int?, from exchange: Exchange) -> OpaquePointer? {
        MHD_create_response_from_callback(
            length.map { UInt64($0) } ?? UInt64.max,
            blockSize(for: length),
            contentReader,
            Unmanaged.passRetained(exchange).toOpaque(),
            contentReaderFree
        )
    }

    /// Adds a field given as C strings of the given lengths to `response`, when MHD can send it (`isSendable`).
    /// - Returns: whether it was added.
    static func add(
        _ name: UnsafePointer<CChar>, _ nameCount: Int, _ value: UnsafePointer<CChar>, _ valueCount: Int,
        to response: OpaquePointer
    ) -> Bool {
        isSendable(name, nameCount, value, valueCount) && MHD_add_response_header(response, name, value) == .YES
    }

    /// The content reader's buffer, which MHD allocates zeroed with every response: 64 KiB for large or unknown
    /// bodies, no more than needed for small ones (a 64 KiB calloc per tiny response showed in profiles).
    static func blockSize(for length: Int?) -> Int {
        guard let length else { return 64 << 10 }
        return min(64 << 10, max(length, 1024))
    }

    /// MHD sets the framing headers itself and refuses empty values and line breaks (MHD.md §3). Checked on the C
    /// strings about to be handed over, with strlen and memchr: the UTF-8 views cost more than MHD's own call.
    private static func isSendable(
        _ name: UnsafePointer<CChar>, _ nameCount: Int, _ value: UnsafePointer<CChar>, _ valueCount: Int
    ) -> Bool {
        // A shorter C string than the field means an embedded NUL, which would cut the header short.
        guard valueCount > 0, strlen(value) == valueCount, strlen(name) == nameCount else { return false }
        if memchr(value, 13, valueCount) != nil || memchr(value, 10, valueCount) != nil { return false }
        // The length first: most names are neither, and the comparison then costs nothing.
        switch nameCount {
        case 14 where strncasecmp(name, "Content-Length", 14) == 0: return false
        case 17 where strncasecmp(name, "Transfer-Encoding", 17) == 0: return false
        default: break
        }
        for index in 0..<nameCount {
            let byte = UInt8(bitPattern: name[index])
            if byte <= 32 || byte == 58 { return false }
        }
        return nameCount > 0
    }
}

private let headerIterator: MHD_KeyValueIteratorN = { cls, _, key, keySize, value, valueSize in
    guard let cls, let key else { return .YES }
    let headers = cls.assumingMemoryBound(to: HTTPHeaders.self)
    headers.pointee.add(
        UnsafeRawBufferPointer(start: key, count: keySize),
        UnsafeRawBufferPointer(start: value, count: value == nil ? 0 : valueSize))
    return .YES
}

private let contentReader: MHD_ContentReaderCallback = { cls, _, buffer, max in
    guard let cls, let buffer else { return ConnectionBridge.endWithError }
    let exchange = Unmanaged<Exchange>.fromOpaque(cls).takeUnretainedValue()
    return exchange.read(into: UnsafeMutableRawPointer(buffer), max: max)
}

private let contentReaderFree: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    Unmanaged<Exchange>.fromOpaque(cls).release()
}
