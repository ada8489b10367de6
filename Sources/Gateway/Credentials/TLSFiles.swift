import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The listener's TLS certificate chain and private key files, and a digest of the pair the listener was started
/// with, so that a reload can tell a real change from a rewrite with the same contents.
///
/// libmicrohttpd hands the PEM text to GnuTLS when the daemon starts and offers no way to replace it in a running
/// daemon short of a certificate callback (see docs/DECISIONS.md): a changed pair is checked and reported, and it is
/// served from the next start.
public struct TLSFiles: Sendable {
    public var certificateFile: String
    public var keyFile: String
    /// SHA-256 of the certificate and key the listener serves (never logged).
    let servedDigest: String

    /// - Parameters:
    ///   - certificatePEM, privateKeyPEM: What the listener was started with.
    public init(certificateFile: String, keyFile: String, certificatePEM: String, privateKeyPEM: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        servedDigest = Self.digest(certificatePEM, privateKeyPEM)
    }

    var paths: [String] { [certificateFile, keyFile] }

    /// Reads both files and reports what a restart would serve.
    func check(reason: String, logger: Logger) -> CredentialFileReloader.Outcome {
        var metadata: Logger.Metadata = [
            "labgate.tls_cert_file": "\(certificateFile)", "labgate.tls_key_file": "\(keyFile)",
            "labgate.reason": "\(reason)",
        ]
        let certificate = Self.read(certificateFile)
        let key = Self.read(keyFile)
        let problems = Self.problems(certificate: certificate, certificateFile: certificateFile, key: key)
        guard problems.isEmpty, let certificate, let key else {
            metadata["labgate.problem"] = "\(problems.joined(separator: " "))"
            logger.error("TLS files rejected; the listener keeps serving its certificate", metadata: metadata)
            return .rejected
        }
        guard Self.digest(certificate, key) != servedDigest else {
            logger.info("TLS files unchanged", metadata: metadata)
            return .applied(changed: false)
        }
        logger.warning(
            "TLS files changed; the new certificate is served once labgate restarts (libmicrohttpd reads it at start)",
            metadata: metadata)
        return .pendingRestart
    }

    /// Why a pair cannot be served; empty when it looks usable. Names files, never contents.
    static func problems(certificate: String?, certificateFile: String, key: String?) -> [String] {
        var problems: [String] = []
        if let certificate {
            if !certificate.contains("-----BEGIN CERTIFICATE-----") {
                problems.append("\(certificateFile) holds no PEM certificate.")
            }
        } else {
            problems.append("\(certificateFile) is missing or unreadable.")
        }
        if let key {
            if !(key.contains("-----BEGIN") && key.contains("PRIVATE KEY-----")) {
                problems.append("the key file holds no PEM private key.")
            }
        } else {
            problems.append("the key file is missing or unreadable.")
        }
        return problems
    }

    static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else { return nil }
        return String(data: data, encoding: .utf8)
    }

    static func digest(_ certificate: String, _ key: String) -> String {
        SHA256.hexDigest(certificate + "\u{0}" + key)
    }
}
