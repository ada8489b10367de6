import Testing

@testable import Gateway

@Suite struct HeaderFilterLocationTests {
    let labric = HeaderFilter(upstream: UpstreamOrigin("https://platform.labric.co")!, routePrefix: "/labric")
    let genie = HeaderFilter(upstream: UpstreamOrigin("https://HOST.example/public/v1")!, routePrefix: "/genie/")
    let based = HeaderFilter(
        upstream: UpstreamOrigin("http://127.0.0.1:9000/base")!, routePrefix: "/labric", upstreamPath: "/base")

    @Test(arguments: [
        ("https://platform.labric.co/api/v1/jobs/1", "/labric/api/v1/jobs/1"),
        ("HTTPS://Platform.Labric.CO:443/x?y=1#f", "/labric/x?y=1#f"),
        ("https://platform.labric.co", "/labric/"),
        ("https://platform.labric.co?x", "/labric/?x"),
        ("//platform.labric.co/x", "/labric/x"),
        ("/api/v1/files/2", "/labric/api/v1/files/2"),
        ("https://storage.example/bucket/obj?sig=abc", "https://storage.example/bucket/obj?sig=abc"),
        ("http://platform.labric.co/x", "http://platform.labric.co/x"),
        ("https://platform.labric.co:8443/x", "https://platform.labric.co:8443/x"),
        ("https://platform.labric.co.evil.example/x", "https://platform.labric.co.evil.example/x"),
        ("https://user@platform.labric.co/x", "https://user@platform.labric.co/x"),
        ("relative/path", "relative/path"),
        ("", ""),
    ])
    func rewritesOnlyTheUpstreamOrigin(location: String, expected: String) {
        #expect(labric.rewriteLocation(location) == expected)
    }

    @Test func rewritesGenieFromItsOriginRoot() {
        #expect(genie.rewriteLocation("https://host.example/catalog/library") == "/genie/catalog/library")
        #expect(genie.rewriteLocation("https://host.example/public/v1/instruments") == "/genie/public/v1/instruments")
    }

    @Test func honoursTheUpstreamBasePath() {
        #expect(based.rewriteLocation("http://127.0.0.1:9000/base/api/x") == "/labric/api/x")
        #expect(based.rewriteLocation("http://127.0.0.1:9000/base") == "/labric")
        #expect(based.rewriteLocation("http://127.0.0.1:9000/base?q") == "/labric?q")
        #expect(based.rewriteLocation("http://127.0.0.1:9000/basement/x") == "http://127.0.0.1:9000/basement/x")
        #expect(based.rewriteLocation("http://127.0.0.1:9000/other") == "http://127.0.0.1:9000/other")
        #expect(based.rewriteLocation("/base/y") == "/labric/y")
        #expect(based.rewriteLocation("/other") == "/other")
    }

    @Test func makesAbsoluteURLsWhenGivenTheGatewayOrigin() {
        #expect(
            labric.rewriteLocation("https://platform.labric.co/a", gatewayOrigin: "http://localhost:8080")
                == "http://localhost:8080/labric/a")
    }
}
