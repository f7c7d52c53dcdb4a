import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookTestSupport
import Foundation
import Testing

/// `Engine.balanceProjections` and `balanceAlerts` (issue 11) on hand-worked draw-downs. The store
/// is ``ScenarioTests/Harness``'s: contract `k` of customer `c` from 2026-10-01, product `tok`
/// at a flat 0.01 per token, so an event of 1,000 tokens bills 10.00 on its day; every figure
/// below is worked out in the comments from the draws, not read from the engine.
///
/// The rules under test (`BalanceProjection`'s documentation): the run rate is what the balance
/// drew on the up-to-7 complete days before today (within its active days), `remaining` is
/// today's closing amount, `daysLeft` the smallest k ≥ 1 with k × rate ≥ remaining (exact ratio),
/// `exhaustsOn` today + daysLeft, and a balance that would run out only after its last active
/// day is `ok`.
@Suite("balance projections")
struct BalanceProjectionTests {
    typealias Harness = ScenarioTests.Harness
    static func day(_ text: String) -> Day { Day(parsing: text)! }
    static func d(_ text: String) -> FixedDecimal { FixedDecimal(text)! }
    static func at(_ text: String) -> Timestamp { Timestamp(day: day(text)) }

    static func balance(
        _ id: String, _ kind: String = "commit", amount: String, starts: String = "2026-10-01",
        ends: String = "2027-01-01", priority: Int = 1
    ) -> String {
        """
        {"id": "\(id)", "type": "\(kind)", "amount": "\(amount)", "starts": "\(starts)", "ends": "\(ends)", \
        "products": null, "priority": \(priority)}
        """
    }

    /// A harness with these balances on `k` and, optionally, a `balance_alert_days` setting.
    static func harness(_ balances: [String], alertDays: Int? = nil) throws -> Harness {
        var text = String(
            decoding: ScenarioTests.catalog(
                rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}", balances: balances.joined(separator: ", ")),
            as: UTF8.self)
        if let alertDays {
            text = text.replacingOccurrences(
                of: "\"currency\": \"USD\",", with: "\"currency\": \"USD\", \"balance_alert_days\": \(alertDays),")
        }
        return try Harness(Array(text.utf8))
    }

    /// One event per (day, tokens), ingested at `now`.
    static func draw(_ h: Harness, _ days: [(String, Int)], now: String) throws {
        let summary = try h.ingest(days.map { ("inference", $0.0, "\"tokens\": \($0.1)") }, now: now)
        #expect(summary.accepted == days.count)
    }

    static func projection(_ h: Harness, _ id: String, now: String) throws -> BalanceProjection {
        try #require(try h.engine.balanceProjections(now: at(now)).first { $0.balanceID == id })
    }

    /// 10.00 a day for the 7 days Oct 1–7 from a commit of 100.00, seen on Oct 8: 30.00 left at
    /// 10.00 a day is 3 days, so it runs out on Oct 11.
    @Test func commitDrawnTenADayRunsOutWhenTheRateSaysSo() throws {
        let h = try Self.harness([Self.balance("b", amount: "100.00")])
        try Self.draw(h, (1...7).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-08T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-10-08")
        #expect(p.status == .runningOut)
        #expect(p.customerID == "c" && p.contractID == "k" && p.kind == .commit)
        #expect(p.amount == Self.d("100"))
        #expect(p.asOf == Self.day("2026-10-08"))
        #expect(p.remaining == Self.d("30"))
        #expect(p.trailingDrawn == Self.d("70"))
        #expect(p.runRateDays == 7)
        #expect(p.dailyRunRate(decimals: 2) == Self.d("10"))
        #expect(p.daysLeft == 3)
        #expect(p.exhaustsOn == Self.day("2026-10-11"))
        #expect(p.exhaustedOn == nil)
    }

    /// The window is the 7 complete days before today: not today, not the day before the window.
    /// Oct 1: 60.00; Oct 2–8: 5.00 a day (35.00); today Oct 9: 7.00. Of 200.00, 98.00 is left at
    /// the end of today; the rate is 35.00 / 7 = 5.00; 19 × 5 = 95 < 98 ≤ 100 = 20 × 5: 20 days,
    /// Oct 29. (Counting Oct 1 or today in the window would give another rate.)
    @Test func theWindowIsTheSevenCompleteDaysBeforeToday() throws {
        let h = try Self.harness([Self.balance("b", amount: "200.00")])
        try Self.draw(
            h, [("2026-10-01", 6_000)] + (2...8).map { ("2026-10-0\($0)", 500) } + [("2026-10-09", 700)],
            now: "2026-10-09T18:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-10-09")
        #expect(p.remaining == Self.d("98"))
        #expect(p.trailingDrawn == Self.d("35"))
        #expect(p.runRateDays == 7)
        #expect(p.daysLeft == 20)
        #expect(p.exhaustsOn == Self.day("2026-10-29"))
        #expect(p.status == .runningOut)
    }

    /// A balance 3 days old averages over those 3 days. 6.00 + 7.00 + 7.00 = 20.00 drawn on
    /// Oct 1–3 of 40.01, seen on Oct 4 with nothing drawn yet today: 20.01 left at 20/3 a day;
    /// 3 × 20/3 = 20.00 < 20.01, so 4 days (Oct 8). A rate rounded to cents first (6.67 × 3 =
    /// 20.01) would say 3: the projection uses the exact ratio. The rate shown is 6.67.
    @Test func aPartialWindowAtTheBalancesStartAndTheExactRatio() throws {
        let h = try Self.harness([Self.balance("b", amount: "40.01")])
        try Self.draw(
            h, [("2026-10-01", 600), ("2026-10-02", 700), ("2026-10-03", 700)], now: "2026-10-04T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-10-04")
        #expect(p.runRateDays == 3)
        #expect(p.trailingDrawn == Self.d("20"))
        #expect(p.remaining == Self.d("20.01"))
        #expect(p.dailyRunRate(decimals: 2) == Self.d("6.67"))
        #expect(p.daysLeft == 4)
        #expect(p.exhaustsOn == Self.day("2026-10-08"))
    }

    /// 25.00 drawn 10.00, 10.00, then the last 5.00 of Oct 3's 10.00: exhausted on Oct 3 (its
    /// first zero closing), 0 days left, listed first by the alerts.
    @Test func anExhaustedCommitSaysOnWhichDay() throws {
        let h = try Self.harness([Self.balance("b", amount: "25.00")])
        try Self.draw(
            h, [("2026-10-01", 1_000), ("2026-10-02", 1_000), ("2026-10-03", 1_000), ("2026-10-04", 1_000)],
            now: "2026-10-05T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-10-05")
        #expect(p.status == .exhausted)
        #expect(p.remaining.isZero)
        #expect(p.daysLeft == 0)
        #expect(p.exhaustedOn == Self.day("2026-10-03"))
        #expect(try h.engine.balanceAlerts(now: Self.at("2026-10-05"), withinDays: 1).map(\.balanceID) == ["b"])
    }

    /// The window and the exhaustion day read across invoices. 10.00 a day on Oct 26 – Nov 3 (9
    /// days, 90.00) of 200.00, seen on Nov 4: 110.00 left; the window Oct 28 – Nov 3 holds 4 days
    /// of the October invoice and 3 of November's, 70.00: 10.00 a day, 11 days, Nov 15. Seen on
    /// Dec 20, with nothing drawn since, it still has 110.00 and no rate (nothing drawn Dec 13–19):
    /// `ok`.
    @Test func theWindowSpansTwoInvoices() throws {
        let h = try Self.harness([Self.balance("b", amount: "200.00")])
        let days = (26...31).map { ("2026-10-\($0)", 1_000) } + (1...3).map { ("2026-11-0\($0)", 1_000) }
        try Self.draw(h, days, now: "2026-11-04T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-11-04")
        #expect(p.remaining == Self.d("110"))
        #expect(p.trailingDrawn == Self.d("70") && p.runRateDays == 7)
        #expect(p.daysLeft == 11 && p.exhaustsOn == Self.day("2026-11-15"))
        let later = try Self.projection(h, "b", now: "2026-12-20")
        #expect(later.remaining == Self.d("110"))
        #expect(later.trailingDrawn.isZero && later.status == .ok && later.daysLeft == nil)
    }

    /// Exhausted in October (25.00: 10.00, 10.00, 5.00 on Oct 1–3), seen in December: the first
    /// zero closing is still Oct 3, two invoices back.
    @Test func anExhaustionMonthsAgoIsDatedInItsInvoice() throws {
        let h = try Self.harness([Self.balance("b", amount: "25.00")])
        try Self.draw(h, (1...3).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-04T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-12-05")
        #expect(p.status == .exhausted && p.daysLeft == 0)
        #expect(p.exhaustedOn == Self.day("2026-10-03"))
    }

    /// 10.00 a day on Oct 1–4 from 100.00, seen on Oct 5: 60.00 left runs out in 6 days, on
    /// Oct 11. Ending on Oct 11 (exclusive: last active day Oct 10) it never runs out: `ok`, no
    /// days left, no alert however far the window. Ending on Oct 12, Oct 11 is still active: it
    /// runs out.
    @Test func aBalanceThatEndsBeforeItWouldRunOutIsOK() throws {
        for (ends, runsOut) in [("2026-10-11", false), ("2026-10-12", true)] {
            let h = try Self.harness([Self.balance("b", amount: "100.00", ends: ends)])
            try Self.draw(h, (1...4).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-05T00:00:00Z")
            let p = try Self.projection(h, "b", now: "2026-10-05")
            #expect(p.remaining == Self.d("60"), "ends \(ends)")
            #expect(p.runRateDays == 4 && p.trailingDrawn == Self.d("40"), "ends \(ends)")
            if runsOut {
                #expect(p.status == .runningOut)
                #expect(p.daysLeft == 6)
                #expect(p.exhaustsOn == Self.day("2026-10-11"))
            } else {
                #expect(p.status == .ok)
                #expect(p.daysLeft == nil && p.exhaustsOn == nil)
            }
            let alerts = try h.engine.balanceAlerts(now: Self.at("2026-10-05"), withinDays: 3660)
            #expect(alerts.map(\.balanceID) == (runsOut ? ["b"] : []), "ends \(ends)")
        }
    }

    /// A credit from November, seen in October: not started, its whole amount left. A credit of
    /// Oct 1–3 (ends Oct 4), 10.00 a day of 100.00, seen on Oct 6: ended with 70.00 left. Neither
    /// is an alert.
    @Test func notStartedAndEndedBalances() throws {
        let h = try Self.harness([
            Self.balance("early", "credit", amount: "100.00", ends: "2026-10-04", priority: 0),
            Self.balance("later", "credit", amount: "50.00", starts: "2026-11-01", ends: "2026-12-01", priority: 0),
        ])
        try Self.draw(h, (1...5).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-06T00:00:00Z")
        let later = try Self.projection(h, "later", now: "2026-10-06")
        #expect(later.status == .notStarted)
        #expect(later.remaining == Self.d("50"))
        #expect(later.daysLeft == nil)
        let early = try Self.projection(h, "early", now: "2026-10-06")
        #expect(early.status == .ended)
        #expect(early.remaining == Self.d("70"))
        #expect(early.daysLeft == nil)
        #expect(try h.engine.balanceAlerts(now: Self.at("2026-10-06"), withinDays: 3660).isEmpty)
    }

    /// A credit (priority 0) of 30.00 ahead of a commit (priority 1) of 100.00, 10.00 a day on
    /// Oct 1–7: the credit pays Oct 1–3 and is exhausted on Oct 3; the commit pays Oct 4–7 (40.00),
    /// 60.00 left on Oct 8. Its window is Oct 1–7 (7 days of its active range, 3 of them paid by
    /// the credit): 40/7 a day; 10 × 40/7 = 57.1 < 60 ≤ 62.9 = 11 × 40/7: 11 days, Oct 19.
    /// Projections come in draw order; alerts put the exhausted credit first.
    @Test func aCreditAheadOfACommitInDrawOrder() throws {
        let h = try Self.harness([
            Self.balance("commit", amount: "100.00", priority: 1),
            Self.balance("credit", "credit", amount: "30.00", priority: 0),
        ])
        try Self.draw(h, (1...7).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-08T00:00:00Z")
        let all = try h.engine.balanceProjections(now: Self.at("2026-10-08"))
        #expect(all.map(\.balanceID) == ["credit", "commit"])
        let credit = try Self.projection(h, "credit", now: "2026-10-08")
        #expect(credit.status == .exhausted && credit.exhaustedOn == Self.day("2026-10-03"))
        #expect(credit.kind == .credit)
        let commit = try Self.projection(h, "commit", now: "2026-10-08")
        #expect(commit.remaining == Self.d("60"))
        #expect(commit.trailingDrawn == Self.d("40"))
        #expect(commit.runRateDays == 7)
        #expect(commit.dailyRunRate(decimals: 2) == Self.d("5.71"))
        #expect(commit.daysLeft == 11)
        #expect(commit.exhaustsOn == Self.day("2026-10-19"))
        let alerts = try h.engine.balanceAlerts(now: Self.at("2026-10-08"), withinDays: 11)
        #expect(alerts.map(\.balanceID) == ["credit", "commit"])
        #expect(try h.engine.balanceAlerts(now: Self.at("2026-10-08"), withinDays: 10).map(\.balanceID) == ["credit"])
        #expect(try h.engine.balanceProjections(now: Self.at("2026-10-08"), customer: "nobody").isEmpty)
    }

    /// A backdated event moves the projection with nothing else run: 10.00 a day on Oct 1–7 of
    /// 200.00 leaves 130.00 on Oct 8: 13 days (Oct 21). 40.00 more dated Oct 5, ingested late:
    /// 90.00 left at 110/7 a day; 5 × 110/7 = 78.6 < 90 ≤ 94.3 = 6 × 110/7: 6 days, Oct 14.
    @Test func aBackdatedEventPullsTheExhaustionDateForward() throws {
        let h = try Self.harness([Self.balance("b", amount: "200.00")])
        try Self.draw(h, (1...7).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-08T00:00:00Z")
        let before = try Self.projection(h, "b", now: "2026-10-08")
        #expect(before.daysLeft == 13 && before.exhaustsOn == Self.day("2026-10-21"))
        #expect(try h.engine.balanceAlerts(now: Self.at("2026-10-08"), withinDays: 7).isEmpty)
        try Self.draw(h, [("2026-10-05", 4_000)], now: "2026-10-08T06:00:00Z")
        let after = try Self.projection(h, "b", now: "2026-10-08")
        #expect(after.remaining == Self.d("90"))
        #expect(after.trailingDrawn == Self.d("110"))
        #expect(after.daysLeft == 6 && after.exhaustsOn == Self.day("2026-10-14"))
        #expect(try h.engine.balanceAlerts(now: Self.at("2026-10-08"), withinDays: 7).map(\.balanceID) == ["b"])
    }

    /// The table of `daybook alerts`: the window from the catalog's `balance_alert_days` unless
    /// given; money with the currency's decimals. The commit of the first test (3 days left on
    /// Oct 8) is listed with a 3-day setting and not with a 2-day one.
    @Test func theAlertsTableTakesItsWindowFromTheCatalog() throws {
        for (setting, listed) in [(3, true), (2, false)] {
            let h = try Self.harness([Self.balance("b", amount: "100.00")], alertDays: setting)
            try Self.draw(h, (1...7).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-08T00:00:00Z")
            #expect(h.engine.balanceAlertDays(within: nil) == setting)
            let table = try h.engine.balanceAlertsTable(now: Self.at("2026-10-08"))
            #expect(table.columns == Engine.balanceAlertColumns)
            let expected = [
                "b", "c", "k", "commit", "running_out", "100.00", "30.00", "10.00", "7", "3", "2026-10-11", "",
                "2027-01-01",
            ]
            #expect(table.rows == (listed ? [expected] : []), "balance_alert_days \(setting)")
            // --within wins over the setting.
            #expect(try h.engine.balanceAlertsTable(now: Self.at("2026-10-08"), withinDays: 3).rows == [expected])
            #expect(try h.engine.balanceAlertsTable(now: Self.at("2026-10-08"), withinDays: 2).rows.isEmpty)
        }
        let h = try Self.harness([Self.balance("b", amount: "100.00")])
        #expect(h.engine.balanceAlertDays(within: nil) == 30, "the default without the setting")
        #expect(throws: EngineError.self) {
            try h.engine.balanceAlertsTable(now: Self.at("2026-10-08"), customer: "nobody")
        }
    }

    // MARK: Found wrong in the first version, fixed on main

    /// Contract `k` ending on Oct 10 (exclusive), its commit of 200.00 running to 2027: 10.00 a
    /// day on Oct 1–9, seen on Oct 12. Nothing can draw from the commit after Oct 9, so it cannot
    /// run out: not `running_out` and no alert. (The first version took Oct 5–9's 50.00 over the
    /// 7-day window, 110.00 left, for 16 days, Oct 28.)
    @Test func aBalanceOfAnEndedContractDoesNotRunOut() throws {
        let text = String(
            decoding: ScenarioTests.catalog(
                rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}",
                balances: Self.balance("b", amount: "200.00")),
            as: UTF8.self
        ).replacingOccurrences(of: "\"ends\": null", with: "\"ends\": \"2026-10-10\"")
        let h = try Harness(Array(text.utf8))
        try Self.draw(h, (1...9).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-10T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-10-12")
        #expect(p.remaining == Self.d("110"))
        #expect(p.status != .runningOut && p.daysLeft == nil)
        #expect(try h.engine.balanceAlerts(now: Self.at("2026-10-12"), withinDays: 3660).isEmpty)
    }

    /// A commit active from Sept 1 on contract `k`, which starts on Oct 1: 10.00 a day on Oct 1–3
    /// of 200.00, seen on Oct 4. Nothing could draw before Oct 1, so the rate should average the
    /// 3 contract days (10.00 a day: 170.00 left is 17 days, Oct 21), not 7 days of which 4
    /// preceded the contract (30/7 a day: 40 days, Nov 13).
    @Test func theWindowStartsNoEarlierThanTheContract() throws {
        let h = try Self.harness([Self.balance("b", amount: "200.00", starts: "2026-09-01")])
        try Self.draw(h, (1...3).map { ("2026-10-0\($0)", 1_000) }, now: "2026-10-04T00:00:00Z")
        let p = try Self.projection(h, "b", now: "2026-10-04")
        #expect(p.remaining == Self.d("170"))
        #expect(p.runRateDays == 3 && p.trailingDrawn == Self.d("30"))
        #expect(p.daysLeft == 17 && p.exhaustsOn == Self.day("2026-10-21"))
    }
}
