import AsyncHTTPClient
import Foundation
import LabgateTestSupport
import MicroHTTPServer
import Testing

/// Issue 3: 256 MiB uploaded and 256 MiB downloaded through the gateway arrive byte-exact, while the gateway's peak
/// RSS grows less than 64 MiB. Measured on the `labgate` binary alone: the client and the upstream live in this test
/// process, whose memory is not the gateway's.
@Suite("Streaming memory", .serialized)
struct StreamingMemoryTests {
    static let mebibyte = 1 << 20
    static let limit = 64 * mebibyte

    @Test(.timeLimit(.minutes(10))) func twoHundredFiftySixMiBEachWayInBoundedGatewayMemory() async throws {
        let total = 256 * Self.mebibyte
        try await InProcessUpstreams.withServer(ClosureResponder(PatternTransfers.upstream)) { upstream in
            try await LabgateProcess.withServe(environment: [
                "LABRIC_API_BASE_URL": "http://127.0.0.1:\(upstream.port)",
                "LABRIC_API_KEY": "lbk_e2e_" + UUID().uuidString.lowercased(),
            ]) { gateway in
                let client = HTTPClient.shared
                let memory = ProcessStatus(pid: gateway.child.pid)
                let upload = gateway.baseURL + "/labric/upload"
                let download = gateway.baseURL + "/labric/download?bytes="

                // Warm up: pools, buffers and the allocator's arenas exist before anything is measured.
                let warm = 8 * Self.mebibyte
                #expect(try await PatternTransfers.upload(client, upload, total: warm).intact)
                #expect(try await PatternTransfers.download(client, download + "\(warm)").intact)

                memory.resetPeak()
                let beforeUpload = memory.resident
                let uploaded = try await PatternTransfers.upload(client, upload, total: total)
                let uploadGrowth = memory.peakResident - beforeUpload

                memory.resetPeak()
                let beforeDownload = memory.resident
                let downloaded = try await PatternTransfers.download(client, download + "\(total)")
                let downloadGrowth = memory.peakResident - beforeDownload

                print(
                    "labgate: 256 MiB up, peak RSS +\(uploadGrowth >> 20) MiB; down, +\(downloadGrowth >> 20) MiB"
                        + " (from \(beforeUpload >> 20) MiB)")
                #expect(uploaded == .init(status: 200, bytes: total, intact: true))
                #expect(downloaded == .init(status: 200, bytes: total, intact: true))
                #expect(beforeUpload > 0 && beforeDownload > 0, "the gateway's VmRSS is unreadable")
                #expect(uploadGrowth < Self.limit, "upload grew the gateway's peak RSS by \(uploadGrowth >> 20) MiB")
                #expect(
                    downloadGrowth < Self.limit, "download grew the gateway's peak RSS by \(downloadGrowth >> 20) MiB")
            }
        }
    }
}
