import Foundation
import MicroHTTPServer
import NIOCore
import Sandbox

/// Calls the Labric simulator directly, the way the server would, and reads the answer.
enum LabricTestSupport {
    static let writeKey = "lbk_test_5f0c2a9e4b7d1c3e8a6f"
    static let readKey = "lbk_read_0a1b2c3d4e5f6a7b8c9d"
    static let adminKey = "lbk_admn_9f8e7d6c5b4a39281706"
    static let host = "labric.test:8081"

    static func simulator(
        clock: ManualClock = ManualClock(),
        configure: (inout LabricSimulator.Configuration) -> Void = { _ in }
    ) -> LabricSimulator {
        var configuration = LabricSimulator.Configuration()
        configuration.agentEventInterval = .zero
        configure(&configuration)
        return LabricSimulator(
            apiKeys: [
                .init(writeKey, name: "test writer", scopes: [.read, .write]),
                .init(readKey, name: "test reader", scopes: [.read]),
                .init(adminKey, name: "test admin", scopes: [.admin]),
            ],
            configuration: configuration,
            clock: clock.clock
        )
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var bytes: [UInt8]
        var text: String { String(decoding: bytes, as: UTF8.self) }
        var json: JSONValue? { JSONValue(parsing: text) }
        var detail: String? { json?["detail"]?.stringValue }
    }

    /// Sends one request. `json` is sent as the body with the SDK's lowercase content-type; `raw` as given.
    static func send(
        _ simulator: LabricSimulator,
        _ method: String,
        _ target: String,
        key: String? = writeKey,
        json: JSONValue? = nil,
        raw: [UInt8]? = nil,
        headers extra: HTTPHeaders = [:]
    ) async throws -> Reply {
        var headers: HTTPHeaders = ["Host": host, "Accept": "*/*"]
        if let key { headers.add("Authorization", "Bearer \(key)") }
        if json != nil { headers.add("content-type", "application/json") }
        for field in extra { headers.add(field.name, field.value) }
        let bytes = raw ?? json.map { Array($0.jsonText.utf8) }
        let request = HTTPServerRequest(
            method: method,
            target: target,
            headers: headers,
            body: bytes.map { RequestBody(buffer: ByteBuffer(bytes: $0)) } ?? .empty
        )
        let response = try await simulator.respond(to: request)
        let buffer = try await response.collectBody()
        return Reply(status: response.status, headers: response.headers, bytes: Array(buffer.readableBytesView))
    }

    /// The path (and query) of an absolute URL the simulator handed out, checking it points at `host`.
    static func path(of url: String) throws -> String {
        let prefix = "http://\(host)"
        guard url.hasPrefix(prefix) else { throw TestFailure("\(url) is not under \(prefix)") }
        return String(url.dropFirst(prefix.count))
    }

    /// Runs the signed-URL upload: create the URL, PUT with the returned headers, confirm. Returns the file id.
    static func upload(
        _ simulator: LabricSimulator, name: String, bytes: [UInt8], contentType: String = "text/csv"
    ) async throws -> String {
        let execution = try await send(simulator, "POST", "/api/v1/job-executions")
        let executionID = try require(execution.json?["job_execution_id"]?.stringValue, execution)
        let created = try await send(
            simulator, "POST", "/api/v1/files/upload-url",
            json: [
                "file_name": .string(name), "content_type": .string(contentType),
                "job_execution_id": .string(executionID),
            ]
        )
        let target = try path(of: try require(created.json?["upload_url"]?.stringValue, created))
        let headers = HTTPHeaders(
            (created.json?["headers"]?.objectValue ?? [:]).map { ($0.key, $0.value.stringValue ?? "") })
        let put = try await send(simulator, "PUT", target, key: nil, raw: bytes, headers: headers)
        guard put.status == 200 else { throw TestFailure("PUT answered \(put.status): \(put.text)") }
        let fileID = try require(created.json?["file_id"]?.stringValue, created)
        let confirmed = try await send(simulator, "POST", "/api/v1/files/\(fileID)/confirm-upload")
        guard confirmed.status == 200 else {
            throw TestFailure("confirm answered \(confirmed.status): \(confirmed.text)")
        }
        return fileID
    }

    static func require<T>(_ value: T?, _ reply: Reply) throws -> T {
        guard let value else { throw TestFailure("unexpected answer \(reply.status): \(reply.text)") }
        return value
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
