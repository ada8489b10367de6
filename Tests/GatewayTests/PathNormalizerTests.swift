import Testing

@testable import Gateway

@Suite struct PathNormalizerTests {
    @Test(arguments: [
        "/labric/../x", "/labric/./x", "/labric/..", "/labric/.", "/..", "/.", "/a/b/../../etc/passwd",
        "/labric/%2e%2e/x", "/labric/%2E%2E/x", "/labric/%2e%2E/x", "/labric/.%2e/x", "/labric/%2E./x",
        "/labric/%2e/x", "/labric/%2E", "/labric/a%2F..%2Fb", "/labric/a%2f%2e%2e%2fb", "/labric/..%2Fx",
        "/labric/..\\x", "/labric/a\\..\\b", "/labric/a%5C..%5Cb", "/labric/..;/x", "/labric/..;jsessionid=1/x",
        "/labric/%2e%2e;x/y", "/genie/public/v1/../../catalog/library", "/labric/x/..?q=1",
    ])
    func refusesDotSegments(target: String) {
        #expect(throws: GatewayError.self) { try PathNormalizer.validate(target) }
        #expect((try? PathNormalizer.validate(target)) == nil)
    }

    @Test(arguments: [
        "/labric/a%00b", "/labric/a%0db", "/labric/a%0Db", "/labric/a%0ab", "/labric/a%0Ab",
        "/labric/%0D%0AX-Injected:1",
    ])
    func refusesEncodedNulCrLf(target: String) {
        #expect(throws: GatewayError.self) { try PathNormalizer.validate(target) }
    }

    @Test(arguments: [
        "http://evil.example/x", "https://platform.labric.co/api/v1/files", "evil.example:443", "*", "", "labric/x",
        "/labric/a b", "/labric/a\tb", "/labric/a\u{7F}b", "/labric/a\rb", "/labric/%zz", "/labric/%4", "/labric/x%",
        "/labric/x#frag", "/labric/x?a=\u{01}",
    ])
    func refusesOtherHostileTargets(target: String) {
        #expect(throws: GatewayError.self) { try PathNormalizer.validate(target) }
    }

    @Test func refusalIsBadRequest() {
        #expect {
            try PathNormalizer.validate("/labric/%2e%2e/x")
        } throws: { error in
            (error as? GatewayError)?.code == .badRequest
        }
    }

    @Test(arguments: [
        "/", "/labric/api/v1/files", "/labric/a%2Fb", "/labric/a%2fb", "/labric/.well-known/x", "/labric/...",
        "/labric/..x", "/labric/x..", "/labric/.x", "/labric/a.b.c", "/labric/%2e%2e%2e", "/labric/%252e%252e",
        "/labric/x?path=../../etc&y=%0A", "/labric/x?", "/labric//x", "/labric/caf%C3%A9", "/labric/x;a=b",
        "/genie/public/v1/instruments/6458048287f19b42eb065089?limit=5&x=%2e%2e",
    ])
    func acceptsAndKeepsTargetsByteForByte(target: String) throws {
        let validated = try PathNormalizer.validate(target)
        #expect(validated.raw == target)
        #expect(Array(validated.raw.utf8) == Array(target.utf8))
    }

    @Test func splitsPathAndQuery() throws {
        let target = try PathNormalizer.validate("/labric/a%2Fb?x=1&y=%20?z")
        #expect(target.path == "/labric/a%2Fb")
        #expect(target.query == "x=1&y=%20?z")
        let bare = try PathNormalizer.validate("/labric/a")
        #expect(bare.path == "/labric/a")
        #expect(bare.query == nil)
        let empty = try PathNormalizer.validate("/labric/a?")
        #expect(empty.path == "/labric/a")
        #expect(empty.query == "")
    }

    @Test func matchingFormDecodesOnlyUnreservedAndCollapsesSlashes() {
        #expect(PathNormalizer.matchingForm("/genie/%70ublic/v1") == "/genie/public/v1")
        #expect(PathNormalizer.matchingForm("/%67%45nie") == "/gEnie")
        #expect(PathNormalizer.matchingForm("//genie///x") == "/genie/x")
        #expect(PathNormalizer.matchingForm("/a%2Fb%20c") == "/a%2Fb%20c")
        #expect(PathNormalizer.matchingForm("/a%7e%2D%5f") == "/a~-_")
        #expect(PathNormalizer.matchingForm("/a%2") == "/a%2")
    }

    @Test func detectsDotSegmentsInAnyForm() {
        #expect(PathNormalizer.containsDotSegment("/a/%2E%2e/b"))
        #expect(PathNormalizer.containsDotSegment(".."))
        #expect(PathNormalizer.containsDotSegment("/a/."))
        #expect(!PathNormalizer.containsDotSegment("/a/.../b"))
        #expect(!PathNormalizer.containsDotSegment("/a/b.c/"))
        #expect(!PathNormalizer.containsDotSegment(""))
    }
}
