/// When an invoice is due for finalization (SPEC §4), as a pure rule.
///
/// An invoice whose period ends at `end` (exclusive, midnight UTC) is due once the engine clock
/// reaches `end + finalization_grace_hours` (inclusive: exactly at that instant it is due), or,
/// with `finalize --through DATE`, when `end ≤ DATE` whatever the clock.
///
/// Being due is monotone in the period end: if an end is due, every earlier end is too. So the
/// open invoices, scanned by period end ascending, can stop at the first one that is not due;
/// ``latestDueEnd`` is the last end that is.
public struct FinalizationRule: Sendable, Hashable {
    public let now: Timestamp
    public let graceHours: Int
    public let through: Day?

    public init(now: Timestamp, graceHours: Int, through: Day?) {
        self.now = now
        self.graceHours = graceHours
        self.through = through
    }

    /// Whether an invoice whose period ends on `periodEnd` is due.
    public static func isDue(periodEnd: Day, now: Timestamp, graceHours: Int, through: Day?) -> Bool {
        FinalizationRule(now: now, graceHours: graceHours, through: through).isDue(periodEnd: periodEnd)
    }

    /// Whether an invoice whose period ends on `periodEnd` is due.
    public func isDue(periodEnd: Day) -> Bool {
        isDueByClock(periodEnd: periodEnd) || through.map { periodEnd <= $0 } == true
    }

    /// Whether the clock alone makes it due: `periodEnd` midnight + grace ≤ now.
    public func isDueByClock(periodEnd: Day) -> Bool {
        Timestamp(day: periodEnd).adding(seconds: Int64(graceHours) * 3600) <= now
    }

    /// The last period end that is due: the date of `now − grace` (midnight of a day is ≤ an
    /// instant exactly when the day is ≤ the instant's date), or `through` if later.
    /// `isDue(periodEnd: e)` is `e ≤ latestDueEnd`.
    public var latestDueEnd: Day {
        let byClock = now.adding(seconds: -Int64(graceHours) * 3600).day
        return through.map { max($0, byClock) } ?? byClock
    }
}
