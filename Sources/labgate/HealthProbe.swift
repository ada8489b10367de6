#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One blocking `GET` over a POSIX socket that returns the response's status code, all within a deadline.
struct HealthProbe {
    /// Why no status was read.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let host: String
    let port: Int
    let path: String
    let timeout: Duration

    /// Parses `http://host[:port][/path]` (IPv6 hosts in brackets).
    /// - Throws: `Failure` for anything else, https included.
    init(url: String, timeout: Duration) throws(Failure) {
        guard url.lowercased().hasPrefix("http://") else {
            throw Failure(description: "\(url) is not an http:// URL (https is not supported by this check)")
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let path = rest.dropFirst(authority.count)
        var host = Substring(authority)
        var port = 80
        if let close = authority.lastIndex(of: "]"), authority.first == "[" {
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.first == ":" { port = Int(after.dropFirst()) ?? -1 }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw Failure(description: "\(url) has no usable host and port")
        }
        self.host = String(host)
        self.port = port
        self.path = path.isEmpty ? "/" : String(path)
        self.timeout = timeout
    }

    /// Connects, sends the request and reads the status line.
    /// - Throws: `Failure` when the deadline passes, the connection fails or the answer is not HTTP.
    func status() throws(Failure) -> Int {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let descriptor = try openConnection(before: deadline)
        defer { close(descriptor) }
        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let request =
            "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: labgate-health\r\nConnection: close\r\n\r\n"
        var bytes = Array(request.utf8)[...]
        while !bytes.isEmpty {
            try wait(descriptor, for: Int16(POLLOUT), before: deadline)
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Self.noSignal) }
            if sent < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw Failure(description: "sending failed: \(Self.reason(errno))")
            }
            bytes = bytes.dropFirst(sent)
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        // The status line is all that is needed; a server that sends no line end within 1 KiB is not HTTP.
        while !received.contains(UInt8(ascii: "\n")), received.count < 1024 {
            try wait(descriptor, for: Int16(POLLIN), before: deadline)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw Failure(description: "reading failed: \(Self.reason(errno))")
            }
            if count == 0 { break }
            received += buffer[..<count]
        }
        let line = String(
            decoding: received.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure(description: "the answer is not an HTTP response")
        }
        return status
    }

    /// Resolves the host and connects to the first address that answers, without blocking past the deadline.
    private func openConnection(before deadline: ContinuousClock.Instant) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc) || canImport(Musl)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard descriptor >= 0 else {
                lastError = Self.reason(errno)
                continue
            }
            // Non-blocking, so connect and every wait below are bounded by poll's timeout.
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            if connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                return descriptor
            }
            if errno == EINPROGRESS {
                do {
                    try wait(descriptor, for: Int16(POLLOUT), before: deadline)
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
                    if error == 0 { return descriptor }
                    lastError = Self.reason(error)
                } catch {
                    close(descriptor)
                    throw error
                }
            } else {
                lastError = Self.reason(errno)
            }
            close(descriptor)
        }
        throw Failure(description: "cannot connect to \(host):\(port): \(lastError)")
    }

    /// Waits until the socket is ready for `events`, or throws when the deadline passes.
    private func wait(_ descriptor: Int32, for events: Int16, before deadline: ContinuousClock.Instant) throws(Failure)
    {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            guard milliseconds > 0 else {
                throw Failure(description: "no answer within \(timeout)")
            }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: milliseconds))
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw Failure(description: "poll failed: \(Self.reason(errno))") }
        }
    }

    /// A gateway that closes early must fail the check, not kill it with SIGPIPE.
    #if canImport(Darwin)
        private static let noSignal: Int32 = 0
    #else
        private static let noSignal = Int32(MSG_NOSIGNAL)
    #endif

    private static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
}
