import Foundation
import Testing

@testable import Gateway

/// The Genie private token, live: the gateway in process in front of the Genie simulator, counted by the
/// simulator's `genie.logins` (one per successful exchange).
@Suite(.serialized) struct GatewayTokenTests {
    static let catalog = "/genie/catalog/library"

    /// Sends `count` GETs at once and tallies the statuses.
    static func burst(_ live: LiveGateway, _ count: Int = 1000, _ path: String = catalog) async throws -> [Int: Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count {
                group.addTask { try await live.send("GET", path, timeout: .seconds(120)).status }
            }
            return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        }
    }

    @Test(.timeLimit(.minutes(3))) func thousandRequestsArrivingAsTheTokenExpiresShareOneExchange() async throws {
        // 24 s tokens: refreshed after 15.6-18 s, unusable after 21.6 s; the gateway gives an exchange 10 s.
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 24))) { live in
            #expect(await poll { live.tokenIsUsable })
            // Warm up: 1,000 keep-alive connections client to gateway and gateway to Genie, no exchange.
            #expect(try await Self.burst(live) == [200: 1000])
            let before = live.genieLogins
            #expect(before == 1)

            // The background refresh is held at the upstream, so the token reaches its unusable margin with the
            // exchange still in flight: requests arriving now find no usable token.
            let gate = live.loginHold.holdNext()
            defer { gate.open() }
            let expired = await poll(timeout: .seconds(40)) { live.loginHold.held.value == 1 && !live.tokenIsUsable }
            try #require(expired, "the token never expired with its refresh in flight")
            // The new token's own background refresh will be held too, so that however long the burst takes, the
            // count below is what the burst caused (a held login is only counted once it completes).
            let next = live.loginHold.holdNext()
            defer { next.open() }

            let (statuses, elapsed) = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<1000 {
                    group.addTask { try await live.send("GET", Self.catalog, timeout: .seconds(120)).status }
                }
                // Every one of them is inside the gateway, waiting for the one exchange in progress.
                let allWaiting = await poll(timeout: .seconds(60)) { live.tokenWaiters >= 1000 }
                #expect(allWaiting, "only \(live.tokenWaiters) requests waited for the token")
                gate.open()
                let released = ContinuousClock.now
                let statuses = try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
                return (statuses, ContinuousClock.now - released)
            }
            #expect(statuses == [200: 1000], "statuses: \(statuses)")
            #expect(live.genieLogins - before == 1, "exchanges during the burst: \(live.genieLogins - before)")
            print("1,000 requests waited for one exchange, then finished in \(elapsed)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func thousandRequestsMeetingARevokedTokenShareOneExchange() async throws {
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 300))) { live in
            #expect(await poll { live.tokenIsUsable })
            #expect(try await live.send("GET", Self.catalog).status == 200)
            let before = live.genieLogins
            try await live.control(live.genieServer, "POST", "/_sandbox/tokens/revoke")
            let statuses = try await Self.burst(live)
            #expect(statuses == [200: 1000], "statuses: \(statuses)")
            #expect(live.genieLogins - before == 1, "exchanges after the revocation: \(live.genieLogins - before)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func steadyLoadWithThreeSecondTokensNeedsAtMostThirtyExchanges() async throws {
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 3))) { live in
            #expect(await poll { live.tokenIsUsable })
            let before = live.genieLogins
            let ok = Tally()
            let failures = TextStore()
            let end = ContinuousClock.now + .seconds(60)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while ContinuousClock.now < end {
                            do {
                                let reply = try await live.send("GET", Self.catalog)
                                if reply.status == 200 {
                                    ok.add()
                                } else {
                                    failures.append("\(reply.status) \(reply.text)")
                                }
                            } catch {
                                failures.append("\(error)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let exchanges = live.genieLogins - before
            print("steady load: \(ok.value) requests in 60 s, \(exchanges) exchanges, \(failures.all.count) failures")
            #expect(failures.all.isEmpty, "\(failures.all.count) failed, first: \(failures.all.first ?? "")")
            #expect(ok.value > 100)
            #expect(exchanges <= 30)
            // Tokens live 3 s: without refreshes 60 s of load could not have succeeded.
            #expect(exchanges >= 19)
        }
    }

    @Test func revokedTokenIsRefreshedAndTheGetReplayed() async throws {
        try await withLiveGateway(.init(genie: .simulator(tokenLifetime: 300))) { live in
            #expect(await poll { live.tokenIsUsable })
            let first = try await live.send("GET", Self.catalog)
            #expect(first.status == 200)
            let genie = try #require(live.genie)
            let logins = live.genieLogins
            let reads = genie.faults.stats().requests(for: "/catalog/library")

            let revoked = try await live.control(live.genieServer, "POST", "/_sandbox/tokens/revoke")
            #expect(jsonInt(revoked.json?["revoked"]) ?? 0 >= 1)

            let replayed = try await live.send("GET", Self.catalog, headers: [("X-Request-Id", "replay-1")])
            #expect(replayed.status == 200)
            #expect(replayed.body == first.body)
            #expect(replayed.header("X-Request-Id") == "replay-1")
            #expect(live.genieLogins == logins + 1)
            // The refused request and its replay.
            #expect(genie.faults.stats().requests(for: "/catalog/library") == reads + 2)
            #expect(live.privateTokens.count == 2)
            let metrics = try await live.metrics()
            #expect(
                metricValue(metrics, "labgate_token_refreshes_total", ["upstream=\"genie\"", "result=\"success\""])
                    == 2)
            // One access-log line for the client's request, with the status it saw.
            let lines = live.accessLog.all.filter { $0.contains("request_id=replay-1") }
            #expect(lines.count == 1)
            #expect(lines.first?.contains("status=200") == true)
        }
    }
}
