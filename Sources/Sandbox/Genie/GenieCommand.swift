import Foundation

/// The execution state of a scheduled action. Its outcome is planned at creation; `settle(at:)` reveals it once the
/// clock passes `endsAt`, so progress needs no background task and a manual clock drives it in tests.
struct GenieCommand: Sendable {
    enum Status: String, Sendable {
        case running, success, failure
    }

    var id: String
    var instrumentId: String
    var createdBy: String
    var createdAt: Date
    var updatedAt: Date
    /// The action's name (`payload` in the vendor's command object).
    var action: String
    /// `[{"parameterId", "value"}]` exactly as posted.
    var values: [JSONValue]
    var status: Status = .running
    var endsAt: Date
    var planned: GenieRun.Outcome
    var output: String?
    var message: String?
    var error: String?
    var results: JSONValue?

    init(
        instrumentId: String,
        action: String,
        values: [JSONValue],
        run: GenieRun,
        createdBy: String,
        now: Date,
        timeScale: Double
    ) {
        self.id = Self.objectID(at: now)
        self.instrumentId = instrumentId
        self.createdBy = createdBy
        self.createdAt = now
        self.updatedAt = now
        self.action = action
        self.values = values
        self.endsAt = now.addingTimeInterval(max(0, run.duration) / timeScale)
        self.planned = run.outcome
    }

    var isRunning: Bool { status == .running }

    /// Ends the command with its planned outcome once its simulated time is up.
    mutating func settle(at now: Date) {
        guard isRunning, now >= endsAt else { return }
        switch planned {
        case .success(let message, let output, let results):
            status = .success
            (self.message, self.output, self.results) = (message, output, results)
        case .failure(let error, let output):
            status = .failure
            (self.error, self.output) = (error, output)
        }
        updatedAt = endsAt
    }

    /// Aborts a running command: it ends in `failure`. A finished command is left as it is.
    mutating func kill(at now: Date, reason: String) {
        settle(at: now)
        guard isRunning else { return }
        status = .failure
        error = reason
        output = "\(action) aborted\n"
        updatedAt = now
    }

    var json: JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(id),
            "objectId": .string(instrumentId),
            "createdBy": .string(createdBy),
            "createdAt": .string(Timestamp.iso(createdAt)),
            "updatedAt": .string(Timestamp.iso(updatedAt)),
            "payload": .string(action),
            "values": .array(values),
            "status": .string(status.rawValue),
        ]
        if let output { fields["output"] = .string(output) }
        if let message { fields["message"] = .string(message) }
        if let error { fields["error"] = .string(error) }
        if let results { fields["results"] = results }
        return .object(fields)
    }

    /// A MongoDB-style id, as Genie's look: 8 hex digits of creation time, then 16 random ones.
    static func objectID(at date: Date) -> String {
        let seconds = UInt32(clamping: Int64(date.timeIntervalSince1970))
        let random = UInt64.random(in: .min ... .max)
        return hex(UInt64(seconds), width: 8) + hex(random, width: 16)
    }

    private static func hex(_ value: UInt64, width: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
