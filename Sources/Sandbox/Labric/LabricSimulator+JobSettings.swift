import Foundation

/// The parts of a job beyond its script: its trigger and its parameter definitions.
extension LabricSimulator {
    struct TriggerChange: Sendable {
        var enabled: Bool?
        var category: String?
        var instrumentID: String?
        var conditions: [String: JSONValue]?

        var isEmpty: Bool { enabled == nil && category == nil && instrumentID == nil && conditions == nil }
    }

    func readTrigger(_ payload: inout LabricPayload) -> TriggerChange {
        TriggerChange(
            enabled: payload.bool("trigger_enabled"),
            category: payload.choice("trigger_category", Self.triggerCategories),
            instrumentID: payload.string("trigger_instrument_id"),
            conditions: payload.object("trigger_conditions")
        )
    }

    /// The job's trigger after a change: off when disabled, otherwise the current one with the given fields replaced.
    static func trigger(_ change: TriggerChange, current: JSONValue?, in state: LabricStore.State) throws -> JSONValue?
    {
        if change.enabled == false { return nil }
        if change.isEmpty || (change.enabled == nil && current == nil) { return current }
        guard let category = change.category ?? current?["category"]?.stringValue else {
            throw LabricAPIError.badRequest("trigger_category is required to enable a trigger")
        }
        let instrumentID = change.instrumentID ?? current?["instrument_id"]?.stringValue
        var instrumentName: String?
        if let instrumentID {
            guard let instrument = state.instruments.first(where: { $0.id == instrumentID }) else {
                throw LabricAPIError.badRequest("trigger_instrument_id does not name an instrument of the organization")
            }
            instrumentName = instrument.name
        }
        return [
            "id": .string(current?["id"]?.stringValue ?? LabricIDs.uuid()),
            "category": .string(category),
            "instrument_id": instrumentID.labricJSON,
            "instrument_name": instrumentName.labricJSON,
            "conditions": change.conditions.map { .object($0) } ?? current?["conditions"] ?? .null,
        ]
    }

    /// Checks parameter definitions (ParameterDefinitionSchema) and keeps them as given; nil when none were sent.
    static func parameterDefinitions(_ definitions: [[String: JSONValue]]?) throws -> JSONValue? {
        guard let definitions else { return nil }
        var issues: [LabricIssue] = []
        for (index, definition) in definitions.enumerated() {
            var nested = LabricPayload(
                definition, at: ["body", "payload", "parameter_definitions", .number(Double(index))])
            _ = nested.choice("widget_type", ["combobox", "date", "slider", "text", "region"], required: true)
            _ = nested.string("parameter_name", required: true)
            _ = nested.string("label")
            _ = nested.double("min")
            _ = nested.double("max")
            _ = nested.double("step")
            _ = nested.bool("required")
            issues += nested.issues
        }
        guard issues.isEmpty else { throw LabricAPIError.validation(issues) }
        return .array(definitions.map { .object($0) })
    }
}
