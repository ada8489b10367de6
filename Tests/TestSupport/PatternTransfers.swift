import AsyncHTTPClient
import Foundation
import MicroHTTPServer
import NIOCore

/// An upstream and a client that move `BytePattern` bytes, so that large bodies are checked byte for byte on arrival
/// without ever being held whole.
public enum PatternTransfers {
    /// `PUT /upload` checks the body against `BytePattern` as it arrives and answers `{"bytes": n, "intact": b}`;
    /// `GET /download?bytes=N` streams N bytes of the pattern with their length announced.
    public static let upstream: @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse = { request in
        switch (request.method, String(request.path.split(separator: "/").last ?? "")) {
        case ("PUT", "upload"):
            var offset = 0
            var intact = true
            for try await chunk in request.body {
                if intact && !BytePattern.matches(chunk, at: offset) { intact = false }
                offset += chunk.readableBytes
            }
            return HTTPServerResponse(
                status: 200, headers: ["Content-Type": "application/json"],
                body: .string(#"{"bytes": \#(offset), "intact": \#(intact)}"#))
        case ("GET", "download"):
            let total = request.query.flatMap { Int($0.dropFirst("bytes=".count)) } ?? 0
            return HTTPServerResponse(
                status: 200, headers: ["Content-Type": "application/octet-stream"],
                body: .stream(length: total) { writer in
                    var offset = 0
                    while offset < total {
                        let count = min(256 << 10, total - offset)
                        try await writer.write(BytePattern.chunk(at: offset, count: count))
                        offset += count
                    }
                })
        default:
            return HTTPServerResponse(status: 404)
        }
    }

    /// What arrived at the other end.
    public struct Result: Sendable, Equatable {
        public var status: Int
        public var bytes: Int
        public var intact: Bool

        public init(status: Int, bytes: Int, intact: Bool) {
            self.status = status
            self.bytes = bytes
            self.intact = intact
        }
    }

    /// Uploads `total` pattern bytes to `url` (with a length, or chunked) and returns what the upstream counted.
    public static func upload(
        _ client: HTTPClient, _ url: String, total: Int, chunkSize: Int = 64 << 10, chunked: Bool = false
    ) async throws -> Result {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(
            PatternChunks(total: total, chunkSize: chunkSize), length: chunked ? .unknown : .known(Int64(total)))
        let response = try await client.execute(request, timeout: .minutes(5))
        let body = try await response.body.collect(upTo: 1 << 16)
        let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        return Result(
            status: Int(response.status.code), bytes: (json?["bytes"] as? NSNumber)?.intValue ?? -1,
            intact: json?["intact"] as? Bool ?? false)
    }

    /// Downloads pattern bytes from `url`, checking them as they come; `bytes` is how many arrived, `intact` whether
    /// all of them were the pattern's and the announced length matched.
    public static func download(_ client: HTTPClient, _ url: String) async throws -> Result {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .minutes(5))
        let announced = response.headers.first(name: "Content-Length").flatMap(Int.init)
        var offset = 0
        var intact = true
        for try await chunk in response.body {
            if intact && !BytePattern.matches(chunk, at: offset) { intact = false }
            offset += chunk.readableBytes
        }
        return Result(status: Int(response.status.code), bytes: offset, intact: intact && announced == offset)
    }
}
