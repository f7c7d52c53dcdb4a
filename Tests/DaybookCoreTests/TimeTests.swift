import DaybookCore
import Testing

// Reference day numbers worked out by hand:
// 1970-01-01 → 0. 2026-01-01: 56 years since 1970, 14 of them leap (1972…2024) → 56*365+14 = 20454.
// 2000-01-01: 30 years, 7 leap (1972…1996) → 10957; 2000-03-01 = 10957 + 31 + 29 = 11017.
// 0001-01-01: 1969 years before 1970, with 1969/4 - 1969/100 + 1969/400 = 492-19+4 = 477 leap → -(1969*365+477) = -719162.
// 9999-12-31: 0001-01-01 … 9999-12-31 is 9999*365 + (2499-99+24) = 3652059 days → -719162 + 3652058 = 2932896.
private let jan1st2026 = 20454

private func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
private func fourDigits(_ n: Int) -> String { String(repeating: "0", count: 4 - String(n).count) + String(n) }

// MARK: - Day

@Test(arguments: [
    (1970, 1, 1, 0),
    (1969, 12, 31, -1),
    (2000, 1, 1, 10957),
    (2000, 3, 1, 11017),
    (2026, 1, 1, 20454),
    (2026, 1, 5, 20458),
    (2026, 10, 3, 20454 + 273 + 2),
    (2028, 2, 29, 20454 + 365 + 365 + 31 + 28),
    (1, 1, 1, -719162),
    (9999, 12, 31, 2932896),
])
func dayNumbers(year: Int, month: Int, day: Int, number: Int) throws {
    let d = try #require(Day(year: year, month: month, day: day))
    #expect(Int(d.number) == number)
    let back = Day(number: Int32(number))
    #expect(back.year == year)
    #expect(back.month == month)
    #expect(back.dayOfMonth == day)
    #expect(back.description == "\(fourDigits(year))-\(twoDigits(month))-\(twoDigits(day))")
}

@Test(arguments: [
    (2026, 2, 29), (2026, 2, 30), (1900, 2, 29), (2026, 4, 31), (2026, 6, 31), (2026, 9, 31),
    (2026, 11, 31), (2026, 13, 1), (2026, 0, 1), (2026, 1, 0), (2026, 1, 32), (0, 1, 1), (10000, 1, 1),
])
func invalidDates(year: Int, month: Int, day: Int) {
    #expect(Day(year: year, month: month, day: day) == nil)
}

@Test(arguments: [
    (2026, 1, 31), (2026, 2, 28), (2026, 3, 31), (2026, 4, 30), (2026, 5, 31), (2026, 6, 30),
    (2026, 7, 31), (2026, 8, 31), (2026, 9, 30), (2026, 10, 31), (2026, 11, 30), (2026, 12, 31),
    (2028, 2, 29), (2000, 2, 29), (1900, 2, 28), (2100, 2, 28), (2400, 2, 29), (2026, 13, 0), (2026, 0, 0),
])
func monthLengths(year: Int, month: Int, days: Int) {
    #expect(Day.daysInMonth(year: year, month: month) == days)
}

@Test func dayParsing() throws {
    let d = try #require(Day(parsing: "2026-01-05"))
    #expect(d.number == 20458)
    #expect(Day(parsing: "2028-02-29")?.number == Int32(20454 + 365 + 365 + 59))
}

@Test(arguments: [
    "2026-1-05", " 2026-01-05", "2026-01-05 ", "2026-01-05T00:00:00Z", "2026/01/05", "20260105",
    "2026-01-5x", "2026-02-30", "2026-13-01", "0000-01-01", "", "+2026-01-05", "2026-01-0５",
])
func dayParsingRejects(_ text: String) {
    #expect(Day(parsing: text) == nil)
}

/// Walks ~5000 consecutive days, tracking the calendar independently, and checks the
/// conversions and the text round trip for each.
@Test(arguments: [(1899, 6, 1), (1997, 11, 15), (2024, 1, 1)])
func descriptionRoundTripsOverARange(startYear: Int, startMonth: Int, startDay: Int) throws {
    func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
    func length(_ y: Int, _ m: Int) -> Int {
        [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    }
    var (y, m, d) = (startYear, startMonth, startDay)
    let first = try #require(Day(year: y, month: m, day: d))
    for offset in 0..<5000 {
        let day = first.adding(days: offset)
        #expect(Int(day.number) == Int(first.number) + offset)
        let text = "\(fourDigits(y))-\(twoDigits(m))-\(twoDigits(d))"
        #expect(day.description == text)
        #expect(day.year == y && day.month == m && day.dayOfMonth == d)
        #expect(Day(parsing: text) == day)
        #expect(Day(year: y, month: m, day: d) == day)
        d += 1
        if d > length(y, m) { d = 1; m += 1 }
        if m > 12 { m = 1; y += 1 }
    }
}

@Test func dayArithmeticAndStride() throws {
    let feb28 = try #require(Day(year: 2026, month: 2, day: 28))
    #expect(feb28.adding(days: 1).description == "2026-03-01")
    #expect(Day(year: 2028, month: 2, day: 28)?.adding(days: 1).description == "2028-02-29")
    #expect(Day(year: 2026, month: 12, day: 31)?.adding(days: 1).description == "2027-01-01")
    #expect(Day(year: 2026, month: 3, day: 1)?.adding(days: -1) == feb28)
    #expect(Day(number: 0).adding(days: -1).description == "1969-12-31")

    let jan1 = try #require(Day(year: 2026, month: 1, day: 1))
    let jan1Next = try #require(Day(year: 2027, month: 1, day: 1))
    #expect(jan1.distance(to: jan1Next) == 365)
    #expect(jan1Next.distance(to: jan1) == -365)
    #expect(jan1.advanced(by: 365) == jan1Next)
    #expect(jan1 < jan1Next)
    #expect(!(jan1Next < jan1))
    let week = Array(stride(from: jan1, to: jan1.adding(days: 7), by: 1))
    #expect(week.count == 7)
    #expect(week.last?.description == "2026-01-07")
    #expect((jan1...jan1.adding(days: 2)).map(\.dayOfMonth) == [1, 2, 3])
}

// MARK: - Timestamp

struct GoodTimestamp: Sendable, CustomTestStringConvertible {
    let text: String
    let seconds: Int64
    let nanos: Int32
    let beyond: Bool
    let day: String
    var testDescription: String { text }
}

private func secs(_ dayNumber: Int, _ h: Int, _ m: Int, _ s: Int, offsetMinutes: Int = 0) -> Int64 {
    Int64(dayNumber) * 86_400 + Int64(h * 3600 + m * 60 + s) - Int64(offsetMinutes * 60)
}

let goodTimestamps: [GoodTimestamp] = [
    // Oct 3 = day 20454 + 273 + 2.
    GoodTimestamp(
        text: "2026-10-03T14:05:09.120Z", seconds: secs(jan1st2026 + 275, 14, 5, 9),
        nanos: 120_000_000, beyond: false, day: "2026-10-03"),
    // Sep 11 = 20454 + 243 + 10; lowercase t and z.
    GoodTimestamp(
        text: "2026-09-11t15:26:49z", seconds: secs(jan1st2026 + 253, 15, 26, 49),
        nanos: 0, beyond: false, day: "2026-09-11"),
    // 23:12:38 at -07:00 is 06:12:38 UTC the next day.
    GoodTimestamp(
        text: "2026-09-05T23:12:38-07:00", seconds: secs(jan1st2026 + 247, 23, 12, 38, offsetMinutes: -420),
        nanos: 0, beyond: false, day: "2026-09-06"),
    GoodTimestamp(
        text: "2026-09-05T23:12:38-07:00", seconds: secs(jan1st2026 + 248, 6, 12, 38),
        nanos: 0, beyond: false, day: "2026-09-06"),
    // 02:00 at +05:30 on Mar 1 is 20:30 UTC on Feb 28.
    GoodTimestamp(
        text: "2026-03-01T02:00:00+05:30", seconds: secs(jan1st2026 + 58, 20, 30, 0),
        nanos: 0, beyond: false, day: "2026-02-28"),
    GoodTimestamp(
        text: "2026-01-01T00:30:00+01:00", seconds: secs(jan1st2026 - 1, 23, 30, 0),
        nanos: 0, beyond: false, day: "2025-12-31"),
    GoodTimestamp(
        text: "2026-12-31T23:59:59.9999999999Z", seconds: secs(jan1st2026 + 364, 23, 59, 59),
        nanos: 999_999_999, beyond: true, day: "2026-12-31"),
    GoodTimestamp(
        text: "2026-10-03T14:05:09.1200000000000Z", seconds: secs(jan1st2026 + 275, 14, 5, 9),
        nanos: 120_000_000, beyond: false, day: "2026-10-03"),
    GoodTimestamp(
        text: "2026-10-03T14:05:09.000000001Z", seconds: secs(jan1st2026 + 275, 14, 5, 9),
        nanos: 1, beyond: false, day: "2026-10-03"),
    GoodTimestamp(
        text: "2026-10-03T14:05:09.5-00:00", seconds: secs(jan1st2026 + 275, 14, 5, 9),
        nanos: 500_000_000, beyond: false, day: "2026-10-03"),
    // 2028-02-29 = 20454 + 365 (2026) + 365 (2027) + 59.
    GoodTimestamp(
        text: "2028-02-29T12:00:00Z", seconds: secs(jan1st2026 + 730 + 59, 12, 0, 0),
        nanos: 0, beyond: false, day: "2028-02-29"),
    GoodTimestamp(text: "1970-01-01T00:00:00Z", seconds: 0, nanos: 0, beyond: false, day: "1970-01-01"),
    GoodTimestamp(text: "1969-12-31T23:59:59.5Z", seconds: -1, nanos: 500_000_000, beyond: false, day: "1969-12-31"),
    GoodTimestamp(text: "1970-01-01T00:00:00+00:01", seconds: -60, nanos: 0, beyond: false, day: "1969-12-31"),
]

@Test(arguments: goodTimestamps)
func parsesTimestamp(_ c: GoodTimestamp) throws {
    let t = try Timestamp(parsing: c.text)
    #expect(t.seconds == c.seconds)
    #expect(t.nanoseconds == c.nanos)
    #expect(t.beyondNanos == c.beyond)
    #expect(t.day.description == c.day)
    #expect(t.day == Day(parsing: c.day))
}

struct BadTimestamp: Sendable, CustomTestStringConvertible {
    let text: String
    let message: String
    var testDescription: String { text }
}

let badTimestamps: [BadTimestamp] = [
    BadTimestamp(text: "2026-10-03 14:05:09Z", message: "expected 'T' between date and time"),
    BadTimestamp(text: "2026-10-03X14:05:09Z", message: "expected 'T' between date and time"),
    BadTimestamp(text: "2026-10-03T14:05:60Z", message: "second 60 is not accepted"),
    BadTimestamp(text: "2026-10-03T14:05:61Z", message: "second 61 is out of range"),
    BadTimestamp(text: "2026-10-03T24:00:00Z", message: "hour 24 is out of range"),
    BadTimestamp(text: "2026-10-03T14:60:00Z", message: "minute 60 is out of range"),
    BadTimestamp(text: "2026-02-30T00:00:00Z", message: "invalid day 2026-02-30"),
    BadTimestamp(text: "2027-02-29T00:00:00Z", message: "invalid day 2027-02-29"),
    BadTimestamp(text: "2026-13-01T00:00:00Z", message: "invalid day 2026-13-01"),
    BadTimestamp(text: "0000-01-01T00:00:00Z", message: "invalid day 0000-01-01"),
    BadTimestamp(text: "2026-10-03T14:05:09", message: "missing time zone offset"),
    BadTimestamp(text: "2026-10-03T14:05:09.123", message: "missing time zone offset"),
    BadTimestamp(text: "2026-10-03T14:05:09+24:00", message: "offset hour 24 is out of range"),
    BadTimestamp(text: "2026-10-03T14:05:09+05:60", message: "offset minute 60 is out of range"),
    BadTimestamp(text: "2026-10-03T14:05:09+0530", message: "±HH:MM"),
    BadTimestamp(text: "2026-10-03T14:05:09+05", message: "±HH:MM"),
    BadTimestamp(text: "2026-10-03T14:05:09UTC", message: "expected 'Z' or a ±HH:MM"),
    BadTimestamp(text: "2026-10-03T14:05:09.Z", message: "expected digits after '.'"),
    BadTimestamp(text: "2026-10-03T14:05:09Zjunk", message: "trailing characters"),
    BadTimestamp(text: "2026-10-03T14:05:09Z ", message: "trailing characters"),
    BadTimestamp(text: "2026-10-03T14:05:09+05:30Z", message: "trailing characters"),
    BadTimestamp(text: "2026-10-03T14:05Z", message: "HH:MM:SS"),
    BadTimestamp(text: "2026-10-03T4:05:09Z", message: "HH:MM:SS"),
    BadTimestamp(text: "2026-10-03", message: "missing time"),
    BadTimestamp(text: "26-10-03T14:05:09Z", message: "YYYY-MM-DD"),
    BadTimestamp(text: " 2026-10-03T14:05:09Z", message: "YYYY-MM-DD"),
    BadTimestamp(text: "", message: "YYYY-MM-DD"),
]

@Test(arguments: badTimestamps)
func rejectsTimestamp(_ c: BadTimestamp) {
    do {
        let t = try Timestamp(parsing: c.text)
        Issue.record("accepted \(c.text) as \(t)")
    } catch {
        #expect(error.message.contains(c.message), "message was: \(error.message)")
        #expect(error.description.contains(error.message))
    }
}

@Test func timestampOrderingRespectsBeyondNanos() throws {
    let plain = Timestamp(seconds: 100, nanoseconds: 5)
    let beyond = Timestamp(seconds: 100, nanoseconds: 5, beyondNanos: true)
    let nextNano = Timestamp(seconds: 100, nanoseconds: 6)
    #expect(plain < beyond)
    #expect(!(beyond < plain))
    #expect(beyond < nextNano)
    #expect(beyond < Timestamp(seconds: 100, nanoseconds: 6, beyondNanos: true))
    #expect(Timestamp(seconds: 99, nanoseconds: 999_999_999, beyondNanos: true) < Timestamp(seconds: 100))
    #expect(plain != beyond)

    let long = try Timestamp(parsing: "2026-12-31T23:59:59.9999999991Z")
    let nine = try Timestamp(parsing: "2026-12-31T23:59:59.999999999Z")
    let next = try Timestamp(parsing: "2027-01-01T00:00:00Z")
    #expect(nine < long)
    #expect(long < next)
    // The same instant written in two zones is equal.
    #expect(try Timestamp(parsing: "2026-09-05T23:12:38-07:00") == Timestamp(parsing: "2026-09-06T06:12:38Z"))
}

@Test(arguments: [
    ("2026-10-03T14:05:09.120Z", "2026-10-03T14:05:09.12Z"),
    ("2026-10-03T14:05:09Z", "2026-10-03T14:05:09Z"),
    ("2026-10-03T14:05:09.000Z", "2026-10-03T14:05:09Z"),
    ("2026-10-03T14:05:09.000000001Z", "2026-10-03T14:05:09.000000001Z"),
    ("2026-10-03T14:05:09.1234567891Z", "2026-10-03T14:05:09.123456789Z"),
    ("2026-09-05T23:12:38.5-07:00", "2026-09-06T06:12:38.5Z"),
    ("2026-03-01T02:00:00+05:30", "2026-02-28T20:30:00Z"),
    ("1969-12-31T23:59:58.25Z", "1969-12-31T23:59:58.25Z"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
])
func canonicalDescription(input: String, expected: String) throws {
    let t = try Timestamp(parsing: input)
    #expect(t.description == expected)
    let reparsed = try Timestamp(parsing: t.description)
    #expect(reparsed.seconds == t.seconds && reparsed.nanoseconds == t.nanoseconds)
}

@Test func timestampConstruction() throws {
    let day = try #require(Day(year: 2026, month: 10, day: 3))
    let midnight = Timestamp(day: day)
    #expect(midnight.seconds == Int64(jan1st2026 + 275) * 86_400)
    #expect(midnight.description == "2026-10-03T00:00:00Z")
    #expect(midnight.day == day)
    #expect(midnight.adding(seconds: -1).day.description == "2026-10-02")
    #expect(midnight.adding(seconds: 86_399).description == "2026-10-03T23:59:59Z")
    let fractional = Timestamp(seconds: -2, nanoseconds: 500_000_000)
    #expect(fractional.description == "1969-12-31T23:59:58.5Z")
    #expect(fractional.adding(seconds: 2) == Timestamp(seconds: 0, nanoseconds: 500_000_000))
    #expect(Timestamp(day: Day(number: -1)).seconds == -86_400)
}
