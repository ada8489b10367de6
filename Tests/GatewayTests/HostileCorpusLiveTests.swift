import Foundation
import LabgateTestSupport
import Sandbox
import Testing

@testable import Gateway

/// Hostile requests over raw sockets to a live gateway in front of both simulators. Each gets its documented answer
/// (DESIGN.md's error table, docs/DECISIONS.md) or a closed connection; none reaches an upstream (the simulators'
/// counters); afterwards the process is healthy and its open descriptors are back to where they were.
@Suite(.serialized) struct HostileCorpusLiveTests {
    /// What a hostile request must get.
    enum Expected: Sendable, CustomStringConvertible {
        /// This status, with labgate's JSON error `code` when given.
        case status(Int, code: String? = nil)
        /// One of these statuses (libmicrohttpd's own page or labgate's JSON), or the connection closed unanswered.
        case refused([Int])

        var description: String {
            switch self {
            case .status(let status, let code): "\(status) \(code ?? "")"
            case .refused(let statuses): "one of \(statuses) or closed"
            }
        }
    }

    struct Case: Sendable {
        var name: String
        var bytes: [UInt8]
        var expected: Expected

        init(_ name: String, _ text: String, _ expected: Expected) {
            self.init(name, Array(text.utf8), expected)
        }

        init(_ name: String, _ bytes: [UInt8], _ expected: Expected) {
            self.name = name
            self.bytes = bytes
            self.expected = expected
        }
    }

    static func get(_ target: String, _ extra: String = "") -> String {
        "GET \(target) HTTP/1.1\r\nHost: labgate\r\n\(extra)Connection: close\r\n\r\n"
    }

    static let badRequest = Expected.status(400, code: "bad_request")
    static let noRoute = Expected.status(404, code: "no_route")

    /// The single-request corpus: one fresh connection each.
    static func corpus(labricPort: Int) -> [Case] {
        let big = String(repeating: "a", count: 20_000)
        return [
            // Dot-segments, raw and encoded, split at / or \, and the `..;x` form.
            Case("raw dot-dot", get("/labric/../etc/passwd"), badRequest),
            Case("raw dot-dot at the end", get("/labric/api/v1/files/.."), badRequest),
            Case("raw dot", get("/genie/public/v1/./instruments"), badRequest),
            Case("encoded dot-dot", get("/labric/api/v1/%2e%2e/secret"), badRequest),
            Case("upper-case encoded dot-dot", get("/labric/api/v1/%2E%2E/secret"), badRequest),
            Case("mixed encoded dot-dot", get("/genie/.%2e/catalog/library"), badRequest),
            Case("encoded dot", get("/genie/%2e/catalog/library"), badRequest),
            Case("dot-dot before an encoded slash", get("/labric/api/..%2Fadmin"), badRequest),
            Case("dot-dot before an encoded backslash", get("/labric/api/..%5cadmin"), badRequest),
            Case("dot-dot after a raw backslash", get("/labric/api\\..\\admin"), badRequest),
            Case("dot-dot with parameters", get("/labric/api/v1/files/..;x/y"), badRequest),
            Case("encoded route prefix then dot-dot", get("/%6Cabric/%2e%2e/x"), badRequest),
            // Encoded NUL, CR, LF in the path; raw control bytes in the target.
            Case("encoded NUL", get("/labric/api/v1/files%00.json"), badRequest),
            Case("encoded CR LF header injection", get("/labric/api/v1/files%0d%0aX-Injected:%201"), badRequest),
            Case("encoded LF", get("/genie/catalog%0Alibrary"), badRequest),
            Case("raw NUL in the target", [UInt8](get("/labric/a\u{0}b").utf8), .refused([400])),
            Case("raw NUL before a dot-dot", [UInt8](get("/labric/api\u{0}/../../admin").utf8), .refused([400])),
            Case("raw space in the target", get("/labric/a b"), .refused([400, 505])),
            // Absolute-form, authority-form, asterisk-form.
            Case("absolute-form to another host", get("http://evil.example/labric/api/v1/files"), badRequest),
            Case(
                "absolute-form to the upstream itself", get("http://127.0.0.1:\(labricPort)/api/v1/files"), badRequest),
            Case(
                "absolute-form login",
                "POST http://evil.example/genie/authn/login HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: 2\r\nConnection: close\r\n\r\n{}", badRequest),
            Case("network-path reference", get("//evil.example/labric/api/v1/files"), noRoute),
            Case(
                "CONNECT to another host", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
                badRequest),
            Case(
                "CONNECT to the upstream", "CONNECT 127.0.0.1:\(labricPort) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                badRequest),
            Case(
                "CONNECT with an origin-form target",
                get("/labric/api/v1/files").replacingOccurrences(of: "GET", with: "CONNECT"), badRequest),
            Case(
                "asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: labgate\r\nConnection: close\r\n\r\n",
                .refused([400, 404])),
            // Foreign Host headers: never followed, local answers stay local.
            Case(
                "foreign Host to a probe", "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
                .status(200)),
            Case(
                "foreign Host to nowhere", "GET /nope HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n",
                noRoute),
            Case(
                "two Host headers", "GET /nope HTTP/1.1\r\nHost: a\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
                .refused([400, 404])),
            // Framing that could smuggle a second request.
            Case(
                "Content-Length with Transfer-Encoding",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", badRequest),
            Case(
                "Transfer-Encoding gzip",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Transfer-Encoding: gzip\r\n\r\n", .status(501, code: "not_implemented")),
            Case(
                "Transfer-Encoding twice",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                .status(501, code: "not_implemented")),
            Case(
                "Transfer-Encoding chunked, identity",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", .status(501, code: "not_implemented")),
            Case(
                "two different Content-Lengths",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", .refused([400])),
            Case(
                "negative Content-Length",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: -1\r\n\r\n", .refused([400])),
            Case(
                "hexadecimal Content-Length",
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: 0x10\r\n\r\n", .refused([400])),
            // Oversized heads and targets.
            Case("a 20 KiB header", get("/labric/api/v1/files", "X-Big: \(big)\r\n"), .refused([431])),
            Case(
                "600 headers",
                get("/labric/api/v1/files", (0..<600).map { "X-H\($0): \(big.prefix(60))\r\n" }.joined()),
                .refused([431])),
            Case("a 17 KiB target", get("/labric/" + String(big.prefix(17_000))), .refused([414, 431])),
            Case("a 100 KiB target", get("/labric/" + String(repeating: "b", count: 100_000)), .refused([414, 431])),
            // Oddities of the request line and header syntax.
            Case("garbage request line", "HELLO\r\n\r\n", .refused([400])),
            Case("unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", .refused([400, 505])),
            Case(
                "header without a colon", "GET /labric/api/v1/files HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
                .refused([400])),
            Case(
                "space before the colon", "GET /labric/api/v1/files HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
                .refused([400])),
            Case("a control byte in a header value", get("/labric/api/v1/files", "X-A: a\u{1}b\r\n"), .refused([400])),
            Case("a header name with a slash", get("/labric/api/v1/files", "X/A: 1\r\n"), .refused([400])),
            Case("login answered for GET", get("/genie/authn/login"), noRoute),
            Case("TRACE to a probe", "TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", noRoute),
        ]
    }

    /// Requests that reached a simulator other than labgate's own token exchange.
    static func upstreamRequests(_ live: LiveGateway) -> Int {
        let genie = live.genie?.faults.stats()
        let labric = live.labric?.faults?.stats()
        return (genie.map { $0.total - $0.requests(for: "/authn/login") } ?? 0) + (labric?.total ?? 0)
    }

    /// The sockets open in this process, as `local->remote state` from /proc/net/tcp (for a failure message).
    static func describeDescriptors() -> String {
        ProcessStatus.current.ownSocketRows(in: ["tcp", "tcp6", "udp", "unix"]).map { row in
            if row.table == "unix" { return "unix" }
            func port(_ field: Substring) -> Int { Int(field.split(separator: ":").last ?? "", radix: 16) ?? 0 }
            return "\(port(row.columns[1]))->\(port(row.columns[2])) st\(row.columns[3])"
        }.joined(separator: ", ")
    }

    /// The descriptor count once it has not changed for 200 ms (pools and event loops open things lazily).
    static func stableDescriptorCount() async -> Int {
        var last = ProcessStatus.current.openFileDescriptors
        var stableSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, ContinuousClock.now - stableSince < .milliseconds(200) {
            try? await Task.sleep(for: .milliseconds(10))
            let now = ProcessStatus.current.openFileDescriptors
            if now != last { (last, stableSince) = (now, ContinuousClock.now) }
        }
        return last
    }

    /// Sends one case on a fresh connection: the status answered, or nil when the connection closed unanswered.
    static func exchange(_ port: Int, _ bytes: [UInt8], timeoutSeconds: Int = 10) async throws -> RawClient.Response? {
        try await offPool {
            let client = try RawClient(port: port, timeoutSeconds: timeoutSeconds)
            // The server may answer and close before it read everything (a refused head): a failed send is fine.
            try? client.send(bytes)
            return try? client.readResponse()
        }
    }

    static func check(_ response: RawClient.Response?, _ testCase: Case) {
        let observed = response.map { "\($0.status) \($0.text.prefix(120))" } ?? "closed"
        switch testCase.expected {
        case .status(let status, let code):
            #expect(response?.status == status, "\(testCase.name): \(observed)")
            if let code, let response {
                let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
                #expect(json?["code"] as? String == code, "\(testCase.name): \(observed)")
            }
        case .refused(let statuses):
            #expect(response.map { statuses.contains($0.status) } ?? true, "\(testCase.name): \(observed)")
        }
    }

    /// The gateway with libmicrohttpd's idle timeout at 2 s: a connection whose client closed or reset it while
    /// libmicrohttpd was not watching it is only closed by that timeout (see docs/DECISIONS.md, a known gap), and the
    /// descriptor check waits for it.
    static var options: LiveGateway.Options {
        var options = LiveGateway.Options()
        options.configure = { $0.clientIdleTimeoutSeconds = 2 }
        return options
    }

    @Test func everyHostileRequestGetsItsAnswerAndNoneReachesAnUpstream() async throws {
        try await withLiveGateway(Self.options) { live in try await Self.runCorpus(live) }
    }

    /// Warms up what stays open by design, so that it counts in the baseline: the test client's pooled connection,
    /// the gateway's pooled connections to both upstreams (two descriptors each, both ends are in this process),
    /// and whatever the first raw-socket thread makes. Returns the descriptor baseline and the upstreams' counts.
    static func warmUp(_ live: LiveGateway) async throws -> (descriptors: Int, upstreamRequests: Int) {
        let ready = await poll { live.tokenIsUsable }
        #expect(ready)
        #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)
        #expect(try await live.send("GET", "/genie/catalog/library").status == 200)
        _ = try await exchange(live.gateway.server.port, Array(get("/healthz").utf8))
        return (await stableDescriptorCount(), upstreamRequests(live))
    }

    static func runCorpus(_ live: LiveGateway) async throws {
        let port = live.gateway.server.port
        let (baseline, upstreamBefore) = try await warmUp(live)
        let corpus = corpus(labricPort: try #require(live.labricServer).port)
        for testCase in corpus {
            check(try await exchange(port, testCase.bytes), testCase)
        }
        var count = corpus.count
        count += try await smugglingInABodyIsOnlyABody(port)
        count += try await pipelinedRequestsAreAnsweredInOrder(port)
        count += try await anOversizedLoginBodyIsRefusedBeforeItIsSent(port)
        count += try await clientsVanishingMidRequest(port, reset: false)
        count += try await aSlowClientDoesNotStarveOthers(port)
        #expect(count >= 40)
        #expect(
            upstreamRequests(live) == upstreamBefore,
            "a hostile request reached an upstream: \(String(describing: live.labric?.faults?.stats().requests))")
        #expect(try await live.send("GET", "/healthz").status == 200)
        #expect(try await live.send("GET", "/readyz").status == 200)
        let settled = await descriptorsSettle(atMost: baseline)
        #expect(
            settled,
            "open descriptors: \(ProcessStatus.current.openFileDescriptors), baseline \(baseline): \(describeDescriptors())"
        )
    }

    /// Clients that reset their connection mid-request (labgate's own routes), and uploads to Labric abandoned
    /// midway (which do reach Labric: bodies stream through). The gateway stays healthy, nothing reaches an upstream
    /// but the uploads, and every descriptor is closed again (a reset connection at the latest by the idle timeout).
    @Test func resetClientsAndAbandonedUploadsLeaveNothingOpen() async throws {
        try await withLiveGateway(Self.options) { live in try await Self.resetAndAbandon(live) }
    }

    static func resetAndAbandon(_ live: LiveGateway) async throws {
        do {
            let port = live.gateway.server.port
            let (baseline, upstreamBefore) = try await warmUp(live)
            _ = try await clientsVanishingMidRequest(port, reset: true)
            #expect(upstreamRequests(live) == upstreamBefore)
            _ = try await clientsVanishingMidUpload(port)
            #expect(upstreamRequests(live) <= upstreamBefore + 2)
            #expect(try await live.send("GET", "/healthz").status == 200)
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 200)
            let settled = await descriptorsSettle(atMost: baseline)
            withKnownIssue("reset connections and abandoned uploads can stay open", isIntermittent: true) {
                #expect(
                    settled,
                    "open descriptors: \(ProcessStatus.current.openFileDescriptors), baseline \(baseline): \(describeDescriptors())"
                )
            }
        }
    }

    /// Polls until at most `limit` descriptors are open, for up to 15 seconds.
    static func descriptorsSettle(atMost limit: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if ProcessStatus.current.openFileDescriptors <= limit { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ProcessStatus.current.openFileDescriptors <= limit
    }

    /// A body that looks like a second request is only a body: nothing is forwarded.
    static func smugglingInABodyIsOnlyABody(_ port: Int) async throws -> Int {
        let inner = "GET /labric/api/v1/files HTTP/1.1\r\nHost: x\r\n\r\n"
        let outer = "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: \(inner.utf8.count)\r\n\r\n" + inner
        let responses = try await offPool {
            let client = try RawClient(port: port, timeoutSeconds: 5)
            try client.send(outer + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            var statuses: [Int] = []
            while let response = try? client.readResponse() { statuses.append(response.status) }
            return statuses
        }
        #expect(responses == [404, 200], "smuggled: \(responses)")
        return 1
    }

    /// Three requests in one write, answered in order (the request ids say which is which).
    static func pipelinedRequestsAreAnsweredInOrder(_ port: Int) async throws -> Int {
        let requests = [("/healthz", "p-1"), ("/nope", "p-2"), ("/metrics", "p-3"), ("/labric/%2e%2e", "p-4")]
        let text = requests.map { "GET \($0.0) HTTP/1.1\r\nHost: x\r\nX-Request-Id: \($0.1)\r\n\r\n" }.joined()
        let answers = try await offPool {
            let client = try RawClient(port: port, timeoutSeconds: 5)
            try client.send(text)
            var answers: [(Int, String)] = []
            while let response = try? client.readResponse() {
                answers.append((response.status, response.header("X-Request-Id") ?? ""))
            }
            return answers
        }
        #expect(answers.map(\.0) == [200, 404, 200, 400])
        #expect(answers.map(\.1).prefix(2) == ["p-1", "p-2"])
        return 1
    }

    /// A login declaring 10 MiB gets 413 from the head alone: labgate does not wait for (or buffer) the body.
    static func anOversizedLoginBodyIsRefusedBeforeItIsSent(_ port: Int) async throws -> Int {
        let declared = try await offPool {
            let client = try RawClient(port: port, timeoutSeconds: 5)
            try client.send(
                "POST /genie/authn/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 10485760\r\n\r\n{\"jwt\": \"")
            return try client.readResponse().status
        }
        #expect(declared == 413)
        // Chunked, growing past the 64 KiB limit: 413 once it ends; what came past the limit was dropped, not kept.
        let chunked = try await offPool { () -> Int? in
            let client = try RawClient(port: port, timeoutSeconds: 5)
            try client.send(
                "POST /genie/authn/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = "4000\r\n" + String(repeating: "j", count: 0x4000) + "\r\n"
            for _ in 0..<64 { guard (try? client.send(chunk)) != nil else { return nil } }
            guard (try? client.send("0\r\n\r\n")) != nil else { return nil }
            return try? client.readResponse().status
        }
        #expect(chunked == nil || chunked == 413, "chunked login: \(String(describing: chunked))")
        return 2
    }

    /// Clients that vanish mid-head or mid-body of requests labgate answers itself, closing or resetting.
    static func clientsVanishingMidRequest(_ port: Int, reset: Bool) async throws -> Int {
        try await vanish(
            port, reset: reset,
            [
                "GET /labric/api/v1/fi",
                "GET /labric/api/v1/files HTTP/1.1\r\nHost: x\r\nX-Half: ",
                "POST /genie/authn/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"jwt\":",
                "POST /genie/authn/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
                "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "z", count: 100),
            ])
    }

    /// Clients that vanish in the middle of an upload to Labric, declared and chunked.
    static func clientsVanishingMidUpload(_ port: Int) async throws -> Int {
        try await vanish(
            port, reset: true,
            [
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                    + String(repeating: "z", count: 1000),
                "POST /labric/api/v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "400\r\n" + String(repeating: "y", count: 0x400) + "\r\n",
            ])
    }

    /// Sends each text on a fresh connection, then resets it or just closes it.
    static func vanish(_ port: Int, reset: Bool, _ texts: [String]) async throws -> Int {
        for text in texts {
            try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 5)
                try client.send(text)
                if reset { client.reset() }
                // Otherwise it closes when the client is released.
            }
        }
        return texts.count
    }

    /// A client sending its head a byte at a time while 20 others are served promptly.
    static func aSlowClientDoesNotStarveOthers(_ port: Int) async throws -> Int {
        async let slow: Int? = offPool {
            let client = try RawClient(port: port, timeoutSeconds: 10)
            for byte in Array("GET /healthz HTTP/1.1\r\nHost: slow\r\n".utf8) {
                try client.send([byte])
                Thread.sleep(forTimeInterval: 0.02)
            }
            try client.send("Connection: close\r\n\r\n")
            return try? client.readResponse().status
        }
        let start = ContinuousClock.now
        for _ in 0..<20 {
            let response = try await withDeadline(.seconds(5), "a request beside the slow client") {
                try await Self.exchange(port, Array(Self.get("/healthz").utf8))
            }
            #expect(response?.status == 200)
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(try await slow == 200)
        return 2
    }
}
