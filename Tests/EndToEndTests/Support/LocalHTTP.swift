import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Tiny blocking HTTP/1.1 calls to 127.0.0.1 over a POSIX socket, for probes (`/healthz`) and for telling whether a
/// port still accepts connections. Real requests go through the real clients (curl, requests, the Labric SDK).
enum LocalHTTP {
    struct Response {
        var status: Int
        var body: String
    }

    /// `GET path` with `Connection: close`; nil when the connection fails or no response arrives within 5 s.
    static func get(port: Int, path: String) -> Response? {
        guard let fd = connectSocket(port: port) else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: received, as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), let status = Int(text.dropFirst(9).prefix(3)) else { return nil }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Response(status: status, body: body)
    }

    /// True when a TCP connection to the port is refused (nothing listens).
    static func isRefused(port: Int) -> Bool {
        guard let fd = connectSocket(port: port) else { return true }
        close(fd)
        return false
    }

    /// Polls `GET path` until it answers `status`, for up to `timeout`.
    static func waitFor(port: Int, path: String, status: Int = 200, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if get(port: port, path: path)?.status == status { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    private static func connectSocket(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
