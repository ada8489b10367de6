import Foundation

/// Reads the quantities that Genie command values carry as text: times such as `"15s"`, `"2 min"`, `"1h30m"`,
/// `"00:01:30"`, and volumes such as `"50uL"`, `"1.5 mL"`. A bare number is seconds or microlitres.
enum GenieQuantity {
    static func seconds(_ raw: JSONValue) -> Double? {
        if case .number(let number) = raw { return number.isFinite ? number : nil }
        guard let text = raw.stringValue?.trimmingCharacters(in: .whitespaces).lowercased(), !text.isEmpty else {
            return nil
        }
        if let number = Double(text) { return number.isFinite ? number : nil }
        if text.contains(":") { return clock(text) }
        guard let parts = pairs(text), !parts.isEmpty else { return nil }
        var total = 0.0
        for (number, unit) in parts {
            guard let scale = timeUnits[unit] else { return nil }
            total += number * scale
        }
        return total / 1000
    }

    static func microlitres(_ raw: JSONValue) -> Double? {
        if case .number(let number) = raw { return number.isFinite ? number : nil }
        guard let text = raw.stringValue?.trimmingCharacters(in: .whitespaces).lowercased(), !text.isEmpty else {
            return nil
        }
        if let number = Double(text) { return number.isFinite ? number : nil }
        guard let parts = pairs(text), parts.count == 1, let scale = volumeUnits[parts[0].unit] else { return nil }
        return parts[0].number * scale / 1000
    }

    /// Milliseconds per unit: whole numbers, so that "500ms" is exactly 0.5 s after the one division.
    private static let timeUnits: [String: Double] = [
        "ms": 1, "s": 1e3, "sec": 1e3, "secs": 1e3, "second": 1e3, "seconds": 1e3,
        "m": 6e4, "min": 6e4, "mins": 6e4, "minute": 6e4, "minutes": 6e4,
        "h": 3.6e6, "hr": 3.6e6, "hrs": 3.6e6, "hour": 3.6e6, "hours": 3.6e6,
    ]

    /// Nanolitres per unit. Both micro signs (U+00B5 and U+03BC) appear in lab software exports.
    private static let volumeUnits: [String: Double] = [
        "nl": 1, "ul": 1e3, "\u{00B5}l": 1e3, "\u{03BC}l": 1e3, "ml": 1e6, "l": 1e9,
    ]

    /// `hh:mm:ss` or `mm:ss`.
    private static func clock(_ text: String) -> Double? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
        guard (2...3).contains(fields.count), fields.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        return fields.reduce(0.0) { $0 * 60 + $1! }
    }

    /// Splits `"1h 30m"` into `[(1, "h"), (30, "m")]`; nil when the text is not number-unit pairs.
    private static func pairs(_ text: String) -> [(number: Double, unit: String)]? {
        var result: [(number: Double, unit: String)] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            let numberText = rest.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }
            guard let number = Double(numberText), number.isFinite else { return nil }
            rest = rest.dropFirst(numberText.count).drop { $0 == " " }
            let unit = rest.prefix { $0.isLetter }
            guard !unit.isEmpty else { return nil }
            rest = rest.dropFirst(unit.count).drop { $0 == " " }
            result.append((number, String(unit)))
        }
        return result
    }
}
