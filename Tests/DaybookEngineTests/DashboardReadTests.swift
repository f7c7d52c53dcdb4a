import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import Testing

/// The dashboard's read models (`revenue`, `customerReport`, `balanceProjections`) on a
/// hand-worked history: `tok` at 1.00 per token on contract `k` of customer `c` from 2026-10-01,
/// a commit of 150.00 for all products; every figure below is worked out in the comments.
@Suite("dashboard reads")
struct DashboardReadTests {
    typealias Harness = ScenarioTests.Harness
    static func day(_ text: String) -> Day { Day(parsing: text)! }
    static func d(_ text: String) -> FixedDecimal { FixedDecimal(text)! }
    static let commit = """
        {"id": "b", "type": "commit", "amount": "150.00", "starts": "2026-10-01", "ends": "2027-01-01", "products": null}
        """

    /// 10 tokens a day on Oct 1 … Oct 10, ingested on Oct 11.
    static func tenDays() throws -> Harness {
        let h = try Harness(ScenarioTests.catalog(rates: #"{"product": "tok", "unit_price": "1.00"}"#, balances: commit))
        let events = (1...10).map { ("inference", "2026-10-\($0 < 10 ? "0" : "")\($0)", "\"tokens\": 10") }
        _ = try h.ingest(events, now: "2026-10-11T12:00:00Z")
        return h
    }

    @Test func revenueSumsProductsPerDayAndComparesWithThePreviousPeriod() throws {
        let h = try Self.tenDays()
        let now = try Timestamp(parsing: "2026-10-11T12:00:00Z")
        // Oct 6 … Oct 10 (5 days) against Oct 1 … Oct 5: 50.00 both, 10.00 a day.
        let r = try h.engine.revenue(from: Self.day("2026-10-06"), to: Self.day("2026-10-10"), now: now)
        #expect(r.previousFrom == Self.day("2026-10-01") && r.previousTo == Self.day("2026-10-05"))
        #expect(r.products.map(\.productID) == ["tok"])
        #expect(r.products[0].productName == "Tokens")
        #expect(r.products[0].subtotal == Array(repeating: Self.d("10"), count: 5))
        #expect(r.products[0].quantity == Array(repeating: Self.d("10"), count: 5))
        #expect(r.previous["tok"]?.subtotal == Self.d("50") && r.previous["tok"]?.quantity == Self.d("50"))
        #expect(r.days.count == 5 && r.days.last == Self.day("2026-10-10"))
        // Before the contract: zero days, previous period empty.
        let early = try h.engine.revenue(from: Self.day("2026-09-29"), to: Self.day("2026-10-02"), now: now)
        #expect(early.products[0].subtotal == [.zero, .zero, Self.d("10"), Self.d("10")])
        #expect(early.previous["tok"] == PeriodSums())
        #expect(throws: EngineError.self) {
            try h.engine.revenue(from: Self.day("2026-10-06"), to: Self.day("2026-10-05"), now: now)
        }
    }

    @Test func projectionFromTheTrailingSevenDaysAndABackdatedBatchPullsItForward() throws {
        let h = try Self.tenDays()
        let now = try Timestamp(parsing: "2026-10-11T12:00:00Z")
        // Remaining after Oct 10: 150 − 100 = 50. Window Oct 4 … Oct 10 drew 70 over 7 days:
        // k = ⌈50 × 7 / 70⌉ = 5 → Oct 16.
        var p = try #require(try h.engine.balanceProjections(now: now).first)
        #expect(p.balanceID == "b" && p.status == .runningOut)
        #expect(p.remaining == Self.d("50") && p.trailingDrawn == Self.d("70") && p.runRateDays == 7)
        #expect(p.daysLeft == 5 && p.exhaustsOn == Self.day("2026-10-16"))
        #expect(p.dailyRunRate(decimals: 2) == Self.d("10"))
        #expect(try h.engine.balanceAlerts(now: now, withinDays: 4).isEmpty)
        #expect(try h.engine.balanceAlerts(now: now, withinDays: 5).map(\.balanceID) == ["b"])
        // 35 tokens dated Oct 9: remaining 15, window drew 105: ⌈15 × 7 / 105⌉ = 1 → Oct 12.
        _ = try h.ingest([("inference", "2026-10-09", "\"tokens\": 35")], now: "2026-10-11T13:00:00Z")
        p = try #require(try h.engine.balanceProjections(now: now).first)
        #expect(p.remaining == Self.d("15") && p.trailingDrawn == Self.d("105"))
        #expect(p.daysLeft == 1 && p.exhaustsOn == Self.day("2026-10-12"))
        #expect(try h.engine.balanceAlerts(now: now, withinDays: 4).map(\.balanceID) == ["b"])
        // 20 more on Oct 10: 150 − 155 → the commit runs dry on Oct 10 (closing 0), 5.00 left to pay.
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 20")], now: "2026-10-11T14:00:00Z")
        p = try #require(try h.engine.balanceProjections(now: now).first)
        #expect(p.status == .exhausted && p.remaining.isZero && p.daysLeft == 0)
        #expect(p.exhaustedOn == Self.day("2026-10-10"))
    }

    @Test func startWindowEndAndNotStarted() throws {
        let h = try Self.tenDays()
        // On Oct 4 only Oct 1 … Oct 3 are complete: 30 drawn over 3 days. Left after Oct 4 (its
        // usage is stored too): 150 − 40 = 110 → ⌈110 × 3 / 30⌉ = 11 days → Oct 15.
        var p = try #require(try h.engine.balanceProjections(now: Timestamp(parsing: "2026-10-04T00:00:00Z")).first)
        #expect(p.runRateDays == 3 && p.trailingDrawn == Self.d("30") && p.remaining == Self.d("110"))
        #expect(p.daysLeft == 11 && p.exhaustsOn == Self.day("2026-10-15"))
        p = try #require(try h.engine.balanceProjections(now: Timestamp(parsing: "2026-09-20T00:00:00Z")).first)
        #expect(p.status == .notStarted && p.remaining == Self.d("150"))
        p = try #require(try h.engine.balanceProjections(now: Timestamp(parsing: "2026-10-01T08:00:00Z")).first)
        #expect(p.runRateDays == 0 && p.status == .ok && p.daysLeft == nil)
    }

    @Test func aBalanceThatEndsBeforeItRunsOutIsNotAnAlert() throws {
        let ending = """
            {"id": "b", "type": "commit", "amount": "150.00", "starts": "2026-10-01", "ends": "2026-10-14", "products": null}
            """
        let h = try Harness(ScenarioTests.catalog(rates: #"{"product": "tok", "unit_price": "1.00"}"#, balances: ending))
        let events = (1...10).map { ("inference", "2026-10-\($0 < 10 ? "0" : "")\($0)", "\"tokens\": 10") }
        _ = try h.ingest(events, now: "2026-10-11T12:00:00Z")
        // Oct 16 would be the day; the commit ends on Oct 14.
        let now = try Timestamp(parsing: "2026-10-11T12:00:00Z")
        let p = try #require(try h.engine.balanceProjections(now: now).first)
        #expect(p.status == .ok && p.daysLeft == nil && p.remaining == Self.d("50"))
        #expect(try h.engine.balanceAlerts(now: now, withinDays: 30).isEmpty)
        let later = try #require(try h.engine.balanceProjections(now: Timestamp(parsing: "2026-10-20T00:00:00Z")).first)
        #expect(later.status == .ended && later.remaining == Self.d("50"))
    }

    @Test func customerReportSeriesMatchTheExport() throws {
        let h = try Self.tenDays()
        let now = try Timestamp(parsing: "2026-10-11T12:00:00Z")
        let r = try h.engine.customerReport(id: "c", from: Self.day("2026-10-08"), to: Self.day("2026-10-12"), now: now)
        #expect(r.customerName == "C" && r.today == Self.day("2026-10-11"))
        #expect(r.products.map(\.productID) == ["tok"])
        #expect(r.products[0].subtotal == [Self.d("10"), Self.d("10"), Self.d("10"), .zero, .zero])
        let b = try #require(r.balances.first)
        // Closing after Oct 8 = 150 − 80 = 70, then 60, 50, 50 (Oct 11, nothing drawn), Oct 12 is in the future.
        #expect(b.closing == [Self.d("70"), Self.d("60"), Self.d("50"), Self.d("50"), nil])
        #expect(b.drawn == [Self.d("10"), Self.d("10"), Self.d("10"), .zero, nil])
        // The same closings as the export's balances rows.
        let export = try h.engine.export(asOf: Self.day("2026-10-12"))
        let closing = export.balances.rows.filter { $0[4] >= "2026-10-08" }.map { Self.d($0[7]) }
        #expect(closing == b.closing.compactMap { $0 })
        let invoice = try #require(r.currentInvoice)
        #expect(invoice.invoiceID == "k/2026-10-01" && invoice.totals.subtotal == Self.d("100"))
        #expect(invoice.totals.commits == Self.d("100") && invoice.totals.total.isZero)
        // The customer list says the same of the current invoice and the balance.
        let summaries = try h.engine.customerSummaries(now: now)
        #expect(summaries.map(\.customerID) == ["c"])
        #expect(summaries[0].currentInvoice == invoice)
        #expect(summaries[0].balances == [b.projection])
        #expect(throws: EngineError.self) {
            try h.engine.customerReport(id: "nobody", from: Self.day("2026-10-08"), to: Self.day("2026-10-12"), now: now)
        }
    }
}
