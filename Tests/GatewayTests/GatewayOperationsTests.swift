import Foundation
import Sandbox
import Testing

@testable import Gateway

/// Issue 6: the probes mean what they say, and `/metrics` counts what happened.
@Suite(.serialized) struct GatewayOperationsTests {
    /// `/readyz` is 503 while the Genie public token is rejected by the exchange and 200 again once the exchange
    /// accepts it; `/healthz` stays 200 all along.
    @Test(.timeLimit(.minutes(2))) func readinessFollowsTheGenieCredentialWhileLivenessStays() async throws {
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 300))) { live in
            #expect(await poll { live.tokenIsUsable })
            #expect(try await live.send("GET", "/readyz").status == 200)
            let genie = try #require(live.genie)

            // The private token is revoked and the next three exchanges reject the public token (401).
            genie.revokePrivateTokens()
            genie.faults.failTokenExchanges(status: 401, count: 3)
            let refused = try await live.send("GET", "/genie/catalog/library")
            #expect(refused.status == 503)
            #expect(refused.json?["code"] as? String == "credential_unavailable")

            let unready = try await live.send("GET", "/readyz")
            #expect(unready.status == 503)
            let reasons = unready.json?["reasons"] as? [String] ?? []
            #expect(reasons.contains { $0.contains("rejected") }, "reasons: \(reasons)")
            #expect(try await live.send("GET", "/healthz").status == 200)

            // The background retries use up the three rejections, then the exchange works again.
            var healthWhileWaiting: Set<Int> = []
            var recovered = false
            let deadline = ContinuousClock.now + .seconds(30)
            while !recovered, ContinuousClock.now < deadline {
                healthWhileWaiting.insert(try await live.send("GET", "/healthz").status)
                recovered = try await live.send("GET", "/readyz").status == 200
                if !recovered { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(recovered, "readiness did not come back")
            #expect(healthWhileWaiting == [200], "healthz answered \(healthWhileWaiting)")
            #expect(try await live.send("GET", "/genie/catalog/library").status == 200)
        }
    }

    /// A known sequence of requests, then the exact counts in `/metrics`.
    @Test(.timeLimit(.minutes(2))) func metricsCountAKnownSequenceOfRequests() async throws {
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 300))) { live in
            #expect(await poll { live.tokenIsUsable })
            for _ in 0..<3 { #expect(try await live.send("GET", "/labric/api/v1/files").status == 200) }
            for _ in 0..<2 { #expect(try await live.send("GET", "/nope").status == 404) }
            try await live.control(
                live.labricServer, "POST", "/_sandbox/faults/status", body: #"{"status": 429, "count": 1}"#)
            #expect(try await live.send("GET", "/labric/api/v1/files").status == 429)
            #expect(try await live.send("GET", "/genie/catalog/library").status == 200)
            #expect(try await live.send("POST", "/genie/authn/login", body: #"{"jwt": "x"}"#).status == 200)

            let text = try await live.metrics()
            func value(_ name: String, _ labels: [String]) -> Double? { metricValue(text, name, labels) }
            let requests = "labgate_requests_total"
            #expect(value(requests, [#"route="labric""#, #"method="GET""#, #"status="200""#]) == 3, "\(text)")
            #expect(value(requests, [#"route="labric""#, #"method="GET""#, #"status="429""#]) == 1)
            #expect(value(requests, [#"route="no_route""#, #"method="GET""#, #"status="404""#]) == 2)
            #expect(value(requests, [#"route="genie_private""#, #"method="GET""#, #"status="200""#]) == 1)
            #expect(value(requests, [#"route="genie_login""#, #"method="POST""#, #"status="200""#]) == 1)
            #expect(value("labgate_request_duration_seconds_count", [#"route="labric""#]) == 4)
            #expect(value("labgate_token_refreshes_total", [#"upstream="genie""#, #"result="success""#]) == 1)
            #expect(value("labgate_inflight_requests", []) == 0)
            let expiry = try #require(value("labgate_token_expiry_seconds", [#"upstream="genie""#]))
            #expect(expiry > 200 && expiry <= 300, "token expiry \(expiry)")
            // An upstream's 429 is the upstream's answer, not an upstream error.
            #expect(value("labgate_upstream_errors_total", [#"route="labric""#]) == nil)
        }
    }
}
