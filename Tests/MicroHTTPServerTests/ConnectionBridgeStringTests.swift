import Testing

@testable import MicroHTTPServer

/// libmicrohttpd's C strings as Strings (`ConnectionBridge.string`): the common ones come back as literals, and
/// every one has exactly the bytes that were sent.
@Suite struct ConnectionBridgeStringTests {
    @Test(arguments: [
        "GET", "PUT", "POST", "HEAD", "DELETE", "HTTP/1.1", "HTTP/1.0", "Host", "Accept", "User-Agent", "Connection",
        "Content-Type", "X-Request-Id", "Authorization", "Content-Length", "Accept-Encoding",
        // Same lengths, other bytes: case as sent, near misses, and what is not common at all.
        "get", "host", "HOST", "Hosu", "HTTP/2.0", "user-agent", "X-Request-ID", "content-length", "", "é",
        "X-Labgate-Key",
    ])
    func keepsTheBytesAsSent(text: String) {
        #expect(Array(text.withCString { ConnectionBridge.string($0) }.utf8) == Array(text.utf8))
    }
}
