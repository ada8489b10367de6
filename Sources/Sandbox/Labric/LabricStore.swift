import Foundation
import Synchronization

/// Everything the Labric simulator remembers, behind one lock. Handlers parse and validate outside the lock, change
/// state in one `withLock`, and build the response after it is released.
final class LabricStore: Sendable {
    let state: Mutex<State>

    init(instruments: [Instrument], models: [Model]) {
        state = Mutex(State(instruments: instruments, models: models))
    }

    struct State: Sendable {
        var publicBaseURL: String?
        /// Orders records by creation, so that "newest first" holds for records made within one clock tick.
        var sequence = 0
        var files: [String: File] = [:]
        /// Storage object tokens (the last path segment of upload and download URLs).
        var storage: [String: StorageGrant] = [:]
        var jobs: [String: Job] = [:]
        var executions: [String: Execution] = [:]
        var database = LabricDatabase()
        var notifications: [Notification] = []
        var chats: Set<String> = []
        var annotations: [String: [Annotation]] = [:]
        var instruments: [Instrument]
        var models: [Model]

        init(instruments: [Instrument], models: [Model]) {
            self.instruments = instruments
            self.models = models
        }

        mutating func next() -> Int {
            sequence += 1
            return sequence
        }
    }

    struct File: Sendable {
        var id: String
        var name: String
        var contentType: String
        var instrumentID: String?
        var executionID: String?
        var sourceType: String
        var createdAt: Date
        var sequence: Int
        /// nil until the PUT to storage (or the multipart upload) delivered them.
        var bytes: [UInt8]?
        var confirmed = false
        var uploadToken: String?
        var downloadToken: String
    }

    /// What a storage token lets its bearer do, like the method and object a V4 signature is made for.
    struct StorageGrant: Sendable {
        enum Purpose: Sendable { case upload, download }
        var purpose: Purpose
        var fileID: String
        var expiresAt: Date?
        /// For the PUT: the headers the URL was "signed" for, names lowercased.
        var headers: [String: String] = [:]
        /// For masks and other bytes served by storage that are not files.
        var blob: [UInt8]? = nil
        var contentType: String = "application/octet-stream"
    }

    struct Job: Sendable {
        var id: String
        var name: String
        var description: String?
        var code: String
        var archived = false
        var publishStatus = "draft"
        var trigger: JSONValue?
        var parameterDefinitions: JSONValue?
        var sequence: Int
        var createdAt: Date
        var scriptVersion = 1
    }

    struct Execution: Sendable {
        var id: String
        var jobID: String
        var status = "running"
        var startedAt: Date
        var completedAt: Date?
        var timeoutMinutes: Int?
        /// Only executions opened by `POST job-executions` may be closed by the caller.
        var openedByCaller: Bool
        /// Changes a revert cannot undo, reported as its warnings.
        var updatedRows = 0
        var deletedRows = 0
    }

    struct Notification: Sendable {
        var id: String
        var dedupeKey: String
        var title: String
        var sentAt: Date
    }

    struct Annotation: Sendable {
        var id: String
        var label: String
        var maskToken: String
        var width: Int?
        var height: Int?
        var isHumanVetted: Bool
        var executionID: String?
        var user: JSONValue
    }

    struct Instrument: Sendable {
        var id: String
        var name: String
        var model: String
        /// Device status, repeated every `pattern.count` slots of `slotSeconds` since the Unix epoch; empty means the
        /// device never reported.
        var pattern: [String]
        var slotSeconds: Double = 7200
    }

    struct Model: Sendable {
        var id: String
        var name: String
        var description: String?
        var taskType: String
        var problemType: String?
        var targetColumn: String?
        var featureColumns: [String]
        var datasetID: String?
        var status: String
        var version: Int
        var currentlyActive: Bool
        var trainingStartedAt: Date?
        var trainingCompletedAt: Date?
        var metrics: JSONValue?
        var sequence: Int
    }
}
