import Foundation
import LabgateTestSupport
import MicroHTTPServer
import NIOCore
import Synchronization
import Testing

@Suite struct StreamingTests {
    static let gibibyte = 1 << 30

    @Test func streams1GiBUpAndDownByteExactInBoundedMemory() async throws {
        let received = Counter()
        let mismatches = Counter()
        try await withServer(responder: { request in
            if request.method == "POST" {
                var offset = 0
                for try await chunk in request.body {
                    if !chunk.withUnsafeReadableBytes({ BytePattern.matches($0, at: offset) }) { mismatches.add(1) }
                    offset += chunk.readableBytes
                }
                received.store(offset)
                return HTTPServerResponse(status: 200, body: .string("\(offset)"))
            }
            return HTTPServerResponse(
                status: 200,
                body: .stream(length: Self.gibibyte) { writer in
                    var offset = 0
                    var chunk = [UInt8](repeating: 0, count: 64 << 10)
                    while offset < Self.gibibyte {
                        BytePattern.fill(&chunk, from: offset)
                        try await writer.write(ByteBuffer(bytes: chunk))
                        offset += chunk.count
                    }
                }
            )
        }) { server in
            let port = server.port
            let baseline = ProcessStatus.current.resident
            ProcessStatus.current.resetPeak()
            let (uploadStatus, downloaded, downloadMismatches) = try await offPool {
                let client = try RawClient(port: port, timeoutSeconds: 120)
                try client.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: \(Self.gibibyte)\r\n\r\n")
                var chunk = [UInt8](repeating: 0, count: 1 << 20)
                var offset = 0
                while offset < Self.gibibyte {
                    BytePattern.fill(&chunk, from: offset)
                    try client.send(chunk)
                    offset += chunk.count
                }
                let uploadStatus = try client.readResponse().status
                try client.send("GET /down HTTP/1.1\r\nHost: t\r\n\r\n")
                var downloaded = 0
                var bad = 0
                _ = try client.readResponse { bytes in
                    if !bytes.withUnsafeBytes({ BytePattern.matches($0, at: downloaded) }) { bad += 1 }
                    downloaded += bytes.count
                }
                return (uploadStatus, downloaded, bad)
            }
            let growth = ProcessStatus.current.peakResident - baseline
            #expect(uploadStatus == 200)
            #expect(received.value == Self.gibibyte)
            #expect(mismatches.value == 0)
            #expect(downloaded == Self.gibibyte)
            #expect(downloadMismatches == 0)
            #expect(growth < 32 << 20, "peak RSS grew by \(growth >> 20) MiB")
        }
    }

    @Test func sendsServerSentEventsOneByOne() async throws {
        // The handler sends event n+1 only after the client has read event n: a server that buffered the stream
        // would deadlock here instead of passing.
        let clientSaw = Counter()
        try await withServer(responder: { _ in
            HTTPServerResponse(
                status: 200,
                headers: ["Content-Type": "text/event-stream"],
                body: .stream(length: nil) { writer in
                    for n in 1...5 {
                        try await writer.write("data: {\"n\":\(n)}\n\n")
                        let deadline = ContinuousClock.now + .seconds(10)
                        while clientSaw.value < n, ContinuousClock.now < deadline {
                            try await Task.sleep(for: .milliseconds(2))
                        }
                    }
                }
            )
        }) { server in
            let port = server.port
            let events = try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
                var events: [String] = []
                var pending = ""
                _ = try client.readResponse { bytes in
                    pending += String(decoding: bytes, as: UTF8.self)
                    while let end = pending.range(of: "\n\n") {
                        events.append(String(pending[..<end.lowerBound]))
                        pending = String(pending[end.upperBound...])
                        clientSaw.add(1)
                    }
                }
                return events
            }
            #expect(events == (1...5).map { "data: {\"n\":\($0)}" })
        }
    }

    @Test func echoesAChunkedUpload() async throws {
        try await withServer(responder: { request in
            let body = try await request.body.collect(upTo: 1 << 20)
            return HTTPServerResponse(status: 200, body: .bytes(body))
        }) { server in
            let port = server.port
            let text = try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
                try client.send("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                return try client.readResponse().text
            }
            #expect(text == "hello world")
        }
    }

    @Test func answers413ForADeclaredBodyOverTheLimit() async throws {
        try await withServer({ $0.maxBodyBytes = 1000 }, responder: { _ in HTTPServerResponse(status: 200) }) {
            server in
            let port = server.port
            let status = try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
                return try client.readResponse().status
            }
            #expect(status == 413)
        }
    }
}
