import Foundation

/// What a fresh sandbox organisation already has: paired instruments with a status history, the member the API
/// keys belong to, and two trained models. Ids are fixed so that examples and tests can name them.
enum LabricSeed {
    static let plateReaderID = "5d0f6a8e-2c4b-4f1a-9b7e-0a1c2d3e4f50"
    static let hplcID = "7a3e9c21-8b4d-4e6f-a1b2-c3d4e5f60718"
    static let balanceID = "9c8b7a65-4d3e-4f21-8a9b-0c1d2e3f4a5b"

    static let instruments: [LabricStore.Instrument] = [
        // Online, with a two-hour gap every day.
        .init(
            id: plateReaderID, name: "Plate reader PR-01", model: "BioTek Synergy H1",
            pattern: Array(repeating: "online", count: 11) + ["offline"]),
        // Mostly online, with an error and an outage each day.
        .init(
            id: hplcID, name: "HPLC-02", model: "Agilent 1260 Infinity II",
            pattern: Array(repeating: "online", count: 8) + ["error", "offline", "offline", "online"]),
        // Paired but its device never reported.
        .init(id: balanceID, name: "Balance B-3", model: "Mettler Toledo XPR205", pattern: []),
    ]

    static let user: JSONValue = [
        "id": "0b7e3c52-6d1f-4a8e-9c2b-5f4e3d2c1b0a", "name": "Sandbox Scientist",
        "email": "scientist@sandbox.labric.invalid",
    ]

    static let yieldModelID = "3f2e1d0c-9b8a-4765-a4b3-c2d1e0f9a8b7"
    static let segmenterID = "6e5d4c3b-2a19-4807-b6a5-d4c3b2a1f0e9"

    static func models(at now: Date) -> [LabricStore.Model] {
        let trained = now.addingTimeInterval(-86_400)
        return [
            .init(
                id: yieldModelID, name: "Yield predictor", description: "Predicts reaction yield from conditions",
                taskType: "tabular", problemType: "regression", targetColumn: "yield_percent",
                featureColumns: ["temperature_c", "duration_min", "catalyst_loading"], datasetID: "ds_reactions",
                status: "completed", version: 3, currentlyActive: true,
                trainingStartedAt: trained.addingTimeInterval(-600),
                trainingCompletedAt: trained, metrics: ["r2": 0.87, "rmse": 4.2], sequence: -2
            ),
            .init(
                id: segmenterID, name: "Colony segmenter", description: "Segments colonies on plate images",
                taskType: "segmentation", problemType: "semantic_segmentation", targetColumn: "mask",
                featureColumns: [],
                datasetID: "ds_plates", status: "completed", version: 1, currentlyActive: true,
                trainingStartedAt: trained.addingTimeInterval(-3600), trainingCompletedAt: trained,
                metrics: ["iou": 0.81], sequence: -1
            ),
        ]
    }
}
