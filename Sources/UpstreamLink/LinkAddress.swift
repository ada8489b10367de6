#if canImport(Glibc)
    import Glibc
#endif

/// An upstream's socket address, resolved once when its client is made: the loop thread must never wait on DNS.
struct LinkAddress: Sendable {
    let family: Int32
    private let storage: [UInt8]

    /// Resolves `host` (a name, an IPv4 literal or a bracketed IPv6 literal); nil when it does not resolve.
    init?(host: String, port: Int) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var results: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(name, String(port), &hints, &results) == 0, let first = results else { return nil }
        defer { freeaddrinfo(results) }
        // Prefer IPv4 when a name has both, as loopback services commonly listen on 127.0.0.1 only.
        var chosen = first.pointee
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let entry = next {
            if entry.pointee.ai_family == AF_INET {
                chosen = entry.pointee
                break
            }
            next = entry.pointee.ai_next
        }
        guard let address = chosen.ai_addr else { return nil }
        family = chosen.ai_family
        storage = [UInt8](UnsafeRawBufferPointer(start: address, count: Int(chosen.ai_addrlen)))
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        storage.withUnsafeBytes { bytes in
            body(bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))
        }
    }
}
