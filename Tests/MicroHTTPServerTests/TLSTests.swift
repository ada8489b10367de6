import Foundation
import LabgateTestSupport
import MicroHTTPServer
import Testing

@Suite struct TLSTests {
    /// A throwaway self-signed certificate for 127.0.0.1, made by openssl for this test.
    static func makeCertificate(in directory: URL) throws -> (certificate: String, key: String) {
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-keyout", key, "-out", certificate,
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        return (
            try String(contentsOfFile: certificate, encoding: .utf8), try String(contentsOfFile: key, encoding: .utf8)
        )
    }

    @Test func servesHTTPSWithTheGivenCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("labgate-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (certificate, key) = try Self.makeCertificate(in: directory)
        let certificatePath = directory.appendingPathComponent("cert.pem").path
        try await withServer(
            { $0.tls = .init(certificatePEM: certificate, privateKeyPEM: key) },
            responder: { _ in HTTPServerResponse(status: 200, body: .string("over tls")) }
        ) { server in
            let port = server.port
            let output = try await offPool { () -> String in
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                // The certificate is its own CA: curl verifies the chain and the name, nothing is skipped.
                curl.arguments = ["-sS", "--cacert", certificatePath, "https://127.0.0.1:\(port)/"]
                let pipe = Pipe()
                curl.standardOutput = pipe
                try curl.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                curl.waitUntilExit()
                return String(decoding: data, as: UTF8.self)
            }
            #expect(output == "over tls")
        }
    }
}
