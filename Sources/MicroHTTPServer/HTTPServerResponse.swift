import NIOCore

/// What a handler answers: a status, headers and a body that is empty, bytes, or streamed.
public struct HTTPServerResponse: Sendable {
    public var status: Int
    /// Headers to send. Content-Length and Transfer-Encoding are set by the server from the body, never here.
    public var headers: HTTPHeaders
    public var body: ResponseBody

    public init(status: Int, headers: HTTPHeaders = [:], body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A response body.
public enum ResponseBody: Sendable {
    case empty
    case bytes(ByteBuffer)
    /// Written by `write` as it comes; `length` nil means unknown, sent chunked (HTTP/1.1) and flushed chunk by chunk.
    /// `write` suspends while the client is slower than the producer, so memory stays bounded.
    case stream(length: Int?, write: @Sendable (ResponseBodyWriter) async throws -> Void)

    /// A body of UTF-8 text.
    public static func string(_ text: String) -> ResponseBody {
        .bytes(ByteBuffer(string: text))
    }

    /// A body of the given bytes.
    public static func bytes(_ bytes: some Sequence<UInt8>) -> ResponseBody {
        .bytes(ByteBuffer(bytes: bytes))
    }
}

extension HTTPServerResponse {
    /// Reads the whole body into memory: for tests and for small bodies only.
    public func collectBody(upTo limit: Int = .max) async throws -> ByteBuffer {
        switch body {
        case .empty:
            return ByteBuffer()
        case .bytes(let buffer):
            return buffer
        case .stream(_, let write):
            let sink = CollectingSink(limit: limit)
            try await write(ResponseBodyWriter(sink: sink))
            return sink.collected
        }
    }
}
