import Foundation

/// One parameter of an instrument action, as `GET .../actions/{name}` shows it, and the rules a command's value must
/// follow. Volumes are compared in microlitres and times in seconds; the JSON says so with `unit`.
struct GenieParameter: Sendable {
    enum Kind: String, Sendable {
        case number, string, volume, time, file, json
    }

    /// A value that passed validation, in the parameter's base unit.
    enum Value: Sendable, Equatable {
        case number(Double)
        case string(String)
        /// Microlitres.
        case volume(Double)
        /// Seconds.
        case time(Double)
        case file(JSONValue)
        case json(JSONValue)
    }

    var id: String
    var name: String
    var type: Kind
    var options: [String]? = nil
    var min: Double? = nil
    var max: Double? = nil

    var json: JSONValue {
        var fields: [String: JSONValue] = ["id": .string(id), "name": .string(name), "type": .string(type.rawValue)]
        if let options { fields["options"] = .array(options.map { .string($0) }) }
        if let min { fields["min"] = .number(min) }
        if let max { fields["max"] = .number(max) }
        if type == .volume { fields["unit"] = "uL" }
        if type == .time { fields["unit"] = "s" }
        return .object(fields)
    }

    /// Checks one value of a command against this parameter.
    /// - Throws: `GenieError.invalidValue` naming this parameter and the broken rule.
    func validate(_ raw: JSONValue) throws(GenieError) -> Value {
        let value: Value
        switch type {
        case .number:
            guard let number = Self.number(raw) else { throw wrongType("a number", raw) }
            try check(number, unit: "")
            value = .number(number)
        case .string:
            guard let text = raw.stringValue else { throw wrongType("a string", raw) }
            if let min, Double(text.count) < min {
                throw invalid("min", "must be at least \(Self.format(min)) characters long")
            }
            if let max, Double(text.count) > max {
                throw invalid("max", "must be at most \(Self.format(max)) characters long")
            }
            value = .string(text)
        case .volume:
            guard let microlitres = GenieQuantity.microlitres(raw) else {
                throw wrongType("a volume such as \"50uL\" or \"1.5 mL\"", raw)
            }
            try check(microlitres, unit: " uL")
            value = .volume(microlitres)
        case .time:
            guard let seconds = GenieQuantity.seconds(raw) else {
                throw wrongType("a time such as \"15s\", \"2m\" or \"1h30m\"", raw)
            }
            try check(seconds, unit: " s")
            value = .time(seconds)
        case .file:
            switch raw {
            case .string(let text) where !text.isEmpty: value = .file(raw)
            case .object, .array: value = .file(raw)
            default: throw wrongType("a file (its content as a string or JSON)", raw)
            }
        case .json:
            // Command values travel as strings, so a json parameter usually holds JSON text.
            if case .string(let text) = raw {
                guard let parsed = JSONValue(parsing: text) else { throw wrongType("JSON", raw) }
                value = .json(parsed)
            } else {
                value = .json(raw)
            }
        }
        if let options, !Self.isOption(raw, value, options) {
            throw invalid("options", "must be one of \(options.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        return value
    }

    private func check(_ number: Double, unit: String) throws(GenieError) {
        if let min, number < min { throw invalid("min", "must be at least \(Self.format(min))\(unit)") }
        if let max, number > max { throw invalid("max", "must be at most \(Self.format(max))\(unit)") }
    }

    private func invalid(_ rule: String, _ sentence: String) -> GenieError {
        .invalidValue(name, rule: rule, "parameter '\(name)' (\(type.rawValue)) \(sentence)")
    }

    private func wrongType(_ expected: String, _ raw: JSONValue) -> GenieError {
        .invalidValue(
            name, rule: "type", "parameter '\(name)' (\(type.rawValue)) must be \(expected), got \(raw.jsonText)")
    }

    /// A number given as JSON or as the text the docs show (`"500"`).
    static func number(_ raw: JSONValue) -> Double? {
        switch raw {
        case .number(let number): return number.isFinite ? number : nil
        case .string(let text):
            guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite else { return nil }
            return number
        default: return nil
        }
    }

    private static func isOption(_ raw: JSONValue, _ value: Value, _ options: [String]) -> Bool {
        if let text = raw.stringValue, options.contains(text) { return true }
        if case .number(let number) = value { return options.contains { Double($0) == number } }
        return false
    }

    /// `500` rather than `500.0`, for messages.
    static func format(_ number: Double) -> String {
        if let int = Int(exactly: number) { return String(int) }
        return String(number)
    }
}
