import Foundation
import LabgateTestSupport
import MicroHTTPServer
import NIOCore
import Synchronization
import Testing

@Suite struct LifecycleTests {
    /// What a handler saw when its client left.
    final class Outcome: Sendable {
        let ended = Flag()
        let sawError = Flag()
    }

    @Test func clientVanishingMidUploadCancelsTheHandler() async throws {
        let outcome = Outcome()
        let reading = Flag()
        try await withServer(responder: { request in
            defer { outcome.ended.set() }
            do {
                for try await _ in request.body { reading.set() }
            } catch {
                outcome.sawError.set()
                throw error
            }
            return HTTPServerResponse(status: 200)
        }) { server in
            let port = server.port
            let baseline = ProcessStatus.current.openFileDescriptors
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
                try client.send([UInt8](repeating: 7, count: 100_000))
                // Vanish only once the handler is reading: then there is a handler to cancel.
                while !reading.value { Thread.sleep(forTimeInterval: 0.005) }
                client.reset()
            }
            #expect(await eventually { outcome.ended.value })
            #expect(outcome.sawError.value)
            #expect(await eventually { server.inFlightCount == 0 })
            #expect(await eventually { ProcessStatus.current.openFileDescriptors <= baseline })
        }
    }

    @Test func clientVanishingMidDownloadCancelsTheHandler() async throws {
        let outcome = Outcome()
        try await withServer(responder: { _ in
            HTTPServerResponse(
                status: 200,
                body: .stream(length: nil) { writer in
                    defer { outcome.ended.set() }
                    do {
                        // Endless: only the client leaving ends it.
                        while true { try await writer.write(ByteBuffer(repeating: 1, count: 16 << 10)) }
                    } catch {
                        outcome.sawError.set()
                        throw error
                    }
                }
            )
        }) { server in
            let port = server.port
            let baseline = ProcessStatus.current.openFileDescriptors
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                var seen = 0
                _ = try? client.readResponse { bytes in
                    seen += bytes.count
                    if seen > 1 << 20 { throw RawClient.Failure(description: "enough") }
                }
                client.reset()
            }
            #expect(await eventually { outcome.ended.value })
            #expect(outcome.sawError.value)
            #expect(await eventually { server.inFlightCount == 0 })
            #expect(await eventually { ProcessStatus.current.openFileDescriptors <= baseline })
        }
    }

    @Test func clientVanishingWhileTheHandlerThinksCancelsIt() async throws {
        // A suspended connection does not notice its client leaving by itself (MHD.md §2.6): the server must.
        let outcome = Outcome()
        try await withServer(responder: { _ in
            defer { outcome.ended.set() }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                outcome.sawError.set()
            }
            return HTTPServerResponse(status: 200)
        }) { server in
            let port = server.port
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                Thread.sleep(forTimeInterval: 0.2)
                client.reset()
            }
            #expect(await eventually { outcome.ended.value })
            #expect(outcome.sawError.value)
        }
    }

    @Test func shutdownFinishesRequestsInFlightAndRefusesNewOnes() async throws {
        let started = Flag()
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            responder: ClosureResponder { _ in
                started.set()
                try await Task.sleep(for: .milliseconds(700))
                return HTTPServerResponse(status: 200, body: .string("finished"))
            },
            logger: .init(label: "test")
        )
        try server.start()
        let port = server.port
        async let response = offPool {
            let client = try RawClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            return try client.readResponse()
        }
        #expect(await eventually { started.value })
        await server.shutdown(gracePeriod: .seconds(10))
        let finished = try await response
        #expect(finished.status == 200)
        #expect(finished.text == "finished")
        #expect(finished.header("Connection")?.lowercased() == "close")
        #expect(throws: RawClient.Failure.self) { try RawClient(port: port) }
    }

    @Test func shutdownEndsExchangesThatOutliveTheGracePeriod() async throws {
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            responder: ClosureResponder { _ in
                try await Task.sleep(for: .seconds(60))
                return HTTPServerResponse(status: 200)
            },
            logger: .init(label: "test")
        )
        try server.start()
        let port = server.port
        async let closed = offPool {
            let client = try RawClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            return client.isClosedByPeer()
        }
        #expect(await eventually { server.inFlightCount == 1 })
        // The process would abort here if a suspended connection reached MHD_stop_daemon (MHD.md §2.8).
        await server.shutdown(gracePeriod: .milliseconds(100))
        #expect(try await closed)
    }
}
