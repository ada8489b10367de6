import Foundation
import Logging
import Testing

@testable import Gateway

/// The audit copy of the access log: a file rotated by size, `FILE.1` the newest rotated one, at most `keep` kept.
@Suite(.serialized) struct AccessLogFileTests {
    static func temporaryDirectory() throws -> String {
        let path =
            FileManager.default.temporaryDirectory.appendingPathComponent("labgate-audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func lines(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    @Test func rotatesBySizeAndKeepsTheNewestFiles() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rotation = JSONLogHandler.Sink.Rotation(path: directory + "/access.log", maxBytes: 100, keep: 2)
        let sink = try JSONLogHandler.Sink.rotatingFile(rotation)
        // 40-byte lines: two fit in 100 bytes, the third rotates.
        for index in 0..<20 {
            sink.write("line \(String(format: "%02d", index)) " + String(repeating: "x", count: 31) + "\n")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files == ["access.log", "access.log.1", "access.log.2"])
        for index in 0...2 {
            let size = try FileManager.default.attributesOfItem(atPath: rotation.file(index))[.size] as? Int ?? 0
            #expect(size <= 100)
        }
        // The newest lines are in the current file, the ones before in .1, then .2; older ones were deleted.
        let kept = (0...2).reversed().flatMap { Self.lines(rotation.file($0)) }.map { $0.prefix(7) }
        #expect(kept == ["line 14", "line 15", "line 16", "line 17", "line 18", "line 19"])
    }

    @Test func aReopenedFileCountsWhatIsAlreadyThere() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rotation = JSONLogHandler.Sink.Rotation(path: directory + "/access.log", maxBytes: 100, keep: 1)
        try String(repeating: "y", count: 90).appending("\n").write(
            toFile: rotation.path, atomically: false, encoding: .utf8)
        let sink = try JSONLogHandler.Sink.rotatingFile(rotation)
        sink.write("after restart\n")
        #expect(Self.lines(rotation.path) == ["after restart"])
        #expect(Self.lines(rotation.file(1)).first?.hasPrefix("yyy") == true)
    }

    @Test func keepZeroTruncatesInPlace() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rotation = JSONLogHandler.Sink.Rotation(path: directory + "/access.log", maxBytes: 30, keep: 0)
        let sink = try JSONLogHandler.Sink.rotatingFile(rotation)
        for index in 0..<5 { sink.write("entry \(index) ..........\n") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["access.log"])
        #expect(Self.lines(rotation.path) == ["entry 4 .........."])
    }

    @Test func anUnopenableAuditFileIsAProblemNamingTheSetting() throws {
        var configuration = GatewayConfiguration()
        configuration.accessLog = .off
        configuration.accessLogFile = "/nonexistent-labgate-dir/audit.log"
        let error = #expect(throws: ConfigurationError.self) { try JSONLogHandler.accessLogger(configuration) }
        #expect(error?.description.contains("LABGATE_ACCESS_LOG_FILE") == true)
        #expect(error?.description.contains("/nonexistent-labgate-dir/audit.log") == true)
        configuration.accessLogFile = nil
        #expect(try JSONLogHandler.accessLogger(configuration) == nil)
    }

    /// A live gateway writing its access log to stdout's stand-in and to a small rotating file: every request is a
    /// JSON line naming the client, method, path, status, bytes, durations and request id, and no file holds a
    /// credential, a private token or a client key.
    @Test func liveAccessLogRotatesAndHoldsNoSecret() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/audit.log"
        var options = LiveGateway.Options()
        options.recordReplies = true
        options.configure = { configuration in
            configuration.accessLog = .off
            configuration.accessLogFile = path
            configuration.accessLogMaxBytes = 2048
            configuration.accessLogKeep = 3
        }
        options.accessLogger = { try JSONLogHandler.accessLogger($0) }
        let clientSecret = "lgk_client_" + UUID().uuidString
        try await withLiveGateway(options) { live in
            for index in 0..<40 {
                let headers = [("Authorization", "Bearer \(clientSecret)"), ("X-Request-Id", "audit-\(index)")]
                let path = ["/labric/api/v1/files", "/genie/catalog/library", "/genie/public/v1/instruments"][index % 3]
                #expect(try await live.send("GET", path, headers: headers).status == 200)
            }
            #expect(try await live.send("GET", "/labric/api/v1/files/%2e%2e/x").status == 400)

            let rotation = try #require(live.gateway.configuration.accessLogRotation)
            // A line is written once the exchange completes, which may be just after the client has its reply.
            #expect(await poll { Self.lines(rotation.path).last?.contains("\"status\":\"400\"") == true })
            let present = (0...4).filter { FileManager.default.fileExists(atPath: rotation.file($0)) }
            #expect(present == [0, 1, 2, 3], "rotated files: \(present)")
            let lines = (0...3).reversed().flatMap { Self.lines(rotation.file($0)) }
            let entries = lines.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }
            #expect(entries.count == lines.count, "every line is JSON")
            #expect(
                entries.allSatisfy { entry in
                    ["request_id", "method", "path", "status", "bytes", "duration_ms", "route"].allSatisfy {
                        entry[$0] != nil
                    }
                })
            #expect(entries.last?["status"] as? String == "400")
            #expect(entries.allSatisfy { $0["peer"] as? String == "127.0.0.1" }, "the client's address, formatted")
            #expect(entries.contains { $0["request_id"] as? String == "audit-39" })
            let secrets = [live.labricAPIKey, live.geniePublicToken, clientSecret] + live.privateTokens
            let text = lines.joined(separator: "\n")
            for secret in secrets { #expect(!text.contains(secret), "a secret is in the audit log") }
        }
    }
}
