#if canImport(Glibc)
    import Glibc
#endif

/// The client's numeric address, kept as the bytes libmicrohttpd gave and formatted only when read: `inet_ntop` on
/// every request cost 1,700 instructions (callgrind, issue 7), and only the access log reads it.
public struct PeerAddress: Sendable, CustomStringConvertible {
    /// Room for an IPv6 address.
    typealias Raw = (UInt64, UInt64)

    /// `AF_INET` or `AF_INET6`.
    let family: Int32
    /// The address bytes: the first 4 for IPv4, all 16 for IPv6.
    let raw: Raw

    /// "127.0.0.1", "::1".
    public var description: String {
        withUnsafeBytes(of: raw) { bytes in
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
                guard inet_ntop(family, bytes.baseAddress, text.baseAddress, 64) != nil else { return "?" }
                return String(cString: text.baseAddress!)
            }
        }
    }
}
