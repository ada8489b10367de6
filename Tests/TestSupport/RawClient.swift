import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking HTTP/1.1 client on a raw socket: it sends exactly the bytes a test writes, which no real client lets
/// a test do (hostile input, slow headers, vanishing mid-body). Use it through `offPool`, never on the
/// cooperative pool, which it would block.
public final class RawClient {
    public let fd: Int32
    private var buffer: [UInt8] = []

    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) { self.description = description }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public init(port: Int, timeoutSeconds: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(description: "connect: errno \(code)")
        }
    }

    deinit { Glibc.close(fd) }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try send($0) }
    }

    public func send(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            guard n > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += n
        }
    }

    /// Closes the socket at once with a reset, as a crashed client would.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n < 0 { throw Failure(description: "recv: errno \(errno)") }
        if n == 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    private func readLine() throws -> String? {
        while true {
            if let end = buffer.firstIndex(of: 10) {
                let line = buffer[0..<end]
                buffer.removeFirst(end + 1)
                return String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
            }
            guard try fill() else { return nil }
        }
    }

    /// Reads one response. The body goes to `onBody` chunk by chunk when given (large bodies), else into `body`.
    /// Hands exactly `count` body bytes to `deliver` as they arrive; throws `cutShort` when the peer stops first.
    private func read(_ count: Int, into deliver: ([UInt8]) throws -> Void, cutShort: String) throws {
        var remaining = count
        while remaining > 0 {
            if buffer.isEmpty, try !fill() { throw Failure(description: cutShort) }
            let n = min(remaining, buffer.count)
            try deliver(Array(buffer[0..<n]))
            buffer.removeFirst(n)
            remaining -= n
        }
    }

    public func readResponse(head: Bool = false, onBody: (([UInt8]) throws -> Void)? = nil) throws -> Response {
        guard let statusLine = try readLine() else { throw Failure(description: "connection closed before a response") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw Failure(description: "bad status: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while let line = try readLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = Response(status: status, headers: headers, body: [])
        let deliver: ([UInt8]) throws -> Void = { bytes in
            if let onBody { try onBody(bytes) } else { response.body.append(contentsOf: bytes) }
        }
        if head || status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if let length = response.header("Content-Length").flatMap(Int.init) {
            try read(length, into: deliver, cutShort: "body cut short")
        } else if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                guard let sizeLine = try readLine(), let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw Failure(description: "bad chunk")
                }
                if size == 0 {
                    while let trailer = try readLine(), !trailer.isEmpty {}
                    break
                }
                try read(size, into: deliver, cutShort: "chunk cut short")
                _ = try readLine()
            }
        } else {
            while true {
                if !buffer.isEmpty {
                    try deliver(buffer)
                    buffer.removeAll()
                }
                guard try fill() else { break }
            }
        }
        return response
    }

    /// True when the server has closed the connection (reads end of stream) within the receive timeout.
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) <= 0
    }
}

/// Runs blocking work on its own thread, off Swift's cooperative pool (which has only as many threads as cores).
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

extension RawClient {
    /// One `GET /` on a new connection to `port`, off the pool, and its response.
    public static func getRoot(port: Int) async throws -> Response {
        try await offPool {
            let client = try RawClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            return try client.readResponse()
        }
    }

    /// Sends `count` bytes of `BytePattern` in pieces of `piece`; with `chunked`, each piece as a chunk, then the last
    /// chunk. For request bodies whose receiver checks them with `BytePattern.matches`.
    public func sendPattern(count: Int, piece: Int = 64 << 10, chunked: Bool = false) throws {
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: piece)
        while offset < count {
            let n = min(piece, count - offset)
            BytePattern.fill(&buffer, from: offset)
            if chunked { try send(String(n, radix: 16) + "\r\n") }
            try buffer.withUnsafeBytes { try send(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if chunked { try send("\r\n") }
            offset += n
        }
        if chunked { try send("0\r\n\r\n") }
    }
}
