import Foundation
import MicroHTTPServer

/// ML models: list and get, training (which completes after `trainingDuration` of simulated time), cancelling, and
/// predictions from a deterministic stand-in for the trained model.
extension LabricSimulator {
    func listModels(_ call: Call) async throws -> HTTPServerResponse {
        let now = now()
        let models = store.state.withLock { $0.models }.sorted { $0.sequence > $1.sequence }
        return ok(.array(models.map { modelJSON($0, now: now) }))
    }

    func getModel(_ call: Call) async throws -> HTTPServerResponse {
        let id = call["id"]
        guard let model = store.state.withLock({ $0.models.first { $0.id == id } }) else {
            throw LabricAPIError.notFound("ML model not found")
        }
        return ok(modelJSON(model, now: now()))
    }

    func trainModel(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let datasetID = payload.string("dataset_id", required: true)
        let target = payload.string("target_column", required: true)
        let taskType = payload.choice("task_type", ["tabular", "multimodal", "segmentation"])
        let problem = payload.choice("problem_type", ["binary", "multiclass", "regression", "semantic_segmentation"])
        let features = payload.array("feature_columns")?.compactMap(\.stringValue)
        let modelID = payload.string("ml_model_id")
        let name = payload.string("name")
        let description = payload.string("description")
        try payload.validate()
        let now = now()
        let model = try store.state.withLock { state in
            if let modelID {
                guard let index = state.models.firstIndex(where: { $0.id == modelID }) else {
                    throw LabricAPIError.notFound("ML model not found")
                }
                state.models[index].version += 1
                state.models[index].status = "training"
                state.models[index].currentlyActive = false
                state.models[index].trainingStartedAt = now
                state.models[index].trainingCompletedAt = nil
                state.models[index].datasetID = datasetID
                state.models[index].targetColumn = target
                if let features { state.models[index].featureColumns = features }
                return state.models[index]
            }
            guard let name else {
                throw LabricAPIError.badRequest("Pass name to train a new model, or ml_model_id to retrain")
            }
            let model = LabricStore.Model(
                id: LabricIDs.uuid(), name: name, description: description, taskType: taskType ?? "tabular",
                problemType: problem, targetColumn: target, featureColumns: features ?? [], datasetID: datasetID,
                status: "training", version: 1, currentlyActive: false, trainingStartedAt: now, sequence: state.next()
            )
            state.models.append(model)
            return model
        }
        return ok(modelJSON(model, now: now))
    }

    func cancelTraining(_ call: Call) async throws -> HTTPServerResponse {
        let id = call["id"]
        let now = now()
        let duration = configuration.trainingDuration
        let model = try store.state.withLock { state in
            guard let index = state.models.firstIndex(where: { $0.id == id }) else {
                throw LabricAPIError.notFound("ML model not found")
            }
            guard Self.trainingStatus(state.models[index], now: now, duration: duration) == "training" else {
                throw LabricAPIError.badRequest("No training is pending or running for this model")
            }
            state.models[index].status = "cancelled"
            state.models[index].trainingCompletedAt = now
            return state.models[index]
        }
        return ok(modelJSON(model, now: now))
    }

    func predict(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let modelID = payload.string("ml_model_id")
        let modelName = payload.string("ml_model_name")
        let rows = payload.objects("data", required: true)
        try payload.validate()
        let now = now()
        guard
            let model = store.state.withLock({ state in
                state.models.first { $0.id == modelID || (modelID == nil && $0.name == modelName) }
            })
        else { throw LabricAPIError.notFound("ML model not found") }
        guard modelJSON(model, now: now)["currently_active"] == true else {
            throw LabricAPIError.badRequest("The model is not serving predictions: its training has not completed")
        }
        guard model.taskType == "tabular" else {
            throw LabricAPIError.badRequest("The sandbox predicts with tabular models only")
        }
        // A fixed linear stand-in: reproducible, and it moves with every numeric feature.
        let predictions: [JSONValue] = (rows ?? []).map { row in
            let score = model.featureColumns.reduce(10.0) { sum, column in sum + (row[column]?.doubleValue ?? 0) * 0.25
            }
            return .number((min(score, 100) * 100).rounded() / 100)
        }
        return ok([
            "predictions": .array(predictions), "probabilities": .null, "model_id": .string(model.id),
            "model_name": .string(model.name), "annotations": .null,
        ])
    }

    static func trainingStatus(_ model: LabricStore.Model, now: Date, duration: TimeInterval) -> String {
        guard model.status == "training", let started = model.trainingStartedAt else { return model.status }
        return now.timeIntervalSince(started) >= duration ? "completed" : "training"
    }

    func modelJSON(_ model: LabricStore.Model, now: Date) -> JSONValue {
        let status = Self.trainingStatus(model, now: now, duration: configuration.trainingDuration)
        let completedAt =
            model.status == "training" && status == "completed"
            ? model.trainingStartedAt?.addingTimeInterval(configuration.trainingDuration) : model.trainingCompletedAt
        return [
            "id": .string(model.id),
            "name": .string(model.name),
            "description": model.description.labricJSON,
            "task_type": .string(model.taskType),
            "target_column": model.targetColumn.labricJSON,
            "feature_columns": .array(model.featureColumns.map { .string($0) }),
            "image_columns": .array([]),
            "problem_type": model.problemType.labricJSON,
            "currently_active": .bool(model.currentlyActive || (model.status == "training" && status == "completed")),
            "status": .string(status),
            "version_number": .number(Double(model.version)),
            "dataset_id": model.datasetID.labricJSON,
            "quality_preset": "medium_quality",
            "error_message": .null,
            "training_started_at": model.trainingStartedAt.labricJSON,
            "training_completed_at": completedAt.labricJSON,
            "evaluation_metrics": status == "completed" ? (model.metrics ?? ["r2": 0.8]) : .null,
        ]
    }
}
