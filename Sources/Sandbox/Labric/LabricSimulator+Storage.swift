import Foundation
import MicroHTTPServer
import NIOCore

/// The storage behind signed URLs, as Google Cloud Storage answers them: a PUT must carry the headers the URL was
/// signed for, is refused past the size range, and only creates (`x-goog-if-generation-match: 0`, so 412 on a
/// second PUT); a GET of a download URL streams the bytes. Errors are GCS's XML, which the SDK never parses (it only
/// calls `raise_for_status()`).
extension LabricSimulator {
    func storagePut(_ routed: SandboxRouter.Routed) async throws -> HTTPServerResponse {
        let token = routed["token"]
        let request = routed.request
        guard let grant = store.state.withLock({ $0.storage[token] }), grant.purpose == .upload else {
            return Self.storageError(403, "AccessDenied", "Access denied.")
        }
        if let expires = grant.expiresAt, now() > expires {
            return Self.storageError(400, "ExpiredToken", "Invalid argument: the signed URL has expired.")
        }
        for (name, value) in grant.headers where request.headers[name] != value {
            return Self.storageError(
                403, "SignatureDoesNotMatch",
                "Access denied: the request's '\(name)' header does not match the one the URL was signed with."
            )
        }
        let cap = Self.lengthCap(grant.headers["x-goog-content-length-range"]) ?? configuration.maxUploadBytes
        if let declared = request.body.declaredLength, declared > cap {
            return Self.storageError(
                400, "EntityTooLarge",
                "Your proposed upload is larger than the maximum object size specified in your Policy Document.")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: cap)
        } catch HTTPServerError.bodyTooLarge {
            return Self.storageError(
                400, "EntityTooLarge",
                "Your proposed upload is larger than the maximum object size specified in your Policy Document.")
        }
        let bytes = Array(buffer.readableBytesView)
        enum Outcome { case stored(generation: Int), missing, exists }
        let outcome = store.state.withLock { state -> Outcome in
            guard var file = state.files[grant.fileID] else { return .missing }
            guard file.bytes == nil else { return .exists }
            file.bytes = bytes
            state.files[file.id] = file
            return .stored(generation: state.next())
        }
        let generation: Int
        switch outcome {
        case .missing: return Self.storageError(404, "NoSuchKey", "The specified key does not exist.")
        case .exists:
            return Self.storageError(
                412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
        case .stored(let value): generation = value
        }
        return HTTPServerResponse(
            status: 200,
            headers: [
                "ETag": "\"\(LabricFileBytes.crc32c(bytes))\"",
                "x-goog-generation": String(generation),
                "x-goog-hash": "crc32c=\(LabricFileBytes.crc32c(bytes))",
            ]
        )
    }

    func storageGet(_ routed: SandboxRouter.Routed) async throws -> HTTPServerResponse {
        let token = routed["token"]
        let found = store.state.withLock { state -> (bytes: [UInt8], type: String)? in
            if let grant = state.storage[token], grant.purpose == .download, let blob = grant.blob {
                return (blob, grant.contentType)
            }
            guard let file = state.files.values.first(where: { $0.downloadToken == token }), file.confirmed,
                let bytes = file.bytes
            else { return nil }
            return (bytes, file.contentType)
        }
        guard let found else { return Self.storageError(404, "NoSuchKey", "The specified key does not exist.") }
        let bytes = found.bytes
        return HTTPServerResponse(
            status: 200,
            headers: ["Content-Type": found.type, "x-goog-hash": "crc32c=\(LabricFileBytes.crc32c(bytes))"],
            body: .stream(length: bytes.count) { writer in
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + 64 * 1024, bytes.count)
                    try await writer.write(ByteBuffer(bytes: bytes[offset..<end]))
                    offset = end
                }
            }
        )
    }

    /// The upper bound of `x-goog-content-length-range: MIN,MAX`.
    static func lengthCap(_ range: String?) -> Int? {
        guard let range, let comma = range.firstIndex(of: ",") else { return nil }
        return Int(range[range.index(after: comma)...].trimmingCharacters(in: .whitespaces))
    }

    static func storageError(_ status: Int, _ code: String, _ message: String) -> HTTPServerResponse {
        let body =
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>\(code)</Code><Message>\(message)</Message></Error>"
        return HTTPServerResponse(
            status: status, headers: ["Content-Type": "application/xml; charset=UTF-8"], body: .string(body))
    }
}
