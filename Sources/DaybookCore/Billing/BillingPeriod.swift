/// One invoice period of a contract: `start` inclusive, `end` exclusive (SPEC §3 "Periods").
public struct BillingPeriod: Hashable, Sendable, CustomStringConvertible {
    public var start: Day
    public var end: Day
    public init(start: Day, end: Day) { self.start = start; self.end = end }
    public var dayCount: Int { Int(end.number - start.number) }
    public func contains(_ day: Day) -> Bool { day >= start && day < end }
    public var description: String { "\(start)..<\(end)" }
}

extension Contract {
    /// The invoice id of a period: `{contract_id}/{period_start}`.
    public func invoiceID(_ period: BillingPeriod) -> String { "\(id)/\(period.start)" }

    /// The first date strictly after `day` whose day-of-month is the anchor.
    func nextAnchor(after day: Day) -> Day {
        if day.dayOfMonth < billingAnchorDay {
            return Day(year: day.year, month: day.month, day: billingAnchorDay)!
        }
        let (y, m) = day.month == 12 ? (day.year + 1, 1) : (day.year, day.month + 1)
        return Day(year: y, month: m, day: billingAnchorDay)!
    }

    /// The anchor date on or before `day` (anchor ≤ 28, so it exists in every month).
    func anchor(onOrBefore day: Day) -> Day {
        if day.dayOfMonth >= billingAnchorDay { return Day(year: day.year, month: day.month, day: billingAnchorDay)! }
        let (y, m) = day.month == 1 ? (day.year - 1, 12) : (day.year, day.month - 1)
        return Day(year: y, month: m, day: billingAnchorDay)!
    }

    private func cut(_ end: Day) -> Day { ends.map { min($0, end) } ?? end }

    /// The period containing `day`, or nil when the contract does not cover it.
    public func period(containing day: Day) -> BillingPeriod? {
        guard covers(day) else { return nil }
        let firstEnd = nextAnchor(after: starts)
        if day < firstEnd { return BillingPeriod(start: starts, end: cut(firstEnd)) }
        let start = anchor(onOrBefore: day)
        return BillingPeriod(start: start, end: cut(nextAnchor(after: start)))
    }

    /// Every period that has begun on or before `day`, in order.
    public func periods(beginningOnOrBefore day: Day) -> [BillingPeriod] {
        var result: [BillingPeriod] = []
        var start = starts
        while start <= day, ends.map({ start < $0 }) ?? true {
            let end = cut(nextAnchor(after: start))
            result.append(BillingPeriod(start: start, end: end))
            start = end
        }
        return result
    }
}
