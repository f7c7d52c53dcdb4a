/// A UTC calendar date as a day number (days since 1970-01-01; negative before).
///
/// Dates follow the proleptic Gregorian calendar. The conversions use Howard
/// Hinnant's `days_from_civil` / `civil_from_days` algorithms.
public struct Day: Hashable, Comparable, Sendable, CustomStringConvertible, Strideable {
    /// Days since 1970-01-01 (which is day 0).
    public var number: Int32

    /// Creates a day from its number (days since 1970-01-01).
    public init(number: Int32) {
        self.number = number
    }

    /// Creates a day from a calendar date; `nil` for invalid dates (Feb 30, month 13, …)
    /// and for years outside 0001–9999.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            day >= 1, day <= Day.daysInMonth(year: year, month: month)
        else { return nil }
        self.number = Int32(Day.daysFromCivil(year: year, month: month, day: day))
    }

    /// Parses a date written strictly as `YYYY-MM-DD` (nothing before or after it).
    public init?(parsing text: String) {
        var text = text
        let parsed: Day? = text.withUTF8 { buffer in
            guard buffer.count == 10, let (year, month, day) = Day.parseDate(buffer, at: 0) else { return nil }
            return Day(year: year, month: month, day: day)
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// The calendar year.
    public var year: Int { Day.civilFromDays(Int(number)).year }
    /// The month, 1–12.
    public var month: Int { Day.civilFromDays(Int(number)).month }
    /// The day of the month, 1–31.
    public var dayOfMonth: Int { Day.civilFromDays(Int(number)).day }

    /// `"YYYY-MM-DD"` (years outside 0000–9999 are written with more digits or a sign).
    public var description: String {
        let (y, m, d) = Day.civilFromDays(Int(number))
        return Day.formatDate(year: y, month: m, day: d)
    }

    /// The day `days` days later (earlier when negative). Traps if the result leaves `Int32`.
    public func adding(days: Int) -> Day {
        Day(number: Int32(Int(number) + days))
    }

    /// The number of days in `month` (1–12) of `year`; 0 for a month outside 1–12.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return isLeapYear(year) ? 29 : 28
        default: return 0
        }
    }

    /// Whether `year` is a Gregorian leap year.
    public static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    public static func < (lhs: Day, rhs: Day) -> Bool { lhs.number < rhs.number }

    /// The number of days from this day to `other`.
    public func distance(to other: Day) -> Int { Int(other.number) - Int(number) }

    /// The day `n` days later.
    public func advanced(by n: Int) -> Day { adding(days: n) }

    // MARK: Conversions (Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms")

    /// Days since 1970-01-01 for a proleptic Gregorian date (month and day assumed valid).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400  // [0, 399]
        let mp = month > 2 ? month - 3 : month + 9  // March = 0
        let doy = (153 * mp + 2) / 5 + day - 1  // [0, 365]
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy  // [0, 146096]
        return era * 146097 + doe - 719468
    }

    /// The proleptic Gregorian date for a number of days since 1970-01-01.
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097  // [0, 146096]
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365  // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)  // [0, 365]
        let mp = (5 * doy + 2) / 153  // [0, 11]
        let d = doy - (153 * mp + 2) / 5 + 1  // [1, 31]
        let m = mp < 10 ? mp + 3 : mp - 9  // [1, 12]
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d)
    }

    // MARK: Text helpers shared with Timestamp

    /// Reads `n` ASCII digits at `i`, or `nil` if any is not a digit or the buffer is too short.
    static func digits(_ buffer: UnsafeBufferPointer<UInt8>, at i: Int, count n: Int) -> Int? {
        guard i >= 0, i + n <= buffer.count else { return nil }
        var value = 0
        for k in i..<(i + n) {
            let d = buffer[k] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            value = value * 10 + Int(d)
        }
        return value
    }

    /// Reads `YYYY-MM-DD` at `i` (no range checks on the fields).
    static func parseDate(_ buffer: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int, Int)? {
        guard i + 10 <= buffer.count,
            let year = digits(buffer, at: i, count: 4),
            buffer[i + 4] == UInt8(ascii: "-"),
            let month = digits(buffer, at: i + 5, count: 2),
            buffer[i + 7] == UInt8(ascii: "-"),
            let day = digits(buffer, at: i + 8, count: 2)
        else { return nil }
        return (year, month, day)
    }

    static func appendPadded(_ value: Int, width: Int, to out: inout String) {
        var text = String(value < 0 ? -value : value)
        if text.utf8.count < width {
            text = String(repeating: "0", count: width - text.utf8.count) + text
        }
        if value < 0 { out += "-" }
        out += text
    }

    static func formatDate(year: Int, month: Int, day: Int) -> String {
        var out = ""
        out.reserveCapacity(10)
        appendPadded(year, width: 4, to: &out)
        out += "-"
        appendPadded(month, width: 2, to: &out)
        out += "-"
        appendPadded(day, width: 2, to: &out)
        return out
    }
}
