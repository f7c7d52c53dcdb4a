import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload
import DaybookTestSupport
import Testing

/// Finalization and drift (SPEC §4), worked by hand.
@Suite("Drift of finalized invoices")
struct DriftTests {
    typealias Harness = ScenarioTests.Harness

    func money(_ s: String) -> FixedDecimal { FixedDecimal(s)! }

    @Test func lateEventIntoAFinalizedMonthDriftsOneLineItemAndOneDay() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 100"), ("inference", "2026-10-20", "\"tokens\": 300")],
            now: "2026-10-25T00:00:00Z")
        // October ends Nov 1; with 24 h grace it is finalized by the batch at Nov 3 (before the batch applies).
        let before = try h.counters()
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-03T00:00:00Z")
        let after = try h.counters()
        #expect(after["invoices_finalized"]! - before["invoices_finalized"]! == 1)
        // Oct 10..31 re-evaluated (22 days); exactly one row changes (Oct 10: 50 × 0.01 = 0.50); nothing re-read.
        #expect(after["line_item_days_evaluated"]! - before["line_item_days_evaluated"]! == 22)
        #expect(after["line_item_days_changed"]! - before["line_item_days_changed"]! == 1)
        #expect(after["events_reread"]! == 0)
        let drift = try h.engine.discrepancies()
        try #require(drift.count == 1)
        let d = drift[0]
        #expect(d.invoiceID == "k/2026-10-01" && d.lineItemID == "tok" && d.customerID == "c")
        #expect(d.finalized.quantity == FixedDecimal(400) && d.current.quantity == FixedDecimal(450))
        #expect(d.finalized.total == money("4") && d.current.total == money("4.5") && d.deltaTotal == money("0.5"))
        #expect(d.lateTransactionIDs == ["t3"])
        #expect(d.viaInvoices.isEmpty)
        #expect(d.firstDetectedSeq == 3 && d.lastChangedSeq == 3)
        let rows = try h.rows("k/2026-10-01", "tok")
        #expect(rows["2026-10-10"] == ["50", "0.01", "0.50", "0.00", "0.00", "0.50"])
        #expect(rows["2026-10-20"]?[2] == "3.00")
    }

    @Test func backdatedEventAcrossATierBoundaryDriftsLaterDays() throws {
        let h = try Harness(
            ScenarioTests.catalog(
                rates: """
                    {"product": "tok", "tiers": [{"up_to": "100", "unit_price": "0.10"}, {"up_to": null, "unit_price": "0.05"}]}
                    """))
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 80"), ("inference", "2026-10-10", "\"tokens\": 40")],
            now: "2026-10-25T00:00:00Z")
        _ = try h.engine.finalize(
            now: try Timestamp(parsing: "2026-10-25T00:00:00Z"), through: Day(parsing: "2026-11-01"))
        // Finalized: Q=120 → 11.00. Late 30 on Oct 5: Q=150 → 10 + 50 × 0.05 = 12.50; Oct 5 +2.50, Oct 10 3.00 → 2.00.
        let before = try h.counters()
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 30")], now: "2026-10-26T00:00:00Z")
        #expect(try h.counters()["line_item_days_changed"]! - before["line_item_days_changed"]! == 2)
        let d = try #require(try h.engine.discrepancies().first)
        #expect(
            d.finalized.subtotal == money("11") && d.current.subtotal == money("12.5") && d.deltaTotal == money("1.5"))
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-10"]?[2] == "2.00")
    }

    @Test func commitDrawnInAnEarlierFinalizedMonthDriftsTheNextOneVia() throws {
        let h = try Harness(
            ScenarioTests.catalog(
                rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}",
                balances:
                    "{\"id\": \"commit\", \"type\": \"commit\", \"amount\": \"10.00\", \"starts\": \"2026-10-01\", \"ends\": \"2027-01-01\"}"
            ))
        // Oct 5: 6.00 from the commit (4.00 left). Nov 3: 5.00 → commit 4.00, total 1.00.
        // (October's events arrive before October is finalized: the Nov 20 batch finalizes it first.)
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 600")], now: "2026-10-25T00:00:00Z")
        _ = try h.ingest([("inference", "2026-11-03", "\"tokens\": 500")], now: "2026-11-20T00:00:00Z")
        _ = try h.engine.finalize(
            now: try Timestamp(parsing: "2026-11-20T00:00:00Z"), through: Day(parsing: "2026-12-01"))
        // Late Oct 20: 3.00 from the commit → Oct total stays 0.00 (commit 9.00);
        // Nov 3: commit 1.00, total 4.00 (was 1.00): November drifts only through the balance.
        let before = try h.counters()
        _ = try h.ingest([("inference", "2026-10-20", "\"tokens\": 300")], now: "2026-11-21T00:00:00Z")
        let drift = try h.engine.discrepancies()
        #expect(drift.map(\.invoiceID) == ["k/2026-10-01", "k/2026-11-01"])
        let oct = drift[0], nov = drift[1]
        #expect(
            oct.current.commits == money("9") && oct.deltaTotal == .zero && oct.lateTransactionIDs == ["t3"], "\(oct)")
        #expect(nov.finalized.commits == money("4") && nov.current.commits == money("1"))
        #expect(nov.finalized.total == money("1") && nov.current.total == money("4") && nov.deltaTotal == money("3"))
        #expect(nov.lateTransactionIDs.isEmpty)
        #expect(nov.viaInvoices == ["k/2026-10-01"])
        // Draw-down re-ran from Oct 20 until the balances agreed again: the commit runs out on Nov 3 in both
        // histories, so Nov 4 opens equal and the sweep stops (Oct 20–31 + Nov 1–3 = 15 days); no event re-read.
        let after = try h.counters()
        #expect(after["draw_down_days_evaluated"]! - before["draw_down_days_evaluated"]! == 15)
        #expect(after["events_reread"]! == 0)
    }

    @Test func duplicateOfACountedEventAfterFinalizationCausesNoDrift() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        let record = IngestRecord(
            bytes: Array(
                "{\"transaction_id\": \"once\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-03T01:00:00Z\", \"properties\": {\"tokens\": 100}}"
                    .utf8), position: "1")
        _ = try h.engine.ingest([record], source: "a", now: try Timestamp(parsing: "2026-10-04T00:00:00Z"))
        let later = try h.engine.ingest([record], source: "a", now: try Timestamp(parsing: "2026-11-05T00:00:00Z"))
        #expect(later.duplicates == 1)
        #expect(try h.engine.invoices(now: try Timestamp(parsing: "2026-11-05T00:00:00Z")).first?.finalizedAt != nil)
        #expect(try h.engine.discrepancies().isEmpty)
    }

    @Test func priceCorrectionDriftsEveryFinalizedInvoiceOnThatRateAndCanResolve() throws {
        func doc(_ price: String) -> [UInt8] {
            let other =
                ", {\"id\": \"d\", \"name\": \"D\", \"contracts\": [{\"id\": \"kd\", \"rate_card\": \"r2\", \"starts\": \"2026-10-01\", \"ends\": null}]}"
            let text = String(
                decoding: ScenarioTests.catalog(
                    rates: "{\"product\": \"tok\", \"unit_price\": \"\(price)\"}", extraCustomers: other), as: UTF8.self
            )
            let parts = text.split(separator: "\"rate_cards\": [", maxSplits: 1, omittingEmptySubsequences: false)
            return Array(
                (parts[0]
                    + "\"rate_cards\": [{\"id\": \"r2\", \"rates\": [{\"product\": \"tok\", \"unit_price\": \"1\"}]}, "
                    + parts[1]).utf8)
        }
        let h = try Harness(doc("0.01"))
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 100")], now: "2026-10-25T00:00:00Z")
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 5")], now: "2026-10-25T00:00:00Z", customer: "d")
        _ = try h.ingest([("inference", "2026-11-03", "\"tokens\": 200")], now: "2026-11-10T00:00:00Z")
        _ = try h.engine.finalize(
            now: try Timestamp(parsing: "2026-11-10T00:00:00Z"), through: Day(parsing: "2026-12-01"))
        // 0.01 → 0.02: October 100 tokens 1.00 → 2.00, November 200 tokens 2.00 → 4.00; d (rate card r2) untouched.
        let change = try h.engine.applyCatalog(doc("0.02"), now: try Timestamp(parsing: "2026-11-11T00:00:00Z"))
        let drift = try h.engine.discrepancies()
        #expect(drift.map(\.invoiceID) == ["k/2026-10-01", "k/2026-11-01"])
        #expect(drift.map(\.deltaTotal) == [money("1"), money("2")])
        #expect(drift.allSatisfy { $0.catalogVersions == [change.version] && $0.lateTransactionIDs.isEmpty })
        // Correcting the correction: live equals the snapshots again, the drift is resolved into history.
        _ = try h.engine.applyCatalog(doc("0.01"), now: try Timestamp(parsing: "2026-11-12T00:00:00Z"))
        #expect(try h.engine.discrepancies().isEmpty)
        let history = try h.engine.discrepancies(history: true)
        #expect(history.map(\.invoiceID) == ["k/2026-10-01", "k/2026-11-01"])
        #expect(history.allSatisfy { $0.resolvedSeq != nil && $0.current == $0.finalized })
    }
}
