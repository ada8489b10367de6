import Foundation
import MicroHTTPServer
import Sandbox
import Testing

/// Jobs, job executions and revert, the agent (plain and streamed), device status, notifications and models.
@Suite struct LabricSimulatorJobsTests {
    typealias T = LabricTestSupport
    let clock = ManualClock()

    @Test func jobsAreListedNewestFirstAndArchivedOnesOnRequest() async throws {
        let simulator = T.simulator(clock: clock)
        let first = try await T.send(
            simulator, "POST", "/api/v1/jobs", json: ["name": "parse plates", "code": "print('hi')\n"])
        #expect(first.json?["publish_status"] == "draft")
        #expect(first.json?["archived"] == false)
        let second = try await T.send(
            simulator, "POST", "/api/v1/jobs", json: ["name": "qc", "code": "pass", "description": nil])
        let duplicate = try await T.send(simulator, "POST", "/api/v1/jobs", json: ["name": "qc", "code": "pass"])
        #expect(duplicate.status == 409)
        let missing = try await T.send(simulator, "POST", "/api/v1/jobs", json: ["name": "no code"])
        #expect(missing.status == 422)

        let listed = try await T.send(simulator, "GET", "/api/v1/jobs")
        #expect(listed.json?.arrayValue?.map { $0["name"] } == ["qc", "parse plates"])
        let id = try #require(second.json?["id"]?.stringValue)
        let archived = try await T.send(simulator, "PATCH", "/api/v1/jobs/\(id)", json: ["archived": true])
        #expect(archived.json?["archived"] == true)
        #expect(try await T.send(simulator, "GET", "/api/v1/jobs").json?.arrayValue?.count == 1)
        #expect(try await T.send(simulator, "GET", "/api/v1/jobs?archived=true").json?.arrayValue?.count == 2)
        #expect(
            try await T.send(simulator, "GET", "/api/v1/jobs?name=parse%20plates").json?[0]?["name"] == "parse plates")
    }

    @Test func jobUpdatesApplyEditsAndGuardPublishing() async throws {
        let simulator = T.simulator(clock: clock)
        let created = try await T.send(
            simulator, "POST", "/api/v1/jobs", json: ["name": "j", "code": "a = 1\nb = 1\n"])
        let id = try #require(created.json?["id"]?.stringValue)
        let ambiguous = try await T.send(
            simulator, "PATCH", "/api/v1/jobs/\(id)", json: ["edits": [["old_string": " = 1", "new_string": " = 2"]]]
        )
        #expect(ambiguous.status == 400, "matches twice")
        let edited = try await T.send(
            simulator, "PATCH", "/api/v1/jobs/\(id)",
            json: [
                "edits": [["old_string": "b = 1", "new_string": "b = 2"]], "trigger_enabled": true,
                "trigger_category": "file_uploaded",
            ]
        )
        #expect(edited.status == 200)
        #expect(edited.json?["trigger"]?["category"] == "file_uploaded")
        let publish = try await T.send(simulator, "PATCH", "/api/v1/jobs/\(id)", json: ["publish_status": "published"])
        #expect(publish.status == 403)
        let admin = try await T.send(
            simulator, "PATCH", "/api/v1/jobs/\(id)", key: T.adminKey, json: ["publish_status": "published"])
        #expect(admin.json?["publish_status"] == "published")
        let wrong = try await T.send(simulator, "PATCH", "/api/v1/jobs/\(id)", json: ["publish_status": "live"])
        #expect(wrong.status == 422)
        let unknown = try await T.send(simulator, "PATCH", "/api/v1/jobs/nope", json: ["archived": true])
        #expect(unknown.status == 404)
    }

    @Test func executionsOpenWithAnEmptyBodyAndCloseIdempotently() async throws {
        let simulator = T.simulator(clock: clock)
        let opened = try await T.send(simulator, "POST", "/api/v1/job-executions")
        #expect(opened.status == 200)
        #expect(opened.json?["status"] == "running")
        #expect(opened.json?["job_name"] == "Off-Platform Manual Job")
        #expect(opened.json?["completed_at"] == .null)
        let id = try #require(opened.json?["job_execution_id"]?.stringValue)
        clock.advance(by: 30)
        let closed = try await T.send(simulator, "PATCH", "/api/v1/job-executions/\(id)", json: ["status": "completed"])
        #expect(closed.json?["status"] == "completed")
        #expect(closed.json?["completed_at"] == "2026-01-01T00:00:30.000Z")
        clock.advance(by: 30)
        let again = try await T.send(simulator, "PATCH", "/api/v1/job-executions/\(id)", json: ["status": "completed"])
        #expect(again.json == closed.json, "same status again is a no-op")
        let change = try await T.send(simulator, "PATCH", "/api/v1/job-executions/\(id)", json: ["status": "failed"])
        #expect(change.status == 400)
        let bad = try await T.send(simulator, "PATCH", "/api/v1/job-executions/\(id)", json: ["status": "done"])
        #expect(bad.status == 422)
        #expect(bad.json?["detail"]?[0]?["msg"] == "Input should be 'completed' or 'failed'")
    }

    @Test func executionsFailAfterTheirTimeout() async throws {
        let simulator = T.simulator(clock: clock)
        let job = try await T.send(simulator, "POST", "/api/v1/jobs", json: ["name": "nightly", "code": "pass"])
        let opened = try await T.send(
            simulator, "POST", "/api/v1/job-executions",
            json: ["job_id": job.json?["id"] ?? .null, "timeout_minutes": 1]
        )
        #expect(opened.json?["job_name"] == "nightly")
        let id = try #require(opened.json?["job_execution_id"]?.stringValue)
        clock.advance(by: 61)
        let close = try await T.send(simulator, "PATCH", "/api/v1/job-executions/\(id)", json: ["status": "completed"])
        #expect(close.status == 400, "it already failed")
        let tooLong = try await T.send(simulator, "POST", "/api/v1/job-executions", json: ["timeout_minutes": 50_000])
        #expect(tooLong.status == 422)
    }

    @Test func revertDeletesTheRowsAnExecutionCreated() async throws {
        let simulator = T.simulator(clock: clock)
        let opened = try await T.send(simulator, "POST", "/api/v1/job-executions")
        let id = try #require(opened.json?["job_execution_id"])
        let write = try await T.send(
            simulator, "POST", "/api/v1/data/write",
            json: [
                "job_execution_id": id,
                "tables": [["table": "sample", "rows": [["_ref": "s", "name": "S-1"]]]],
                "series": [["table": "trace", "parent": "@s", "columns": ["v": [1, 2]]]],
            ]
        )
        #expect(write.json?["job_execution_id"] == id)
        let reverted = try await T.send(simulator, "POST", "/api/v1/job-executions/\(id.stringValue ?? "")/revert")
        #expect(reverted.json == ["deleted_count": 1, "raws_deleted_count": 2, "skipped_count": 0, "warnings": []])
        let rows = try await T.send(simulator, "POST", "/api/v1/tools/query", json: ["query": "SELECT * FROM sample"])
        #expect(rows.json?["data"] == [])
    }

    @Test func agentStreamSendsEventsEndingWithTheResult() async throws {
        let simulator = T.simulator(clock: clock)
        let plain = try await T.send(
            simulator, "POST", "/api/v1/agent/runs", key: T.readKey, json: ["prompt": "hi", "stream": false])
        #expect(plain.status == 200)
        #expect(plain.json?["tool_calls"]?[0]?["tool_name"] == "get_schema")

        let request = HTTPServerRequest(
            method: "POST", target: "/api/v1/agent/runs",
            headers: ["Authorization": "Bearer \(T.readKey)", "content-type": "application/json"],
            body: RequestBody(string: #"{"prompt": "hi", "stream": true, "save": true}"#)
        )
        let response = try await simulator.respond(to: request)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("text/event-stream") == true)
        guard case .stream(let length, _) = response.body else {
            Issue.record("the events must be streamed")
            return
        }
        #expect(length == nil)
        let text = String(decoding: try await response.collectBody().readableBytesView, as: UTF8.self)
        #expect(text.hasSuffix("\n\n"))
        let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { frame in
            frame.hasPrefix("data: ") ? JSONValue(parsing: String(frame.dropFirst(6))) : nil
        }
        #expect(events.allSatisfy { $0 != nil })
        #expect(events.first??["type"] == "tool_call")
        let result = try #require(events.last??["result"])
        #expect(events.last??["type"] == "result")
        let deltas = events.compactMap { $0?["type"] == "text_delta" ? $0?["delta"]?.stringValue : nil }
        #expect(deltas.count > 1)
        #expect(deltas.joined() == result["output"]?.stringValue)
        #expect(result["output"] == plain.json?["output"])
        #expect(result["chat_id"]?.stringValue != nil, "save: true keeps the chat")
    }

    @Test func deviceStatusCoversTheRangeAndCapsTheEndAtNow() async throws {
        let simulator = T.simulator(clock: clock)
        let id = "5d0f6a8e-2c4b-4f1a-9b7e-0a1c2d3e4f50"
        let reply = try await T.send(
            simulator, "GET",
            "/api/v1/instruments/\(id)/device-status?start_time=2025-12-30T00:00:00Z&end_time=2026-01-02T00:00:00Z"
        )
        #expect(reply.status == 200)
        #expect(reply.json?["end_time"] == "2026-01-01T00:00:00.000Z")
        #expect(reply.json?["notes"]?.arrayValue?.contains("end_time was capped at now") == true)
        let statuses = try #require(reply.json?["statuses"]?.arrayValue)
        #expect(statuses.first?["first_seen"] == "2025-12-30T00:00:00.000Z")
        #expect(statuses.contains { $0["status"] == "offline" })
        #expect(reply.json?["current_status"]?["value"] != nil)
        let bad = try await T.send(simulator, "GET", "/api/v1/instruments/\(id)/device-status?start_time=yesterday")
        #expect(bad.status == 422)
        let unknown = try await T.send(simulator, "GET", "/api/v1/instruments/nope/device-status")
        #expect(unknown.status == 404)
    }

    @Test func notificationsAreDeduplicatedAndCapped() async throws {
        let simulator = T.simulator(clock: clock) { $0.notificationsPerHour = 2 }
        let first = try await T.send(
            simulator, "POST", "/api/v1/notifications", json: ["title": "Run done", "dedupe_key": "run-1"])
        #expect(first.json?["status"] == "delivered")
        #expect(first.json?["id"]?.stringValue != nil)
        let repeated = try await T.send(
            simulator, "POST", "/api/v1/notifications", json: ["title": "Run done", "dedupe_key": "run-1"])
        #expect(repeated.json == ["id": nil, "status": "deduplicated"])
        _ = try await T.send(simulator, "POST", "/api/v1/notifications", json: ["title": "b", "dedupe_key": "run-2"])
        let capped = try await T.send(
            simulator, "POST", "/api/v1/notifications", json: ["title": "c", "dedupe_key": "run-3"])
        #expect(capped.status == 429)
        #expect(capped.headers["Retry-After"] == "3600")
    }

    @Test func modelsAreListedAndFetched() async throws {
        let simulator = T.simulator(clock: clock)
        let models = try #require(try await T.send(simulator, "GET", "/api/v1/ml-models").json?.arrayValue)
        #expect(models.count == 2)
        let id = try #require(models.first?["id"]?.stringValue)
        let one = try await T.send(simulator, "GET", "/api/v1/ml-models/\(id)")
        #expect(one.json == models.first)
        let missing = try await T.send(simulator, "GET", "/api/v1/ml-models/nope")
        #expect(missing.status == 404)
    }
}
