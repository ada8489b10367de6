import Testing

@testable import Gateway

@Suite struct UpstreamOriginTests {
    @Test func parsesSchemeHostPortAndPath() throws {
        let genie = try #require(UpstreamOrigin("https://HOST.example/public/v1/"))
        #expect(genie.scheme == "https")
        #expect(genie.host == "host.example")
        #expect(genie.port == nil)
        #expect(genie.effectivePort == 443)
        #expect(genie.basePath == "/public/v1")
        #expect(genie.origin == "https://host.example")
        #expect(genie.hostHeader == "host.example")

        let local = try #require(UpstreamOrigin("HTTP://127.0.0.1:9000"))
        #expect(local.scheme == "http")
        #expect(local.hostHeader == "127.0.0.1:9000")
        #expect(local.basePath == "")
        #expect(UpstreamOrigin("http://h:80")?.hostHeader == "h")
        #expect(UpstreamOrigin("http://[::1]:8080/x")?.host == "[::1]")
        #expect(UpstreamOrigin("http://[::1]:8080/x")?.port == 8080)
    }

    @Test(arguments: [
        "", "platform.labric.co", "ftp://h/x", "https://", "https://user:pw@h/", "https://h:0", "https://h:65536",
        "https://h:+80", "https://h:8a", "https://h/x?y", "https://h/#f", "https://[::1/x", "https://h h/",
    ])
    func refusesURLsThatAreNotPlainUpstreams(url: String) {
        #expect(UpstreamOrigin(url) == nil)
    }
}
