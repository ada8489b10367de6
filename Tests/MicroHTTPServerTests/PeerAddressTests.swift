import Testing

@testable import MicroHTTPServer

#if canImport(Glibc)
    import Glibc
#endif

/// The client's address is kept as bytes and formatted only when read (`PeerAddress`).
@Suite struct PeerAddressTests {
    @Test func formatsIPv4AndIPv6AsInetNtopDoes() {
        var v4 = in_addr()
        inet_pton(AF_INET, "192.168.7.42", &v4)
        var v6 = in6_addr()
        inet_pton(AF_INET6, "2001:db8::1", &v6)
        #expect(Self.address(AF_INET, v4).description == "192.168.7.42")
        #expect(Self.address(AF_INET6, v6).description == "2001:db8::1")
    }

    static func address<Bytes>(_ family: Int32, _ bytes: Bytes) -> PeerAddress {
        var raw = PeerAddress.Raw(0, 0)
        withUnsafeMutableBytes(of: &raw) { target in
            withUnsafeBytes(of: bytes) { target.copyMemory(from: $0) }
        }
        return PeerAddress(family: family, raw: raw)
    }
}
