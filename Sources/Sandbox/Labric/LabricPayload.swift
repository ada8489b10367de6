/// Reads the fields of a JSON body or a query string the way Django Ninja validates them: every problem is collected,
/// then `validate()` throws one 422 listing all of them. Fields the caller left out and explicit `null` both read as
/// nil for optional fields, as the SDK sends either.
struct LabricPayload: Sendable {
    private(set) var fields: [String: JSONValue]
    private let location: [JSONValue]
    private(set) var issues: [LabricIssue] = []

    /// - Parameter location: the prefix of each issue's `loc`, e.g. `["body", "payload"]` or `["query"]`.
    init(_ fields: [String: JSONValue], location: [String] = ["body", "payload"]) {
        self.init(fields, at: location.map { .string($0) })
    }

    /// For an object nested in the body, e.g. at `["body", "payload", "tables", 0]`.
    init(_ fields: [String: JSONValue], at location: [JSONValue]) {
        self.fields = fields
        self.location = location
    }

    /// Takes over the problems found in a nested object.
    mutating func absorb(_ nested: LabricPayload) {
        issues += nested.issues
    }

    mutating func validate() throws(LabricAPIError) {
        if !issues.isEmpty { throw .validation(issues) }
    }

    private mutating func present(_ name: String, required: Bool) -> JSONValue? {
        guard let value = fields[name], value != .null else {
            if required { issues.append(.missing(location + [.string(name)])) }
            return nil
        }
        return value
    }

    private mutating func wrongType(_ name: String, _ type: String, _ message: String) {
        issues.append(LabricIssue(type: type, loc: location + [.string(name)], msg: message))
    }

    mutating func string(_ name: String, required: Bool = false) -> String? {
        guard let value = present(name, required: required) else { return nil }
        guard let text = value.stringValue else {
            wrongType(name, "string_type", "Input should be a valid string")
            return nil
        }
        return text
    }

    mutating func int(_ name: String, required: Bool = false, range: ClosedRange<Int>? = nil) -> Int? {
        guard let value = present(name, required: required) else { return nil }
        // Query values arrive as text; Ninja coerces them.
        guard let number = value.intValue ?? value.stringValue.flatMap({ Int($0) }) else {
            wrongType(name, "int_type", "Input should be a valid integer")
            return nil
        }
        if let range, !range.contains(number) {
            let (type, message) =
                number < range.lowerBound
                ? ("greater_than_equal", "Input should be greater than or equal to \(range.lowerBound)")
                : ("less_than_equal", "Input should be less than or equal to \(range.upperBound)")
            wrongType(name, type, message)
            return nil
        }
        return number
    }

    mutating func double(_ name: String, required: Bool = false) -> Double? {
        guard let value = present(name, required: required) else { return nil }
        guard let number = value.doubleValue else {
            wrongType(name, "float_type", "Input should be a valid number")
            return nil
        }
        return number
    }

    mutating func bool(_ name: String, required: Bool = false) -> Bool? {
        guard let value = present(name, required: required) else { return nil }
        if let flag = value.boolValue { return flag }
        // Query strings carry booleans as text (`archived=true`); pydantic accepts these spellings.
        switch value.stringValue?.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            wrongType(name, "bool_parsing", "Input should be a valid boolean")
            return nil
        }
    }

    /// A string that must be one of `choices` (a pydantic Literal).
    mutating func choice(_ name: String, _ choices: [String], required: Bool = false) -> String? {
        guard let text = string(name, required: required) else { return nil }
        guard choices.contains(text) else {
            let listed = choices.map { "'\($0)'" }
            let words = listed.count > 1 ? listed.dropLast().joined(separator: ", ") + " or " + listed.last! : listed[0]
            wrongType(name, "literal_error", "Input should be \(words)")
            return nil
        }
        return text
    }

    mutating func array(_ name: String, required: Bool = false) -> [JSONValue]? {
        guard let value = present(name, required: required) else { return nil }
        guard let items = value.arrayValue else {
            wrongType(name, "list_type", "Input should be a valid list")
            return nil
        }
        return items
    }

    mutating func object(_ name: String, required: Bool = false) -> [String: JSONValue]? {
        guard let value = present(name, required: required) else { return nil }
        guard let object = value.objectValue else {
            wrongType(name, "dict_type", "Input should be a valid dictionary")
            return nil
        }
        return object
    }

    /// A list whose items must all be objects.
    mutating func objects(_ name: String, required: Bool = false) -> [[String: JSONValue]]? {
        guard let items = array(name, required: required) else { return nil }
        var objects: [[String: JSONValue]] = []
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else {
                issues.append(
                    LabricIssue(
                        type: "dict_type", loc: location + [.string(name), .number(Double(index))],
                        msg: "Input should be a valid dictionary")
                )
                continue
            }
            objects.append(object)
        }
        return objects
    }

    /// Any JSON value, present or not.
    func raw(_ name: String) -> JSONValue? {
        guard let value = fields[name], value != .null else { return nil }
        return value
    }

    /// Whether the caller sent the field at all (PATCH distinguishes "absent" from "set to null").
    func has(_ name: String) -> Bool { fields[name] != nil }
}
