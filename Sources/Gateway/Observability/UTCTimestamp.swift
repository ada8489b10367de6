#if canImport(Glibc)
    import Glibc
#endif

/// RFC 3339 UTC timestamps with milliseconds ("2026-12-01T23:45:15.123Z") from the system clock, formatted by hand.
/// Foundation's ISO 8601 style builds a Gregorian calendar and an ICU time zone on first use, which maps about
/// 4 MiB of ICU code into every process that logs a line (`bench/RESULTS.md`, idle RSS).
enum UTCTimestamp {
    /// Now.
    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return format(seconds: Int64(time.tv_sec), milliseconds: Int(time.tv_nsec / 1_000_000))
    }

    /// `seconds` since 1970 (UTC) plus `milliseconds` (0...999).
    static func format(seconds: Int64, milliseconds: Int) -> String {
        var clock = time_t(seconds)
        var parts = tm()
        gmtime_r(&clock, &parts)
        var text = ""
        text.reserveCapacity(24)
        append(Int(parts.tm_year) + 1900, digits: 4, to: &text)
        text += "-"
        append(Int(parts.tm_mon) + 1, digits: 2, to: &text)
        text += "-"
        append(Int(parts.tm_mday), digits: 2, to: &text)
        text += "T"
        append(Int(parts.tm_hour), digits: 2, to: &text)
        text += ":"
        append(Int(parts.tm_min), digits: 2, to: &text)
        text += ":"
        append(Int(parts.tm_sec), digits: 2, to: &text)
        text += "."
        append(milliseconds, digits: 3, to: &text)
        text += "Z"
        return text
    }

    private static func append(_ value: Int, digits: Int, to text: inout String) {
        let decimal = String(value)
        if decimal.count < digits { text += String(repeating: "0", count: digits - decimal.count) }
        text += decimal
    }
}
