import Foundation
import MicroHTTPServer

/// Device status history of the seeded instruments. Each instrument's status follows a fixed daily pattern of slots
/// since the Unix epoch, so any range has a deterministic history without anything being stored.
extension LabricSimulator {
    static let maxStatusPeriods = 200

    func deviceStatus(_ call: Call) async throws -> HTTPServerResponse {
        let query = queryItems(call.request)
        var issues: [LabricIssue] = []
        func time(_ name: String) -> Date? {
            guard let text = query[name]?.stringValue, !text.isEmpty else { return nil }
            guard let date = Self.parseTime(text) else {
                issues.append(
                    LabricIssue(
                        type: "datetime_from_date_parsing", loc: ["query", .string(name)],
                        msg: "Input should be a valid datetime or date"))
                return nil
            }
            return date
        }
        let requestedStart = time("start_time")
        let requestedEnd = time("end_time")
        guard issues.isEmpty else { throw LabricAPIError.validation(issues) }
        let id = call["id"]
        guard let instrument = store.state.withLock({ $0.instruments.first { $0.id == id } }) else {
            throw LabricAPIError.notFound("Instrument not found")
        }
        let now = now()
        var notes: [String] = []
        var end = requestedEnd ?? now
        if end > now {
            end = now
            notes.append("end_time was capped at now")
        }
        let start = requestedStart ?? end.addingTimeInterval(-7 * 86_400)
        guard start < end else { throw LabricAPIError.badRequest("start_time must be before end_time") }

        var periods = Self.periods(of: instrument, from: start, to: end)
        if periods.count > Self.maxStatusPeriods {
            notes.append(
                "Only the most recent \(Self.maxStatusPeriods) periods are returned; "
                    + "\(periods.count - Self.maxStatusPeriods) earlier ones were dropped"
            )
            periods = Array(periods.suffix(Self.maxStatusPeriods))
        }
        if instrument.pattern.isEmpty { notes.append("The instrument's device has never reported") }
        let current: JSONValue =
            instrument.pattern.isEmpty
            ? .null
            : {
                let run = Self.periods(
                    of: instrument,
                    from: now.addingTimeInterval(-Double(instrument.pattern.count) * instrument.slotSeconds), to: now
                ).last!
                return ["value": .string(run.status), "since": .string(Timestamp.iso(run.from))]
            }()
        return ok([
            "instrument": ["id": .string(instrument.id), "name": .string(instrument.name)],
            "start_time": .string(Timestamp.iso(start)),
            "end_time": .string(Timestamp.iso(end)),
            "current_status": current,
            "statuses": .array(
                periods.map { period in
                    [
                        "status": .string(period.status),
                        "first_seen": .string(Timestamp.iso(period.from)),
                        "last_seen": .string(Timestamp.iso(period.to)),
                        "app_version": period.status == "offline" ? .null : "3.4.2",
                        "is_watching": period.status == "online" ? true : .null,
                    ]
                }
            ),
            "notes": .array(notes.map { .string($0) }),
        ])
    }

    /// Runs of equal status within [start, end], oldest first.
    static func periods(of instrument: LabricStore.Instrument, from start: Date, to end: Date)
        -> [(status: String, from: Date, to: Date)]
    {
        guard !instrument.pattern.isEmpty else { return [] }
        let slot = instrument.slotSeconds
        let first = Int((start.timeIntervalSince1970 / slot).rounded(.down))
        let last = Int((end.timeIntervalSince1970 / slot).rounded(.up)) - 1
        var runs: [(status: String, from: Date, to: Date)] = []
        for index in first...max(first, last) {
            let status = instrument.pattern[
                ((index % instrument.pattern.count) + instrument.pattern.count) % instrument.pattern.count]
            let from = max(start, Date(timeIntervalSince1970: Double(index) * slot))
            let to = min(end, Date(timeIntervalSince1970: Double(index + 1) * slot))
            if let previous = runs.last, previous.status == status {
                runs[runs.count - 1].to = to
            } else {
                runs.append((status, from, to))
            }
        }
        return runs
    }

    /// ISO 8601 as the SDK sends it: `2025-01-01T00:00:00Z`, with optional fraction and `±HH:MM` offset; a time
    /// without an offset is taken as UTC.
    static func parseTime(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var value = 0
            for char in chars[from..<from + count] {
                guard char >= 48, char <= 57 else { return nil }
                value = value * 10 + Int(char - 48)
            }
            return value
        }
        guard chars.count >= 19, chars[4] == 45, chars[7] == 45, chars[10] == 84 || chars[10] == 32 || chars[10] == 116,
            chars[13] == 58, chars[16] == 58,
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < chars.count, chars[index] == 46 {
            var scale = 0.1
            index += 1
            while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                fraction += Double(chars[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < chars.count {
            if chars[index] == 90 || chars[index] == 122, index + 1 == chars.count {
                offset = 0
            } else if chars[index] == 43 || chars[index] == 45, let hours = number(index + 1, 2) {
                let minutesAt = chars.count > index + 3 && chars[index + 3] == 58 ? index + 4 : index + 3
                guard let minutes = number(minutesAt, 2), minutesAt + 2 == chars.count else { return nil }
                offset = (hours * 3600 + minutes * 60) * (chars[index] == 45 ? -1 : 1)
            } else {
                return nil
            }
        }
        // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }
}
