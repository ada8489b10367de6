import Foundation
import LabgateTestSupport
import MicroHTTPServer
import Synchronization
import Testing

/// Loop threads pinned to CPUs (`Configuration.pinLoops`): what the kernel reports for the thread that answers,
/// read on that thread from /proc.
@Suite struct LoopPinningTests {
    /// What a loop thread looks like from /proc.
    struct ThreadView: Hashable {
        var name: String
        var cpus: Set<Int>
    }

    /// Answers on the loop thread, recording that thread's name and allowed CPUs per loop.
    final class ThreadResponder: HTTPResponder {
        let seen = Mutex([ObjectIdentifier: ThreadView]())

        func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
            HTTPServerResponse(status: 500)
        }

        func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool {
            let view = ThreadView(
                name: Self.read("/proc/thread-self/comm").trimmingCharacters(in: .whitespacesAndNewlines),
                cpus: LoopPinningTests.allowedCPUs(status: Self.read("/proc/thread-self/status")))
            seen.withLock { $0[ObjectIdentifier(channel.loop)] = view }
            channel.send(HTTPServerResponse(status: 204))
            return true
        }

        static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    }

    /// The CPUs in a status file's `Cpus_allowed_list` ("0-1", "0,2-3").
    static func allowedCPUs(status: String) -> Set<Int> {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else {
            return []
        }
        var cpus = Set<Int>()
        for part in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let low = bounds.first, let high = bounds.last, low <= high else { continue }
            cpus.formUnion(low...high)
        }
        return cpus
    }

    /// The CPUs the test process may use (its main thread's, which nothing pins).
    static var processCPUs: Set<Int> { allowedCPUs(status: ThreadResponder.read("/proc/self/status")) }

    /// Serves requests in waves of connections until every one of `loops` loops has answered one.
    func views(loops: Int, pinned: Bool) async throws -> [ThreadView] {
        let responder = ThreadResponder()
        return try await withServer(
            {
                $0.loops = loops
                $0.pinLoops = pinned
            }, responder: responder
        ) { server in
            let port = server.port
            for _ in 0..<40 where responder.seen.withLock({ $0.count }) < loops {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            try await offPool {
                                let client = try RawClient(port: port)
                                try client.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
                                let status = try client.readResponse().status
                                guard status == 204 else { throw RawClient.Failure(description: "status \(status)") }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            return responder.seen.withLock { Array($0.values) }
        }
    }

    @Test func pinnedLoopsRunEachOnACPUOfItsOwnAndAreNamed() async throws {
        let process = Self.processCPUs
        try #require(!process.isEmpty)
        let views = try await views(loops: 2, pinned: true)
        try #require(views.count == 2)
        #expect(Set(views.map(\.name)) == ["http-loop-0", "http-loop-1"])
        if process.count >= 2 {
            // The first two CPUs the process may use, one each.
            #expect(views.allSatisfy { $0.cpus.count == 1 })
            #expect(Set(views.flatMap(\.cpus)) == Set(process.sorted().prefix(2)))
        } else {
            #expect(views.allSatisfy { $0.cpus == process })
        }
    }

    @Test func unpinnedLoopsKeepEveryCPUOfTheProcess() async throws {
        let process = Self.processCPUs
        try #require(!process.isEmpty)
        let views = try await views(loops: 2, pinned: false)
        try #require(views.count == 2)
        #expect(views.allSatisfy { $0.cpus == process })
    }

    /// Two loops pinned to one CPU would take turns at the scheduler's tick: with more loops than CPUs, none is
    /// pinned.
    @Test func moreLoopsThanCPUsAreNotPinned() async throws {
        let process = Self.processCPUs
        try #require(!process.isEmpty)
        let views = try await views(loops: process.count + 1, pinned: true)
        try #require(views.count == process.count + 1)
        #expect(views.allSatisfy { $0.cpus == process })
    }
}
