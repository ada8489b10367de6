import CMicroHTTPD
import NIOCore

/// The per-connection libmicrohttpd calls: reading the head, queuing a response. MHD thread only.
enum ConnectionBridge {
    /// MHD_CONTENT_READER_END_OF_STREAM and _END_WITH_ERROR: casts in C, so Swift does not import them.
    static let endOfStream = -1
    static let endWithError = -2

    static func requestHeaders(_ connection: OpaquePointer) -> HTTPHeaders {
        var headers = HTTPHeaders()
        // Without an iterator MHD only counts: one allocation for the list instead of one per doubling.
        headers.reserveCapacity(Int(MHD_get_connection_values(connection, .HEADER_KIND, nil, nil)))
        withUnsafeMutablePointer(to: &headers) { pointer in
            _ = MHD_get_connection_values(connection, .HEADER_KIND, headerIterator, pointer)
        }
        return headers
    }

    static func peer(_ connection: OpaquePointer) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            guard cmhd_connection_peer(connection, buffer.baseAddress, 64) == 0 else { return nil }
            return String(cString: buffer.baseAddress!)
        }
    }

    /// Creates and queues the MHD response for `response`. For a streamed body, `exchange` feeds the content reader.
    static func queue(
        _ response: HTTPServerResponse,
        on connection: OpaquePointer,
        closing: Bool,
        streamFrom exchange: Exchange? = nil
    ) -> MHD_Result {
        let mhdResponse: OpaquePointer?
        switch response.body {
        case .empty:
            mhdResponse = MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
        case .bytes(let buffer):
            mhdResponse = buffer.withUnsafeReadableBytes { bytes in
                MHD_create_response_from_buffer(
                    bytes.count,
                    UnsafeMutableRawPointer(mutating: bytes.baseAddress),
                    .RESPMEM_MUST_COPY
                )
            }
        case .stream(let length, _):
            guard let exchange else { return .NO }
            mhdResponse = MHD_create_response_from_callback(
                length.map { UInt64($0) } ?? UInt64.max,
                blockSize(for: length),
                contentReader,
                Unmanaged.passRetained(exchange).toOpaque(),
                contentReaderFree
            )
        }
        guard let mhdResponse else { return .NO }
        defer { MHD_destroy_response(mhdResponse) }
        // withCString: a native Swift string lends its own NUL-terminated bytes, where the implicit String-to-pointer
        // conversion copies each into a new array (two allocations per header, seen in callgrind).
        for field in response.headers where isSendable(field) {
            _ = field.name.withCString { name in
                field.value.withCString { value in MHD_add_response_header(mhdResponse, name, value) }
            }
        }
        if closing { _ = MHD_add_response_header(mhdResponse, "Connection", "close") }
        return MHD_queue_response(connection, UInt32(clamping: response.status), mhdResponse)
    }

    /// The content reader's buffer, which MHD allocates zeroed with every response: 64 KiB for large or unknown
    /// bodies, no more than needed for small ones (a 64 KiB calloc per tiny response showed in profiles).
    static func blockSize(for length: Int?) -> Int {
        guard let length else { return 64 << 10 }
        return min(64 << 10, max(length, 1024))
    }

    /// MHD sets the framing headers itself and refuses empty values and line breaks (MHD.md §3).
    private static func isSendable(_ field: HTTPHeaders.Element) -> Bool {
        if field.value.isEmpty { return false }
        // The length first: most names are neither, and the comparison then costs nothing.
        switch field.name.utf8.count {
        case 14 where HTTPHeaders.equalFold(field.name, "Content-Length"): return false
        case 17 where HTTPHeaders.equalFold(field.name, "Transfer-Encoding"): return false
        default: break
        }
        return !field.value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }
            && !field.name.utf8.contains { $0 <= 32 || $0 == 58 }
    }
}

private let headerIterator: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key else { return .YES }
    let headers = cls.assumingMemoryBound(to: HTTPHeaders.self)
    headers.pointee.add(String(cString: key), value.map { String(cString: $0) } ?? "")
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
