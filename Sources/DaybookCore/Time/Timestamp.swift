/// An instant: seconds since the Unix epoch (UTC) plus nanoseconds, plus whether the
/// written fraction had nonzero digits beyond the 9th (so comparisons stay exact for
/// long fractions).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Floor seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// Nanoseconds within the second, `0..<1_000_000_000`.
    public var nanoseconds: Int32
    /// True when digits past the 9th fractional digit were not all zero: the instant is
    /// slightly later than `seconds + nanoseconds`.
    public var beyondNanos: Bool

    /// Creates an instant. `nanoseconds` must be in `0..<1_000_000_000`.
    public init(seconds: Int64, nanoseconds: Int32 = 0, beyondNanos: Bool = false) {
        precondition((0..<1_000_000_000).contains(nanoseconds), "nanoseconds out of range")
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.beyondNanos = beyondNanos
    }

    /// Midnight UTC at the start of `day`.
    public init(day: Day) {
        self.init(seconds: Int64(day.number) * 86_400)
    }

    /// Parses a strict RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    ///
    /// `T` and `Z` may be in either case; seconds are 00–59 (a leap second 60 is
    /// rejected); the fraction has one or more digits, any number of them; offset hours
    /// are 00–23 and minutes 00–59. The result is converted to UTC. Years are 0001–9999.
    public init(parsing text: String) throws(TimestampError) {
        var text = text
        let result = text.withUTF8 { Timestamp.parse($0) }
        self = try result.get()
    }

    /// The UTC calendar date.
    public var day: Day {
        Day(number: Int32(Timestamp.floorDiv(seconds, 86_400)))
    }

    /// The instant `seconds` seconds later (earlier when negative); the fraction is kept.
    public func adding(seconds delta: Int64) -> Timestamp {
        Timestamp(seconds: seconds + delta, nanoseconds: nanoseconds, beyondNanos: beyondNanos)
    }

    /// Canonical UTC text: `"YYYY-MM-DDTHH:MM:SS.fffZ"` with the fraction trimmed of
    /// trailing zeros and omitted when zero (e.g. `"2026-10-03T14:05:09.12Z"`,
    /// `"2026-10-03T14:05:09Z"`). At most 9 fractional digits: `beyondNanos` is not shown.
    public var description: String {
        let days = Timestamp.floorDiv(seconds, 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let (y, m, d) = Day.civilFromDays(Int(days))
        var out = Day.formatDate(year: y, month: m, day: d)
        out += "T"
        Day.appendPadded(secondOfDay / 3600, width: 2, to: &out)
        out += ":"
        Day.appendPadded(secondOfDay / 60 % 60, width: 2, to: &out)
        out += ":"
        Day.appendPadded(secondOfDay % 60, width: 2, to: &out)
        if nanoseconds != 0 {
            var fraction = Int(nanoseconds)
            var width = 9
            while fraction % 10 == 0 {
                fraction /= 10
                width -= 1
            }
            out += "."
            Day.appendPadded(fraction, width: width, to: &out)
        }
        out += "Z"
        return out
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        if lhs.seconds != rhs.seconds { return lhs.seconds < rhs.seconds }
        if lhs.nanoseconds != rhs.nanoseconds { return lhs.nanoseconds < rhs.nanoseconds }
        return !lhs.beyondNanos && rhs.beyondNanos
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    // MARK: Parsing

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Result<Timestamp, TimestampError> {
        func fail(_ message: String) -> Result<Timestamp, TimestampError> {
            .failure(TimestampError(message: message))
        }
        func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

        // Date.
        guard let (year, month, dayOfMonth) = Day.parseDate(b, at: 0) else {
            return fail("expected a date in YYYY-MM-DD form")
        }
        guard let date = Day(year: year, month: month, day: dayOfMonth) else {
            let written = String(decoding: UnsafeBufferPointer(rebasing: b[0..<10]), as: UTF8.self)
            return fail("invalid day \(written)")
        }

        // Separator.
        guard b.count > 10 else { return fail("missing time: expected 'T' after the date") }
        switch b[10] {
        case UInt8(ascii: "T"), UInt8(ascii: "t"):
            break
        case UInt8(ascii: " "):
            return fail("expected 'T' between date and time, found a space")
        default:
            return fail("expected 'T' between date and time")
        }

        // Time.
        guard let hour = Day.digits(b, at: 11, count: 2), b.count > 13, b[13] == UInt8(ascii: ":"),
            let minute = Day.digits(b, at: 14, count: 2), b.count > 16, b[16] == UInt8(ascii: ":"),
            let second = Day.digits(b, at: 17, count: 2)
        else { return fail("expected a time in HH:MM:SS form") }
        guard hour <= 23 else { return fail("hour \(twoDigits(hour)) is out of range (00-23)") }
        guard minute <= 59 else { return fail("minute \(twoDigits(minute)) is out of range (00-59)") }
        if second == 60 { return fail("second 60 is not accepted (no leap seconds)") }
        guard second <= 59 else { return fail("second \(twoDigits(second)) is out of range (00-59)") }

        // Fraction.
        var i = 19
        var nanos = 0
        var beyond = false
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < b.count {
                let d = b[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                if count < 9 {
                    nanos = nanos * 10 + Int(d)
                } else if d != 0 {
                    beyond = true
                }
                count += 1
                i += 1
            }
            guard count > 0 else { return fail("expected digits after '.' in the fraction of a second") }
            for _ in min(count, 9)..<9 { nanos *= 10 }
        }

        // Offset.
        guard i < b.count else { return fail("missing time zone offset (expected 'Z' or ±HH:MM)") }
        var offsetSeconds = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = b[i] == UInt8(ascii: "+") ? 1 : -1
            guard let oh = Day.digits(b, at: i + 1, count: 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"),
                let om = Day.digits(b, at: i + 4, count: 2)
            else { return fail("expected a time zone offset in ±HH:MM form") }
            guard oh <= 23 else { return fail("offset hour \(twoDigits(oh)) is out of range (00-23)") }
            guard om <= 59 else { return fail("offset minute \(twoDigits(om)) is out of range (00-59)") }
            offsetSeconds = sign * (oh * 3600 + om * 60)
            i += 6
        default:
            return fail("expected 'Z' or a ±HH:MM time zone offset after the time")
        }
        guard i == b.count else { return fail("trailing characters after timestamp") }

        let local = Int64(date.number) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return .success(
            Timestamp(
                seconds: local - Int64(offsetSeconds),
                nanoseconds: Int32(nanos),
                beyondNanos: beyond
            ))
    }
}

/// Why a timestamp could not be parsed.
public struct TimestampError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. `"second 60 is not accepted (no leap seconds)"`.
    public var message: String

    /// Creates an error.
    public init(message: String) {
        self.message = message
    }

    /// `"invalid timestamp: <message>"`.
    public var description: String { "invalid timestamp: \(message)" }
}
