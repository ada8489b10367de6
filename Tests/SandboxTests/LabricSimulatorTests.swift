import Foundation
import MicroHTTPServer
import Sandbox
import Testing

/// Auth, error shapes and files (the signed-URL upload trio, storage, content), called directly on the responder.
@Suite struct LabricSimulatorTests {
    typealias T = LabricTestSupport
    let clock = ManualClock()

    @Test func refusesMissingOrUnknownKeysWith401Detail() async throws {
        let simulator = T.simulator(clock: clock)
        let missing = try await T.send(simulator, "GET", "/api/v1/files", key: nil)
        let unknown = try await T.send(simulator, "GET", "/api/v1/files", key: "lbk_nope_0000")
        let basic = try await T.send(
            simulator, "GET", "/api/v1/files", key: nil, headers: ["Authorization": "Basic \(T.writeKey)"])
        for reply in [missing, unknown, basic] {
            #expect(reply.status == 401)
            #expect(reply.json == ["detail": "Unauthorized"])
        }
    }

    @Test func refusesAMissingScopeWith403() async throws {
        let simulator = T.simulator(clock: clock)
        let write = try await T.send(
            simulator, "POST", "/api/v1/jobs", key: T.readKey, json: ["name": "j", "code": "x"])
        #expect(write.status == 403)
        #expect(write.detail?.contains("'write' scope") == true)
        let read = try await T.send(simulator, "GET", "/api/v1/jobs", key: T.readKey)
        #expect(read.status == 200)
        #expect(read.json == [])
        let admin = try await T.send(
            simulator, "POST", "/api/v1/jobs", key: T.adminKey, json: ["name": "j", "code": "x"])
        #expect(admin.status == 200, "admin implies write")
    }

    @Test func unknownRoutesAnswer404AndWrongMethods405WithDetail() async throws {
        let simulator = T.simulator(clock: clock)
        let missing = try await T.send(simulator, "GET", "/api/v1/nothing-here")
        #expect(missing.status == 404)
        #expect(missing.json == ["detail": "Not Found"])
        let method = try await T.send(simulator, "DELETE", "/api/v1/jobs")
        #expect(method.status == 405)
        #expect(method.detail != nil)
        #expect(method.headers["Allow"] == "GET, POST")
        let file = try await T.send(simulator, "GET", "/api/v1/files/00000000-0000-0000-0000-000000000000/content")
        #expect(file.status == 404)
        #expect(file.detail == "File not found")
    }

    @Test func validationErrorsUseTheNinjaListShape() async throws {
        let simulator = T.simulator(clock: clock)
        let reply = try await T.send(simulator, "POST", "/api/v1/files/upload-url", json: ["content_type": 5])
        #expect(reply.status == 422)
        let issues = try #require(reply.json?["detail"]?.arrayValue)
        #expect(
            issues.contains(["type": "missing", "loc": ["body", "payload", "file_name"], "msg": "Field required"]))
        #expect(issues.contains { $0["loc"] == ["body", "payload", "content_type"] && $0["type"] == "string_type" })
        let notJSON = try await T.send(simulator, "POST", "/api/v1/jobs", raw: Array("{oops".utf8))
        #expect(notJSON.status == 400)
        #expect(notJSON.detail == "Cannot parse request body")
    }

    @Test func uploadTrioMakesTheFileVisibleOnlyOnceConfirmed() async throws {
        let simulator = T.simulator(clock: clock)
        let execution = try await T.send(simulator, "POST", "/api/v1/job-executions")
        let executionID = try #require(execution.json?["job_execution_id"]?.stringValue)
        let created = try await T.send(
            simulator, "POST", "/api/v1/files/upload-url",
            json: [
                "file_name": "plate.csv", "content_type": "text/csv", "job_execution_id": .string(executionID),
                "instrument_id": nil,
            ]
        )
        #expect(created.status == 200)
        let fileID = try #require(created.json?["file_id"]?.stringValue)
        let url = try #require(created.json?["upload_url"]?.stringValue)
        #expect(url.hasPrefix("http://\(T.host)/_storage/"), "absolute, from the Host header")
        #expect(created.json?["expires_at"]?.stringValue == "2026-01-01T00:15:00.000Z")
        let signed = try #require(created.json?["headers"]?.objectValue)
        #expect(signed["Content-Type"] == "text/csv")
        #expect(signed["x-goog-if-generation-match"] == "0")
        #expect(signed["x-goog-content-length-range"] == "0,524288000")
        let headers = HTTPHeaders(signed.map { ($0.key, $0.value.stringValue ?? "") })
        let target = try T.path(of: url)
        let bytes = Array("well,od600\nA1,0.42\n".utf8)

        let early = try await T.send(simulator, "POST", "/api/v1/files/\(fileID)/confirm-upload")
        #expect(early.status == 400, "nothing stored yet")
        let unsigned = try await T.send(
            simulator, "PUT", target, key: nil, raw: bytes, headers: ["Content-Type": "text/csv"])
        #expect(unsigned.status == 403, "the signed headers are required")
        let put = try await T.send(simulator, "PUT", target, key: nil, raw: bytes, headers: headers)
        #expect(put.status == 200)
        let replace = try await T.send(simulator, "PUT", target, key: nil, raw: bytes, headers: headers)
        #expect(replace.status == 412, "create-only")
        #expect(try await T.send(simulator, "GET", "/api/v1/files").json == [], "invisible before confirm")

        let confirmed = try await T.send(simulator, "POST", "/api/v1/files/\(fileID)/confirm-upload")
        #expect(confirmed.json == ["file_id": .string(fileID), "file_name": "plate.csv", "size_kilobytes": 1])
        let again = try await T.send(simulator, "POST", "/api/v1/files/\(fileID)/confirm-upload")
        #expect(again.json == confirmed.json)
        let listed = try await T.send(simulator, "GET", "/api/v1/files?extensions=csv,txt&query=PLATE&limit=5")
        #expect(listed.json?[0]?["file_id"]?.stringValue == fileID)
        #expect(listed.json?[0]?["source_type"] == "manual_upload")
        let other = try await T.send(simulator, "GET", "/api/v1/files?extensions=json")
        #expect(other.json == [])

        let content = try await T.send(simulator, "GET", "/api/v1/files/\(fileID)/content")
        #expect(content.json?["text_preview"]?.stringValue == String(decoding: bytes, as: UTF8.self))
        #expect(content.json?["preview_truncated"] == false)
        let download = try T.path(of: try #require(content.json?["download_url"]?.stringValue))
        let fetched = try await T.send(simulator, "GET", download, key: nil)
        #expect(fetched.status == 200)
        #expect(fetched.bytes == bytes)
    }

    @Test func storageEnforcesTheSizeCapAndExpiry() async throws {
        let simulator = T.simulator(clock: clock) { $0.maxUploadBytes = 10 }
        let execution = try await T.send(simulator, "POST", "/api/v1/job-executions")
        let created = try await T.send(
            simulator, "POST", "/api/v1/files/upload-url",
            json: ["file_name": "big.bin", "job_execution_id": execution.json?["job_execution_id"] ?? .null]
        )
        let signed = try #require(created.json?["headers"]?.objectValue)
        #expect(signed["Content-Type"] == "application/octet-stream")
        #expect(signed["x-goog-content-length-range"] == "0,10")
        let headers = HTTPHeaders(signed.map { ($0.key, $0.value.stringValue ?? "") })
        let target = try T.path(of: try #require(created.json?["upload_url"]?.stringValue))
        let tooBig = try await T.send(
            simulator, "PUT", target, key: nil, raw: Array(repeating: 1, count: 11), headers: headers)
        #expect(tooBig.status == 400)
        #expect(tooBig.text.contains("EntityTooLarge"))
        clock.advance(by: 15 * 60 + 1)
        let expired = try await T.send(simulator, "PUT", target, key: nil, raw: [1, 2], headers: headers)
        #expect(expired.status == 400)
        #expect(expired.text.contains("ExpiredToken"))
    }

    @Test func publicBaseURLOverridesTheHostHeader() async throws {
        let simulator = T.simulator(clock: clock)
        simulator.publicBaseURL = "http://sandbox.example:9000/"
        let execution = try await T.send(simulator, "POST", "/api/v1/job-executions")
        let created = try await T.send(
            simulator, "POST", "/api/v1/files/upload-url",
            json: ["file_name": "a.txt", "job_execution_id": execution.json?["job_execution_id"] ?? .null]
        )
        #expect(created.json?["upload_url"]?.stringValue?.hasPrefix("http://sandbox.example:9000/_storage/") == true)
    }

    @Test func uploadsNeedAnExecutionOrInstrument() async throws {
        let simulator = T.simulator(clock: clock)
        let bare = try await T.send(simulator, "POST", "/api/v1/files/upload-url", json: ["file_name": "a.txt"])
        #expect(bare.status == 400)
        let unknown = try await T.send(
            simulator, "POST", "/api/v1/files/upload-url", json: ["file_name": "a.txt", "job_execution_id": "nope"]
        )
        #expect(unknown.status == 404)
    }

    @Test func contentPreviewIsTheFirst64KiBAndChecksumIsCRC32C() async throws {
        let simulator = T.simulator(clock: clock)
        let small = try await T.upload(simulator, name: "digits.txt", bytes: Array("123456789".utf8))
        let listed = try await T.send(simulator, "GET", "/api/v1/files?query=digits")
        #expect(listed.json?[0]?["crc32c_hash"] == "4waSgw==", "CRC32C of 123456789 is 0xE3069283")
        #expect(listed.json?[0]?["file_id"]?.stringValue == small)

        // "é" is two bytes; the one that straddles the 64 KiB boundary is left out of the preview.
        let text = String(repeating: "a", count: 65_535) + String(repeating: "é", count: 10)
        let big = try await T.upload(simulator, name: "big.txt", bytes: Array(text.utf8))
        let content = try await T.send(simulator, "GET", "/api/v1/files/\(big)/content")
        #expect(content.json?["preview_truncated"] == true)
        #expect(content.json?["text_preview"]?.stringValue == String(repeating: "a", count: 65_535))
        #expect(content.json?["size_kilobytes"] == 65)
    }

    @Test func multipartUploadIsVisibleAtOnce() async throws {
        let simulator = T.simulator(clock: clock)
        let execution = try await T.send(simulator, "POST", "/api/v1/job-executions")
        let executionID = try #require(execution.json?["job_execution_id"]?.stringValue)
        let body =
            "--XyZ\r\nContent-Disposition: form-data; name=\"job_execution_id\"\r\n\r\n\(executionID)\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"run.log\"\r\n"
            + "Content-Type: text/plain\r\n\r\n"
            + "line one\r\nline two\r\n--XyZ--\r\n"
        let reply = try await T.send(
            simulator, "POST", "/api/v1/files", raw: Array(body.utf8),
            headers: ["Content-Type": "multipart/form-data; boundary=XyZ"]
        )
        #expect(reply.status == 200)
        let fileID = try #require(reply.json?["file_id"]?.stringValue)
        #expect(reply.json?["file_name"] == "run.log")
        let content = try await T.send(simulator, "GET", "/api/v1/files/\(fileID)/content")
        #expect(content.json?["text_preview"] == "line one\r\nline two")
    }

    @Test func nativeExecutablesAreDiscardedOnConfirm() async throws {
        let simulator = T.simulator(clock: clock)
        await #expect(throws: T.TestFailure.self) {
            _ = try await T.upload(simulator, name: "tool", bytes: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])
        }
        #expect(try await T.send(simulator, "GET", "/api/v1/files").json == [])
    }
}
