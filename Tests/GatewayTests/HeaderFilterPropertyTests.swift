import MicroHTTPServer
import PropertyBased
import Testing

@testable import Gateway

@Suite struct HeaderFilterPropertyTests {
    let filter = HeaderFilter(upstream: UpstreamOrigin("https://platform.labric.co")!, routePrefix: "/labric")

    static let names = [
        "Authorization", "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "X-Request-Id", "Expect", "Accept", "Content-Type",
        "X-Fern-Language", "X-A", "X-B", "Cookie", "Location", "Retry-After", "Content-Length",
    ]

    /// A header name from the pool in a random case, and a value that may name other headers (for `Connection`).
    static let field = zip(pick(names), Gen.int(in: 0...2), pick(names).array(of: 0...3)).map { name, casing, listed in
        let cased = casing == 0 ? name.lowercased() : casing == 1 ? name.uppercased() : name
        let value = cased.lowercased() == "content-length" ? "12" : listed.joined(separator: ", ")
        return (cased, value)
    }

    static let headers = field.array(of: 0...12).map { HTTPHeaders($0) }

    @Test func filteredRequestHeadersNeverCarryCredentialsOrHopByHop() async {
        await propertyCheck(count: 500, input: Self.headers) { incoming in
            guard let forwarded = try? filter.request(incoming, requestID: "rid") else {
                // Only ambiguous framing is refused.
                #expect(incoming.contains("Content-Length") && incoming.contains("Transfer-Encoding"))
                return
            }
            let named = HeaderFilter.connectionTokens(incoming)
            // Host and X-Request-Id are labgate's own, set even when the client's Connection names them.
            let forbidden = HeaderFilter.hopByHop.union(["authorization", "expect", "content-length"]).union(named)
                .subtracting(["host", "x-request-id"])
            let sent = forwarded.headers.map { $0.name.lowercased() }
            #expect(sent.allSatisfy { !forbidden.contains($0) })
            #expect(forwarded.headers.values("Host") == ["platform.labric.co"])
            #expect(forwarded.headers.values("X-Request-Id") == ["rid"])
            // Everything else passes through unchanged and in order.
            let kept = incoming.filter { field in
                let name = field.name.lowercased()
                return !forbidden.contains(name) && !named.contains(name) && name != "host" && name != "x-request-id"
            }
            #expect(Array(forwarded.headers.prefix(kept.count)).map(\.name) == kept.map(\.name))
            #expect(Array(forwarded.headers.prefix(kept.count)).map(\.value) == kept.map(\.value))
        }
    }

    @Test func filteredResponseHeadersNeverCarryHopByHopOrFraming() async {
        await propertyCheck(count: 500, input: Self.headers) { upstream in
            let out = filter.response(upstream, requestID: "rid")
            let forbidden = HeaderFilter.hopByHop.union(["content-length"]).union(
                HeaderFilter.connectionTokens(upstream)
            )
            .subtracting(["x-request-id"])
            #expect(out.allSatisfy { !forbidden.contains($0.name.lowercased()) })
            #expect(out.values("X-Request-Id") == ["rid"])
        }
    }

    @Test func requestIDsAreAlwaysSane() async {
        let id = zip(Gen.ascii.string(of: 0...140), Gen.bool).map { text, header in (text, header) }
        await propertyCheck(count: 500, input: id) { text, sendHeader in
            let headers: HTTPHeaders = sendHeader ? ["X-Request-Id": text] : [:]
            let chosen = HeaderFilter.requestID(from: headers)
            #expect(HeaderFilter.isValidRequestID(chosen))
            if sendHeader && HeaderFilter.isValidRequestID(text) { #expect(chosen == text) }
        }
    }

    /// Any number of client `X-Request-Id`s with any text, and credentials under any spelling: upstream gets exactly
    /// one valid request id (the client's first when it is valid), and never the client's credentials.
    @Test func exactlyOneSaneRequestIDAndNoClientCredentialGoUpstream() async {
        let credentialName = pick([
            "Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn", "Proxy-Authorization",
            "proxy-authorization",
        ])
        let value = Gen.ascii.string(of: 0...40)
        let ids = value.array(of: 0...3)
        let credentials = zip(credentialName, value).array(of: 0...3)
        await propertyCheck(count: 500, input: ids, credentials, Self.headers) { ids, credentials, others in
            var incoming = others
            for id in ids { incoming.add("X-Request-Id", id) }
            for (name, secret) in credentials { incoming.add(name, "Bearer " + secret) }
            let requestID = HeaderFilter.requestID(from: incoming)
            guard let forwarded = try? filter.request(incoming, requestID: requestID) else { return }
            let sentIDs = forwarded.headers.values("X-Request-Id")
            #expect(sentIDs.count == 1)
            #expect(sentIDs.allSatisfy(HeaderFilter.isValidRequestID))
            let names = forwarded.headers.map { $0.name.lowercased() }
            #expect(!names.contains("authorization") && !names.contains("proxy-authorization"))
            let back = filter.response(forwarded.headers, requestID: requestID)
            #expect(back.values("X-Request-Id") == [requestID])
        }
    }
}
