import Foundation

/// An action an instrument offers, and what running it does in simulated time.
struct GenieAction: Sendable {
    var name: String
    var parameters: [GenieParameter]
    /// The simulated run, decided when the command is created so that polling only reveals it.
    var run: @Sendable (GenieArguments) -> GenieRun

    var json: JSONValue {
        ["action": .string(name), "parameters": .array(parameters.map(\.json))]
    }

    /// Checks a command's `values` (`[{"parameterId": id-or-name, "value": v}]`) against the parameters. Every
    /// parameter is required, as the vendor's example passes all of them.
    /// - Throws: `GenieError` 400 naming the parameter and the rule.
    func validate(_ values: JSONValue?) throws(GenieError) -> GenieArguments {
        let entries: [JSONValue]
        switch values {
        case nil, .null?: entries = []
        case .array(let items)?: entries = items
        default: throw .badRequest("'values' must be a list of {\"parameterId\", \"value\"} objects")
        }
        var arguments = GenieArguments()
        for entry in entries {
            guard let reference = entry["parameterId"]?.stringValue, let raw = entry["value"] else {
                throw .badRequest("each entry of 'values' needs a string 'parameterId' and a 'value'")
            }
            guard let parameter = parameter(named: reference) else {
                let known = parameters.map { "'\($0.name)'" }.joined(separator: ", ")
                throw .invalidValue(
                    reference,
                    rule: "unknown",
                    "action '\(name)' has no parameter '\(reference)' (parameters: \(known.isEmpty ? "none" : known))"
                )
            }
            guard arguments.values[parameter.name] == nil else {
                throw .invalidValue(parameter.name, rule: "duplicate", "parameter '\(parameter.name)' is given twice")
            }
            arguments.values[parameter.name] = try parameter.validate(raw)
        }
        for parameter in parameters where arguments.values[parameter.name] == nil {
            throw .invalidValue(parameter.name, rule: "required", "parameter '\(parameter.name)' is required")
        }
        return arguments
    }

    /// Parameters are referenced by id or by name (names compared without case).
    func parameter(named reference: String) -> GenieParameter? {
        parameters.first { $0.id == reference }
            ?? parameters.first { $0.name.caseInsensitiveCompare(reference) == .orderedSame }
    }
}

/// The validated values of a command, by parameter name, in base units.
struct GenieArguments: Sendable {
    var values: [String: GenieParameter.Value] = [:]

    func number(_ name: String) -> Double {
        if case .number(let number)? = values[name] { return number }
        return 0
    }

    func string(_ name: String) -> String {
        if case .string(let text)? = values[name] { return text }
        return ""
    }

    func seconds(_ name: String) -> Double {
        if case .time(let seconds)? = values[name] { return seconds }
        return 0
    }

    func microlitres(_ name: String) -> Double {
        if case .volume(let microlitres)? = values[name] { return microlitres }
        return 0
    }

    /// A file or json parameter's content; a file given as text is parsed as JSON when it is JSON.
    func json(_ name: String) -> JSONValue? {
        switch values[name] {
        case .json(let value)?: return value
        case .file(.string(let text))?: return JSONValue(parsing: text) ?? .string(text)
        case .file(let value)?: return value
        default: return nil
        }
    }
}

/// How a command ends and after how long.
struct GenieRun: Sendable {
    enum Outcome: Sendable, Equatable {
        case success(message: String, output: String, results: JSONValue)
        case failure(error: String, output: String)
    }

    /// Simulated seconds; the simulator's time scale turns them into clock time.
    var duration: Double
    var outcome: Outcome

    static func success(after duration: Double, _ message: String, output: String, results: JSONValue) -> GenieRun {
        GenieRun(duration: duration, outcome: .success(message: message, output: output, results: results))
    }

    static func failure(after duration: Double, _ error: String, output: String) -> GenieRun {
        GenieRun(duration: duration, outcome: .failure(error: error, output: output))
    }
}
