import Foundation
import MicroHTTPServer
import Sandbox
import Synchronization
import Testing

@testable import Gateway

/// Forwarding, live: statuses, bodies, paths and headers as the upstream and the client see them.
@Suite(.serialized) struct GatewayLiveTests {
    // MARK: Statuses and bodies pass through

    @Test func upstream429WithRetryAfterPassesThroughUnchanged() async throws {
        try await withLiveGateway(.init(genie: .none)) { live in
            try await live.control(
                live.labricServer, "POST", "/_sandbox/faults/status",
                body: #"{"status": 429, "pathPrefix": "/api/v1/files", "method": "GET", "count": 2, "retryAfter": 7}"#)
            let server = try #require(live.labricServer)
            let direct = try await live.send(
                "GET", url: "http://127.0.0.1:\(server.port)/api/v1/files",
                headers: [("Authorization", "Bearer \(live.labricAPIKey)")])
            let forwarded = try await live.send("GET", "/labric/api/v1/files")

            #expect(direct.status == 429)
            #expect(forwarded.status == 429)
            #expect(forwarded.header("Retry-After") == "7")
            #expect(forwarded.header("Content-Type") == direct.header("Content-Type"))
            #expect(forwarded.body == direct.body)
            #expect(!forwarded.body.isEmpty)
            // The upstream's error, not one of labgate's.
            #expect(forwarded.json?["code"] == nil)
        }
    }

    @Test(arguments: [500, 502, 503, 401])
    func failingLabricPostReachesTheUpstreamExactlyOnce(status: Int) async throws {
        try await withLiveGateway(.init(genie: .none)) { live in
            try await live.control(live.labricServer, "POST", "/_sandbox/stats/reset")
            try await live.control(
                live.labricServer, "POST", "/_sandbox/faults/status",
                body: #"{"status": \#(status), "pathPrefix": "/api/v1/notifications", "method": "POST", "count": 5}"#)
            let reply = try await live.send(
                "POST", "/labric/api/v1/notifications", body: #"{"message": "plate 4 is done"}"#)
            #expect(reply.status == status)
            #expect(reply.text.contains("sandbox fault: forced \(status)"))
            let stats = try await live.control(live.labricServer, "GET", "/_sandbox/stats")
            let requests = stats.json?["requests"] as? [String: Any]
            #expect(jsonInt(requests?["/api/v1/notifications"]) == 1)
        }
    }

    @Test func failingGenieRequestsReachTheUpstreamExactlyOnce() async throws {
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 300), labric: .none)) { live in
            let genie = try #require(live.genie)
            #expect(await poll { live.tokenIsUsable })
            let instrument = try #require(GenieSimulator.seededInstrumentIDs.first)
            let commands = "/public/v1/instruments/\(instrument)/commands"
            genie.faults.resetStats()
            genie.faults.forceStatus(503, pathPrefix: commands, method: "POST", count: 5, retryAfter: "3")
            genie.faults.forceStatus(500, pathPrefix: "/catalog/library", method: "GET", count: 5)

            let post = try await live.send("POST", "/genie" + commands, body: #"{"action": "shake", "parameters": {}}"#)
            #expect(post.status == 503)
            #expect(post.header("Retry-After") == "3")
            let get = try await live.send("GET", "/genie/catalog/library")
            #expect(get.status == 500)

            let stats = genie.faults.stats()
            #expect(stats.requests(for: commands) == 1)
            #expect(stats.requests(for: "/catalog/library") == 1)
        }
    }

    // MARK: labgate's own errors

    /// Checks DESIGN.md's error shape: JSON with exactly `detail`, `code` and `request_id`, the id echoed in the header.
    static func expectOwnError(_ reply: LiveGateway.Reply, status: Int, code: String, requestID: String? = nil) {
        #expect(reply.status == status, "\(reply.status) \(reply.text)")
        #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
        let json = reply.json ?? [:]
        #expect(Set(json.keys) == ["detail", "code", "request_id"], "\(reply.text)")
        #expect(json["code"] as? String == code)
        #expect((json["detail"] as? String)?.isEmpty == false)
        let id = json["request_id"] as? String
        #expect(id != nil && id == reply.header("X-Request-Id"))
        if let requestID { #expect(id == requestID) }
    }

    @Test func ownErrorsHaveTheDesignShape() async throws {
        try await withLiveGateway(.init(genie: .none)) { live in
            Self.expectOwnError(try await live.send("GET", "/nope"), status: 404, code: "no_route")
            Self.expectOwnError(
                try await live.send("GET", "/nope", headers: [("X-Request-Id", "lab-run-42")]), status: 404,
                code: "no_route", requestID: "lab-run-42")
            Self.expectOwnError(
                try await live.send("GET", "/genie/catalog/library"), status: 503, code: "upstream_not_configured")
            Self.expectOwnError(
                try await live.send("GET", "/genie/public/v1/instruments"), status: 503,
                code: "upstream_not_configured")
            Self.expectOwnError(
                try await live.send("POST", "/genie/authn/login", body: #"{"jwt": "x"}"#), status: 503,
                code: "upstream_not_configured")
            Self.expectOwnError(
                try await live.send("GET", "/labric/api/v1/files/%2e%2e/secret"), status: 400, code: "bad_request")
        }
    }

    @Test func unreachableUpstreamIs502WithTheDesignShape() async throws {
        var options = LiveGateway.Options(genie: .none, labric: .unreachable)
        // A refused connection is retried by the pool until the connect timeout: keep it short.
        options.configure = { $0.connectTimeoutSeconds = 1 }
        try await withLiveGateway(options) { live in
            let reply = try await live.send("GET", "/labric/api/v1/files")
            Self.expectOwnError(reply, status: 502, code: "upstream_unreachable")
            let metrics = try await live.metrics()
            #expect(
                metricValue(
                    metrics, "labgate_upstream_errors_total", [#"route="labric""#, #"code="upstream_unreachable""#])
                    == 1)
        }
    }

    // MARK: Paths, queries, headers

    /// A custom upstream that answers with the request target it received.
    static let echoTarget: @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse = { request in
        HTTPServerResponse(status: 200, headers: ["Content-Type": "text/plain"], body: .string(request.target))
    }

    @Test(arguments: [
        "/api/v1/files/a%2Fb/content?x=%20y&z=1",
        "/api/v1/files/a%2fb%3Fc%23d/content?q=a+b&r=%2F%3D&empty=&&flag",
        "/api/v1/x;y=1/%41%42%7E~/?x=%25&x=%25&%E2%9C%93=%e2%9c%93",
        "/api/v1/files/%20spaced%20/content",
    ])
    func percentEncodedPathAndQueryReachTheUpstreamByteForByte(target: String) async throws {
        try await withLiveGateway(.init(genie: .none, labric: .custom(Self.echoTarget))) { live in
            let reply = try await live.send("GET", "/labric" + target)
            #expect(reply.status == 200)
            #expect(reply.text == target)
        }
        var options = LiveGateway.Options(genie: .none, labric: .custom(Self.echoTarget))
        options.labricBasePath = "/base"
        try await withLiveGateway(options) { live in
            let reply = try await live.send("GET", "/labric" + target)
            #expect(reply.text == "/base" + target)
        }
    }

    /// A custom upstream that answers 201 with the headers it received (one `name: value` per line), a `Location`
    /// on its own origin, and hop-by-hop headers that must not reach the client.
    static func echoHeaders(port: @escaping @Sendable () -> Int)
        -> @Sendable (HTTPServerRequest) async throws
        -> HTTPServerResponse
    {
        { request in
            let text = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
            return HTTPServerResponse(
                status: 201,
                headers: [
                    "Content-Type": "text/plain",
                    "Location": "http://127.0.0.1:\(port())/api/v1/files/42?view=full",
                    "Connection": "X-Upstream-Hop",
                    "X-Upstream-Hop": "drop me",
                    "Keep-Alive": "timeout=5",
                    "Proxy-Authenticate": "Basic realm=upstream",
                    "X-Upstream-Kept": "keep me",
                    "X-Request-Id": "upstream-made-this-up",
                ],
                body: .string(text)
            )
        }
    }

    @Test func headersAreFilteredTheCredentialInjectedAndLocationRewritten() async throws {
        let port = PortBox()
        // The upstream echoes the headers it saw, the injected key among them: no secret scan at the end.
        var options = LiveGateway.Options(genie: .none, labric: .custom(Self.echoHeaders(port: { port.value })))
        options.scanSecretsAtEnd = false
        try await withLiveGateway(options) { live in
            port.value = try #require(live.labricServer).port
            let clientHeaders = [
                ("Authorization", "Bearer client-secret-must-not-pass"),
                ("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0"),
                ("Connection", "keep-alive, X-Client-Hop"),
                ("X-Client-Hop", "drop me"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("X-Request-Id", "lab-run-7"),
                ("X-Custom", "kept"),
            ]
            let body = #"{"name": "plate.csv"}"#
            // Sent straight to the upstream, every one of these headers arrives: the client does send them.
            let direct = try await live.send(
                "POST", url: "http://127.0.0.1:\(port.value)/api/v1/files", headers: clientHeaders, body: body)
            for name in ["Proxy-Authorization", "X-Client-Hop", "Keep-Alive", "TE", "client-secret-must-not-pass"] {
                #expect(direct.text.contains(name), "the client did not send \(name)")
            }
            #expect(direct.header("X-Upstream-Hop") != nil, "the upstream did not send its hop-by-hop header")

            let reply = try await live.send("POST", "/labric/api/v1/files", headers: clientHeaders, body: body)
            #expect(reply.status == 201)
            let seen = reply.text.split(separator: "\n").map { line -> (String, String) in
                let parts = line.split(separator: ":", maxSplits: 1)
                return (parts[0].lowercased(), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
            }
            func upstreamSaw(_ name: String) -> [String] { seen.filter { $0.0 == name }.map(\.1) }

            #expect(upstreamSaw("authorization") == ["Bearer \(live.labricAPIKey)"])
            #expect(!reply.text.contains("client-secret-must-not-pass"))
            for dropped in ["proxy-authorization", "x-client-hop", "keep-alive", "te", "upgrade", "trailer"] {
                #expect(upstreamSaw(dropped).isEmpty, "\(dropped) was forwarded")
            }
            #expect(upstreamSaw("connection").allSatisfy { !$0.lowercased().contains("x-client-hop") })
            #expect(upstreamSaw("host") == ["127.0.0.1:\(port.value)"])
            #expect(upstreamSaw("x-request-id") == ["lab-run-7"])
            #expect(upstreamSaw("x-custom") == ["kept"])
            #expect(upstreamSaw("content-type") == ["application/json"])

            #expect(reply.header("Location") == "/labric/api/v1/files/42?view=full")
            #expect(reply.values("X-Request-Id") == ["lab-run-7"])
            #expect(reply.header("X-Upstream-Kept") == "keep me")
            for dropped in ["X-Upstream-Hop", "Keep-Alive", "Proxy-Authenticate"] {
                #expect(reply.header(dropped) == nil, "\(dropped) came back")
            }

            // Without an id (or with an unusable one) labgate makes one, sends it upstream and returns it.
            for offered in [nil, "not a valid id!"] {
                let headers = offered.map { [("X-Request-Id", $0)] } ?? []
                let made = try await live.send("GET", "/labric/api/v1/files", headers: headers)
                let id = try #require(made.header("X-Request-Id"))
                #expect(id != offered && HeaderFilter.isValidRequestID(id))
                #expect(made.text.contains("X-Request-Id: \(id)"))
            }
        }
    }
}

/// A port learnt after the server it belongs to started.
final class PortBox: Sendable {
    private let stored = Atomic(0)
    var value: Int {
        get { stored.load(ordering: .relaxed) }
        set { stored.store(newValue, ordering: .relaxed) }
    }
}
