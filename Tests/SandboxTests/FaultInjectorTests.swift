import Foundation
import MicroHTTPServer
import Sandbox
import Synchronization
import Testing

/// The fault injector in front of a trivial responder, driven in process and over its control endpoints.
@Suite struct FaultInjectorTests {
    typealias T = GenieTestSupport

    /// Answers 200 `{"ok": true, "path": ...}` to everything, through the injector.
    struct Echo: HTTPResponder {
        let faults: FaultInjector

        func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
            try await faults.respond(to: request) { request in
                .json(["ok": true, "path": .string(String(request.path))])
            }
        }
    }

    @Test func forcedStatusesApplyToTheNextMatchingRequestsOnly() async throws {
        let faults = FaultInjector()
        let echo = Echo(faults: faults)
        faults.forceStatus(503, pathPrefix: "/api/v1/jobs", method: "POST", count: 2, retryAfter: "2")
        #expect(try await T.send(echo, "GET", "/api/v1/jobs").status == 200, "other methods pass")
        #expect(try await T.send(echo, "POST", "/api/v1/files").status == 200, "other paths pass")
        for _ in 0..<2 {
            let forced = try await T.send(echo, "POST", "/api/v1/jobs?x=1")
            #expect(forced.status == 503)
            #expect(forced.headers["Retry-After"] == "2")
            #expect(forced.json?["detail"]?.stringValue?.contains("503") == true)
        }
        #expect(try await T.send(echo, "POST", "/api/v1/jobs").status == 200)
        #expect(faults.stats().requests(for: "/api/v1/jobs") == 4, "faulted requests are counted too")
    }

    @Test func latencyIsWaitedThroughTheInjectedSleep() async throws {
        let slept = Mutex<[Duration]>([])
        let faults = FaultInjector(sleep: { duration in slept.withLock { $0.append(duration) } })
        let echo = Echo(faults: faults)
        faults.addLatency(.milliseconds(250), pathPrefix: "/slow", count: 1)
        _ = try await T.send(echo, "GET", "/fast")
        _ = try await T.send(echo, "GET", "/slow/1")
        _ = try await T.send(echo, "GET", "/slow/2")
        #expect(slept.withLock { $0 } == [.milliseconds(250)])
    }

    @Test func droppedConnectionsCutTheBodyAndThrow() async throws {
        let faults = FaultInjector()
        let echo = Echo(faults: faults)
        faults.dropConnections(afterBytes: 5, pathPrefix: "/download")
        let request = HTTPServerRequest(method: "GET", target: "/download/file")
        let response = try await echo.respond(to: request)
        guard case .stream(let length, _) = response.body else {
            Issue.record("a dropped body is streamed")
            return
        }
        #expect(length == #"{"ok":true,"path":"/download/file"}"#.utf8.count, "the full length is announced")
        await #expect(throws: SandboxError.self) { try await response.collectBody() }
        #expect(try await T.send(echo, "GET", "/download/file").status == 200, "only the next one is dropped")
    }

    @Test func controlEndpointsAddRulesAndReadCounters() async throws {
        let faults = FaultInjector()
        let echo = Echo(faults: faults)
        let added = try await T.send(
            echo, "POST", "/_sandbox/faults/status", body: #"{"status": 429, "pathPrefix": "/x", "retryAfter": 1}"#)
        #expect(added.status == 200)
        #expect(added.json?["status"]?[0]?["remaining"] == 1)
        let limited = try await T.send(echo, "GET", "/x")
        #expect(limited.status == 429)
        #expect(limited.headers["Retry-After"] == "1")
        #expect(try await T.send(echo, "GET", "/x").status == 200)

        _ = try await T.send(echo, "POST", "/_sandbox/faults/latency", body: #"{"ms": 1, "pathPrefix": "/y"}"#)
        #expect(try await T.send(echo, "GET", "/_sandbox/faults").json?["latency"]?.arrayValue?.count == 1)
        #expect(try await T.send(echo, "DELETE", "/_sandbox/faults").status == 200)
        #expect(try await T.send(echo, "GET", "/_sandbox/faults").json?["latency"] == [])

        let stats = try await T.send(echo, "GET", "/_sandbox/stats")
        #expect(stats.json?["total"] == 2, "control requests are not counted")
        #expect(stats.json?["requests"]?["/x"] == 2)
        _ = try await T.send(echo, "POST", "/_sandbox/stats/reset")
        #expect(faults.stats().total == 0)
    }

    @Test func controlEndpointsRefuseBadBodiesAndUnknownPaths() async throws {
        let echo = Echo(faults: FaultInjector())
        #expect(try await T.send(echo, "POST", "/_sandbox/faults/status", body: #"{"status": 9}"#).status == 400)
        #expect(try await T.send(echo, "POST", "/_sandbox/faults/drop", body: "[]").status == 400)
        #expect(
            try await T.send(echo, "POST", "/_sandbox/faults/latency", body: #"{"ms": 5, "count": 0}"#).status == 400)
        #expect(try await T.send(echo, "GET", "/_sandbox/nothing").status == 404)
    }

    @Test func tokenExchangeFailuresAreHandedOutInOrder() async throws {
        let faults = FaultInjector()
        let echo = Echo(faults: faults)
        _ = try await T.send(echo, "POST", "/_sandbox/faults/token-exchange", body: #"{"status": 401}"#)
        faults.failTokenExchanges(status: 503, count: 1)
        #expect(faults.takeTokenExchangeFailure()?.status == 401)
        #expect(faults.takeTokenExchangeFailure()?.status == 503)
        #expect(faults.takeTokenExchangeFailure() == nil)
    }

    @Test func revokeAndResetCallTheSimulatorsHandlers() async throws {
        let faults = FaultInjector()
        let echo = Echo(faults: faults)
        let resets = Mutex(0)
        faults.onRevokeTokens { 3 }
        faults.onRevokeTokens { 4 }
        faults.onReset { resets.withLock { $0 += 1 } }
        faults.forceStatus(500)
        #expect(try await T.send(echo, "POST", "/_sandbox/tokens/revoke").json?["revoked"] == 7)
        #expect(try await T.send(echo, "POST", "/_sandbox/reset").status == 200)
        #expect(resets.withLock { $0 } == 1)
        #expect(try await T.send(echo, "GET", "/z").status == 200, "reset removed the forced status")
    }
}
