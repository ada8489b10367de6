import Foundation
import MicroHTTPServer

/// Files: the signed-URL upload (create URL, PUT to storage, confirm), the one-request multipart upload, listing and
/// content. A file is visible in listings and content only once confirmed.
extension LabricSimulator {
    func createUploadURL(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let name = payload.string("file_name", required: true)
        let contentType = payload.string("content_type") ?? "application/octet-stream"
        let executionID = payload.string("job_execution_id")
        let instrumentID = payload.string("instrument_id")
        try payload.validate()
        guard let name else { throw LabricAPIError.badRequest("file_name is required") }
        guard !name.isEmpty else { throw LabricAPIError.badRequest("file_name must not be empty") }
        try Self.requireAttribution(executionID, instrumentID)

        let now = now()
        let expires = now.addingTimeInterval(configuration.uploadURLLifetime)
        // The headers a V4 signature would cover: type, create-only, size cap.
        let headers: [String: String] = [
            "Content-Type": contentType,
            "x-goog-if-generation-match": "0",
            "x-goog-content-length-range": "0,\(configuration.maxUploadBytes)",
        ]
        let token = LabricIDs.hex(24)
        let fileID = try store.state.withLock { state in
            try Self.checkAttribution(executionID, instrumentID, in: state)
            var file: LabricStore.File
            if let instrumentID,
                let existing = state.files.values.first(where: { $0.instrumentID == instrumentID && $0.name == name })
            {
                // Asking again for an unconfirmed instrument path gives a fresh URL for the same file.
                guard !existing.confirmed else {
                    throw LabricAPIError.conflict("A file named '\(name)' already exists for this instrument")
                }
                file = existing
                if let old = file.uploadToken { state.storage[old] = nil }
            } else {
                file = LabricStore.File(
                    id: LabricIDs.uuid(), name: name, contentType: contentType, instrumentID: instrumentID,
                    executionID: executionID, sourceType: instrumentID == nil ? "manual_upload" : "instrument_upload",
                    createdAt: now, sequence: state.next(), downloadToken: LabricIDs.hex(24)
                )
            }
            file.contentType = contentType
            file.uploadToken = token
            state.files[file.id] = file
            state.storage[token] = LabricStore.StorageGrant(
                purpose: .upload, fileID: file.id, expiresAt: expires,
                headers: Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
            )
            return file.id
        }
        return ok([
            "file_id": .string(fileID),
            "upload_url": .string(baseURL(call.request) + "/_storage/" + token),
            "headers": .object(headers.mapValues { .string($0) }),
            "expires_at": .string(Timestamp.iso(expires)),
        ])
    }

    func confirmUpload(_ call: Call) async throws -> HTTPServerResponse {
        let id = call["id"]
        let limit = configuration.maxUploadBytes
        let file = try store.state.withLock { state in
            guard var file = state.files[id] else { throw LabricAPIError.notFound("File not found") }
            // Confirming again returns the same record, and notifies no one twice.
            if file.confirmed { return file }
            guard let bytes = file.bytes else {
                throw LabricAPIError.badRequest("The file's bytes have not been uploaded: PUT them to upload_url first")
            }
            if bytes.count > limit || LabricFileBytes.isNativeExecutable(bytes) {
                Self.discard(file, from: &state)
                throw LabricAPIError.badRequest(
                    bytes.count > limit
                        ? "Files over \(limit / (1024 * 1024)) MB are not accepted"
                        : "Native executables are not accepted"
                )
            }
            file.confirmed = true
            file.sequence = state.next()
            state.files[id] = file
            return file
        }
        return ok(Self.uploadJSON(file))
    }

    func listFiles(_ call: Call) async throws -> HTTPServerResponse {
        var query = LabricPayload(queryItems(call.request), location: ["query"])
        let instrumentID = query.string("instrument_id")
        let extensions = query.string("extensions")
        let text = query.string("query")
        let limit = query.int("limit", range: 1...10_000)
        try query.validate()
        let wanted = Set(
            (extensions ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "."))
                    .lowercased()
            }.filter { !$0.isEmpty }
        )
        let terms = (text ?? "").lowercased().split(separator: " ").map(String.init)
        var files = store.state.withLock { Array($0.files.values) }.filter { file in
            guard file.confirmed else { return false }
            if let instrumentID, file.instrumentID != instrumentID { return false }
            if !wanted.isEmpty, !wanted.contains(Self.fileExtension(file.name)) { return false }
            let path = file.name.lowercased()
            return terms.allSatisfy { path.contains($0) }
        }
        files.sort { $0.sequence > $1.sequence }
        if let limit { files = Array(files.prefix(limit)) }
        return ok(.array(files.map(Self.infoJSON)))
    }

    func fileContent(_ call: Call) async throws -> HTTPServerResponse {
        let id = call["id"]
        guard let file = store.state.withLock({ $0.files[id] }), file.confirmed, let bytes = file.bytes else {
            throw LabricAPIError.notFound("File not found")
        }
        let preview = LabricFileBytes.preview(bytes)
        return ok([
            "file_id": .string(file.id),
            "file_name": .string(file.name),
            "size_kilobytes": .number(Double(LabricFileBytes.kilobytes(bytes.count))),
            "download_url": .string(baseURL(call.request) + "/_storage/" + file.downloadToken),
            "text_preview": .string(preview.text),
            "preview_truncated": .bool(preview.truncated),
            "preview_skipped_reason": .null,
        ])
    }

    /// `POST api/v1/files`: the whole file in one multipart/form-data request, visible at once.
    func uploadMultipart(_ call: Call) async throws -> HTTPServerResponse {
        let body = try await bodyBytes(call.request)
        guard let form = LabricMultipart(contentType: call.request.headers["Content-Type"], body: body) else {
            throw LabricAPIError.badRequest("Expected a multipart/form-data body")
        }
        guard let part = form.parts.first(where: { $0.name == "file" }) else {
            throw LabricAPIError.validation([.missing(["body", "file"])])
        }
        let executionID = form.value("job_execution_id")
        let instrumentID = form.value("instrument_id")
        try Self.requireAttribution(executionID, instrumentID)
        let name = part.fileName ?? "upload"
        guard !LabricFileBytes.isNativeExecutable(part.bytes) else {
            throw LabricAPIError.badRequest("Native executables are not accepted")
        }
        let now = now()
        let file = try store.state.withLock { state in
            try Self.checkAttribution(executionID, instrumentID, in: state)
            if let instrumentID,
                state.files.values.contains(where: {
                    $0.instrumentID == instrumentID && $0.name == name && $0.confirmed
                })
            {
                throw LabricAPIError.conflict("A file named '\(name)' already exists for this instrument")
            }
            let file = LabricStore.File(
                id: LabricIDs.uuid(), name: name, contentType: part.contentType ?? "application/octet-stream",
                instrumentID: instrumentID, executionID: executionID,
                sourceType: instrumentID == nil ? "manual_upload" : "instrument_upload", createdAt: now,
                sequence: state.next(), bytes: part.bytes, confirmed: true, downloadToken: LabricIDs.hex(24)
            )
            state.files[file.id] = file
            return file
        }
        return ok(Self.uploadJSON(file))
    }

    // MARK: Shapes and checks

    static func uploadJSON(_ file: LabricStore.File) -> JSONValue {
        [
            "file_id": .string(file.id),
            "file_name": .string(file.name),
            "size_kilobytes": file.bytes.map { .number(Double(LabricFileBytes.kilobytes($0.count))) } ?? .null,
        ]
    }

    static func infoJSON(_ file: LabricStore.File) -> JSONValue {
        [
            "file_id": .string(file.id),
            "original_path": .string(file.name),
            "source_type": .string(file.sourceType),
            "source_instrument_id": file.instrumentID.labricJSON,
            "size_kilobytes": file.bytes.map { .number(Double(LabricFileBytes.kilobytes($0.count))) } ?? .null,
            "crc32c_hash": file.bytes.map { .string(LabricFileBytes.crc32c($0)) } ?? .null,
            "file_created_at": .string(Timestamp.iso(file.createdAt)),
        ]
    }

    static func fileExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), !name[name.index(after: dot)...].contains("/") else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }

    /// Outside a job script an upload must say whose it is.
    static func requireAttribution(_ executionID: String?, _ instrumentID: String?) throws(LabricAPIError) {
        guard executionID != nil || instrumentID != nil else {
            throw .badRequest("At least one of job_execution_id and instrument_id is required")
        }
    }

    static func checkAttribution(_ executionID: String?, _ instrumentID: String?, in state: LabricStore.State)
        throws(LabricAPIError)
    {
        if let executionID, state.executions[executionID] == nil { throw .notFound("Job execution not found") }
        if let instrumentID, !state.instruments.contains(where: { $0.id == instrumentID }) {
            throw .notFound("Instrument not found")
        }
    }

    static func discard(_ file: LabricStore.File, from state: inout LabricStore.State) {
        state.files[file.id] = nil
        if let token = file.uploadToken { state.storage[token] = nil }
        state.storage[file.downloadToken] = nil
    }
}
