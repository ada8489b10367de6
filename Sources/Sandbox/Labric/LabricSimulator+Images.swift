import Foundation
import MicroHTTPServer

/// Mask annotations on image files. Masks are kept in the simulator's storage and listed with a `mask_url` there.
extension LabricSimulator {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif"]

    func listAnnotations(_ call: Call) async throws -> HTTPServerResponse {
        let id = call["id"]
        let base = baseURL(call.request)
        let annotations = try store.state.withLock { state in
            try Self.requireImage(id, in: state)
            return state.annotations[id] ?? []
        }
        return ok(.array(annotations.map { Self.annotationJSON($0, base: base) }))
    }

    func annotate(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let items = payload.objects("annotations", required: true) ?? []
        let executionID = payload.string("job_execution_id")
        let fileID = call["id"]
        struct Mask { var label: String; var bytes: [UInt8]; var width: Int?; var height: Int?; var vetted: Bool }
        var masks: [Mask] = []
        for (index, item) in items.enumerated() {
            var nested = LabricPayload(item, at: ["body", "payload", "annotations", .number(Double(index))])
            let mask = nested.string("mask", required: true)
            let label = nested.string("label", required: true)
            let width = nested.int("width")
            let height = nested.int("height")
            let vetted = nested.bool("is_human_vetted") ?? false
            let target = nested.string("file_id")
            payload.absorb(nested)
            guard let mask, let label else { continue }
            if let target, target != fileID {
                throw LabricAPIError.badRequest("annotations[\(index)] was predicted for another file (\(target))")
            }
            guard let data = Data(base64Encoded: mask), let size = LabricFileBytes.pngSize(Array(data)) else {
                throw LabricAPIError.badRequest("annotations[\(index)].mask is not a base64-encoded PNG")
            }
            masks.append(
                Mask(
                    label: label, bytes: Array(data), width: width ?? size.width, height: height ?? size.height,
                    vetted: vetted))
        }
        try payload.validate()
        let base = baseURL(call.request)
        let user: JSONValue = [
            "id": LabricSeed.user["id"] ?? .null, "name": .string(call.key.name), "image_url": .null,
        ]
        let saved = try store.state.withLock { state in
            try Self.requireImage(fileID, in: state)
            if let executionID, state.executions[executionID] == nil {
                throw LabricAPIError.notFound("Job execution not found")
            }
            let saved = masks.map { mask in
                let token = LabricIDs.hex(24)
                state.storage[token] = LabricStore.StorageGrant(
                    purpose: .download, fileID: fileID, blob: mask.bytes, contentType: "image/png")
                return LabricStore.Annotation(
                    id: LabricIDs.uuid(), label: mask.label, maskToken: token, width: mask.width, height: mask.height,
                    isHumanVetted: mask.vetted, executionID: executionID, user: user
                )
            }
            state.annotations[fileID, default: []] += saved
            return saved
        }
        return ok(.array(saved.map { Self.annotationJSON($0, base: base) }))
    }

    static func requireImage(_ id: String, in state: LabricStore.State) throws {
        guard let file = state.files[id], file.confirmed else { throw LabricAPIError.notFound("File not found") }
        guard file.contentType.hasPrefix("image/") || imageExtensions.contains(fileExtension(file.name)) else {
            throw LabricAPIError.badRequest("The file is not a processed image")
        }
    }

    static func annotationJSON(_ annotation: LabricStore.Annotation, base: String) -> JSONValue {
        [
            "id": .string(annotation.id),
            "label": .string(annotation.label),
            "mask_url": .string(base + "/_storage/" + annotation.maskToken),
            "width": annotation.width.labricJSON,
            "height": annotation.height.labricJSON,
            "is_human_vetted": .bool(annotation.isHumanVetted),
            "foreground_fraction": .null,
            "bbox": .null,
            "user": annotation.user,
        ]
    }
}
