import Foundation
import MicroHTTPServer
import Testing

@testable import Gateway

@Suite struct HeaderFilterTests {
    let labric = HeaderFilter(upstream: UpstreamOrigin("https://platform.labric.co")!, routePrefix: "/labric")
    let genie = HeaderFilter(upstream: UpstreamOrigin("https://genie.example:8443/public/v1")!, routePrefix: "/genie")

    @Test func dropsClientCredentialAndHopByHopHeaders() throws {
        let incoming: HTTPHeaders = [
            "Authorization": "Bearer lbk_client", "Connection": "keep-alive, X-Secret-Hop", "Keep-Alive": "timeout=5",
            "Proxy-Connection": "keep-alive", "Proxy-Authorization": "Basic x", "Proxy-Authenticate": "Basic",
            "TE": "trailers", "Trailer": "X-Checksum", "Upgrade": "websocket", "X-Secret-Hop": "1",
            "Expect": "100-continue",
            "Accept": "*/*", "content-type": "application/json", "X-Fern-Language": "Python", "Cookie": "a=b",
        ]
        let forwarded = try labric.request(incoming, requestID: "req-1")
        #expect(
            forwarded.headers.map(\.name) == [
                "Accept", "content-type", "X-Fern-Language", "Cookie", "Host", "X-Request-Id",
            ])
        #expect(forwarded.headers["Accept"] == "*/*")
        #expect(forwarded.contentLength == nil)
        #expect(!forwarded.isChunked)
    }

    @Test func dropsHeadersWhateverTheirCase() throws {
        let incoming: HTTPHeaders = [
            "AUTHORIZATION": "Bearer x", "authorization": "Bearer y", "tRaNsFeR-eNcOdInG": "chunked",
        ]
        let forwarded = try labric.request(incoming, requestID: "r")
        #expect(forwarded.headers.map(\.name) == ["Host", "X-Request-Id"])
        #expect(forwarded.isChunked)
    }

    @Test func replacesHostWithTheUpstreams() throws {
        let forwarded = try labric.request(["Host": "localhost:8080"], requestID: "r")
        #expect(forwarded.headers.values("Host") == ["platform.labric.co"])
        let toGenie = try genie.request(["Host": "evil.example"], requestID: "r")
        #expect(toGenie.headers.values("Host") == ["genie.example:8443"])
    }

    @Test func reportsContentLengthButLeavesFramingToTheClient() throws {
        let forwarded = try labric.request(["Content-Length": "42", "Content-Type": "text/plain"], requestID: "r")
        #expect(forwarded.contentLength == 42)
        #expect(forwarded.headers["Content-Length"] == nil)
        #expect(try labric.request(["Content-Length": "5, 5"], requestID: "r").contentLength == 5)
        #expect(try labric.request(["Content-Length": "7", "content-length": "7"], requestID: "r").contentLength == 7)
    }

    @Test(
        arguments: [
            ["Content-Length": "abc"], ["Content-Length": "-1"], ["Content-Length": "+5"], ["Content-Length": "5, 6"],
            ["Content-Length": "1", "Content-Length": "2"], ["Content-Length": ""],
            ["Content-Length": "99999999999999999999"],
            ["Content-Length": "5", "Transfer-Encoding": "chunked"],
        ] as [HTTPHeaders])
    func refusesAmbiguousFraming(headers: HTTPHeaders) {
        #expect(throws: GatewayError.self) { try labric.request(headers, requestID: "r") }
    }

    @Test func setsTheRequestIDUpstream() throws {
        let forwarded = try labric.request(["X-Request-Id": "client-id"], requestID: "chosen")
        #expect(forwarded.headers.values("X-Request-Id") == ["chosen"])
    }

    @Test func keepsSaneRequestIDsAndReplacesOthers() {
        #expect(HeaderFilter.requestID(from: ["X-Request-Id": "abc-123_x.y"]) == "abc-123_x.y")
        #expect(HeaderFilter.requestID(from: ["x-request-id": String(repeating: "a", count: 128)]).count == 128)
        for bad in ["", "a b", "a\r\nSet-Cookie: x", String(repeating: "a", count: 129), "id/1", "é", "{\"x\"}"] {
            let id = HeaderFilter.requestID(from: ["X-Request-Id": bad])
            #expect(id != bad)
            #expect(HeaderFilter.isValidRequestID(id))
        }
        #expect(HeaderFilter.isValidRequestID(HeaderFilter.requestID(from: [:])))
    }

    @Test func filtersResponseHeaders() {
        let upstream: HTTPHeaders = [
            "Content-Type": "text/event-stream", "Content-Length": "10", "Transfer-Encoding": "chunked",
            "Connection": "close, X-Upstream-Hop", "X-Upstream-Hop": "1", "Keep-Alive": "timeout=5",
            "Retry-After": "30",
            "X-Request-Id": "upstream-id", "Set-Cookie": "a=1", "Set-Cookie": "b=2", "Upgrade": "h2c",
        ]
        let out = labric.response(upstream, requestID: "req-9")
        #expect(out.map(\.name) == ["Content-Type", "Retry-After", "Set-Cookie", "Set-Cookie", "X-Request-Id"])
        #expect(out.values("Set-Cookie") == ["a=1", "b=2"])
        #expect(out.values("X-Request-Id") == ["req-9"])
    }

    @Test func rewritesLocationInResponses() {
        let out = labric.response(["Location": "https://platform.labric.co/api/v1/files/1"], requestID: "r")
        #expect(out["Location"] == "/labric/api/v1/files/1")
        let absolute = labric.response(
            ["Location": "https://platform.labric.co/api/v1/files/1?x=1"], requestID: "r",
            gatewayOrigin: "http://127.0.0.1:8080/")
        #expect(absolute["Location"] == "http://127.0.0.1:8080/labric/api/v1/files/1?x=1")
        // Among fields that are dropped, the rewritten Location keeps its place.
        let mixed = labric.response(
            [
                "Connection": "close", "Location": "https://platform.labric.co/api/v1/files/2", "Content-Length": "0",
                "Content-Type": "text/plain",
            ], requestID: "r")
        #expect(mixed.map(\.name) == ["Location", "Content-Type", "X-Request-Id"])
        #expect(mixed["Location"] == "/labric/api/v1/files/2")
    }

    @Test func parsesConnectionTokens() {
        let headers: HTTPHeaders = ["Connection": " Keep-Alive ,X-A,,\tx-b ", "connection": "Upgrade"]
        #expect(HeaderFilter.connectionTokens(headers) == ["keep-alive", "x-a", "x-b", "upgrade"])
    }

    /// The allocation-free name check says what the documented sets say, whatever the case, and nothing more.
    @Test func nameKindAgreesWithTheDocumentedSets() {
        let names = HeaderFilter.droppedFromRequests.union(HeaderFilter.droppedFromResponses).union(["location"])
        let others = [
            "x-custom", "content-type", "te ", "hosts", "locatio", "x-request-i\u{0}", "authorizatioN2", "",
            "con\rection", "keep\ralive", "Content-Lengt\u{48}",
        ]
        for name in Array(names) + others {
            for variant in [name, name.uppercased(), name.capitalized] {
                let kind = HeaderFilter.NameKind(variant)
                let lowercase = HeaderFilter.lowercasedASCII(variant)
                #expect(
                    kind.isDroppedFromRequests == HeaderFilter.droppedFromRequests.contains(lowercase), "\(variant)")
                #expect(
                    kind.isDroppedFromResponses == HeaderFilter.droppedFromResponses.contains(lowercase), "\(variant)")
                #expect((kind == .location) == (lowercase == "location"), "\(variant)")
            }
        }
    }
}
