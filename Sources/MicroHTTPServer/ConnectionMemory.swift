/// What fits in libmicrohttpd's per-connection memory pool (`CONNECTION_MEMORY_LIMIT`). Pure, so it is tested
/// without sockets.
///
/// The pool holds the request head (it stays there: the header strings point into it), one entry per header field
/// and query argument, and then the response head MHD builds. When the response head does not fit, libmicrohttpd
/// closes the connection without a word, so the server checks first and answers a short 502 instead. The constants
/// were measured on libmicrohttpd 0.9.75 (`bench/RESULTS.md`, issue 7 session 4, "The pool").
enum ConnectionMemory {
    /// Bytes each header field or query argument takes in the pool (a `struct MHD_HTTP_Header` and its alignment;
    /// measured 64).
    static let bytesPerEntry = 64
    /// Kept free beyond the estimate: header whitespace MHD trims but still holds, rounding, and the 128 bytes a
    /// chunked response needs for its first chunk.
    static let margin = 512
    /// Headers libmicrohttpd adds to every response (Date, the framing, Connection: close), at most.
    static let addedHeaderBytes = 96

    /// The pool's share taken by a request head of `headBytes` with `fields` header fields and this `target`.
    static func requestCost(headBytes: Int, fields: Int, target: String) -> Int {
        var target = target
        // On the contiguous bytes: iterating the String's UTF-8 view cost 700 instructions a request (callgrind).
        let arguments = target.withUTF8 { bytes -> Int in
            guard let query = bytes.firstIndex(of: UInt8(ascii: "?")) else { return 0 }
            return bytes[(query + 1)...].reduce(1) { $1 == UInt8(ascii: "&") ? $0 + 1 : $0 }
        }
        return headBytes + (fields + arguments) * bytesPerEntry
    }

    /// The bytes of the response head MHD will write when the fields handed to it take `fieldBytes` (names, values,
    /// and 4 for each field's `: ` and line end: `ResponseFields.fieldBytes`).
    static func responseHeadBytes(fieldBytes: Int) -> Int {
        "HTTP/1.1 000 \r\n".utf8.count + 32 + addedHeaderBytes + 2 + fieldBytes  // 32: the longest reason phrase
    }

    /// Whether a response head of `headBytes` can be sent after a request that took `requestCost` of a pool of
    /// `poolBytes`.
    static func fits(headBytes: Int, afterRequestCost requestCost: Int, poolBytes: Int) -> Bool {
        requestCost + headBytes + margin <= poolBytes
    }

    /// The connection memory for a largest request head of `maxHeaderBytes`: room for it and an 8 KiB response head
    /// (nginx proxies upstream heads of 4 or 8 KiB by default), and never under 16 KiB.
    static func poolBytes(forMaxHeaderBytes maxHeaderBytes: Int) -> Int {
        max(16 << 10, maxHeaderBytes + (8 << 10))
    }
}

extension HTTPServerResponse {
    /// The answer in place of a response whose head does not fit the connection's pool: libmicrohttpd would close the
    /// connection without a word.
    static func tooLargeForPool(headBytes: Int, poolBytes: Int, requestID: String) -> HTTPServerResponse {
        .jsonError(
            status: 502, code: "response_headers_too_large",
            detail:
                "The response headers (\(headBytes) bytes) do not fit beside this request's headers in the connection's "
                + "\(poolBytes >> 10) KiB.",
            requestID: requestID)
    }
}
