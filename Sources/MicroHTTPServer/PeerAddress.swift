#if canImport(Glibc)
    import Glibc
#endif

/// The client's numeric address, kept as the bytes libmicrohttpd gave and formatted only when read: `inet_ntop` on
/// every request cost 1,700 instructions (callgrind, issue 7), and only the access log reads it.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    typealias Raw = (UInt64, UInt64)

    /// `AF_INET` or `AF_INET6`.
    let family: Int32
    /// The address bytes: 4 for IPv4, 16 for IPv6.
    private let high: UInt64
    private let low: UInt64

    init(family: Int32, raw: Raw) {
        self.family = family
        (high, low) = raw
    }

    /// "127.0.0.1", "::1".
    public var description: String {
        var raw: Raw = (high, low)
        return withUnsafeBytes(of: &raw) { bytes in
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
                guard inet_ntop(family, bytes.baseAddress, text.baseAddress, 64) != nil else { return "?" }
                return String(cString: text.baseAddress!)
            }
        }
    }
}
