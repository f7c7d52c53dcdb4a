import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload
import DaybookTestSupport
import Testing

/// Small hand-worked histories. Every expected figure is worked out in the comments from the
/// prices and quantities, not copied from the engine's output.
@Suite("Hand-worked scenarios")
struct ScenarioTests {
    /// One customer `c`, contract `k` from 2026-10-01 (anchor 1) on rate card `r`.
    static func catalog(rates: String, balances: String = "", extraCustomers: String = "") -> [UInt8] {
        Array(
            """
            {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 60, "finalization_grace_hours": 24,
             "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens"},
                         {"id": "gpus", "event_type": "gpu", "aggregation": "max", "property": "gpus"},
                         {"id": "users", "event_type": "session", "aggregation": "unique_count", "property": "user"}],
             "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}, {"id": "gpu", "name": "GPUs", "metric": "gpus"},
                          {"id": "seat", "name": "Seats", "metric": "users"}],
             "rate_cards": [{"id": "r", "rates": [\(rates)]}],
             "customers": [{"id": "c", "name": "C", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-10-01", "ends": null,
                            "balances": [\(balances)]}]}\(extraCustomers)]}
            """.utf8)
    }

    final class Harness {
        let store: TemporaryStore
        var engine: Engine { store.engine }
        var n = 0

        init(_ catalog: [UInt8]) throws {
            store = try TemporaryStore()
            try store.engine.applyCatalog(catalog, now: Timestamp(day: Day(parsing: "2026-10-01")!))
        }

        init(store: TemporaryStore, _ catalog: [UInt8]) throws {
            self.store = store
            try store.engine.applyCatalog(catalog, now: Timestamp(day: Day(parsing: "2026-10-01")!))
        }

        func ingest(_ events: [(type: String, day: String, props: String)], now: String, customer: String = "c") throws
            -> IngestSummary
        {
            let records = events.map { e -> IngestRecord in
                n += 1
                let line =
                    "{\"transaction_id\": \"t\(n)\", \"customer_id\": \"\(customer)\", \"event_type\": \"\(e.type)\", \"timestamp\": \"\(e.day)T12:00:00Z\", \"properties\": {\(e.props)}}"
                return IngestRecord(bytes: Array(line.utf8), position: "line \(n)")
            }
            return try engine.ingest(records, source: "test", now: try Timestamp(parsing: now))
        }

        func counters() throws -> [String: UInt64] { Dictionary(uniqueKeysWithValues: try engine.statsFields()) }

        /// `day → (quantity, unit_price, subtotal, credits, commits, total)` for one line item.
        func rows(_ invoice: String, _ lineItem: String, now: String = "2026-12-20T00:00:00Z") throws -> [String:
            [String]]
        {
            let table = try engine.breakdown(invoiceID: invoice, now: try Timestamp(parsing: now))
            var out: [String: [String]] = [:]
            for row in table.rows where row[1] == lineItem { out[row[0]] = Array(row[2...]) }
            return out
        }
    }

    @Test func lateEventWithWholeCentPriceChangesExactlyOneRow() throws {
        let h = try Harness(Self.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 100"), ("inference", "2026-10-10", "\"tokens\": 200")],
            now: "2026-10-20T00:00:00Z")
        let before = try h.counters()
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 50")], now: "2026-10-21T00:00:00Z")
        let after = try h.counters()
        // Q moves on Oct 5..31 (27 days); only Oct 5's row (quantity 50, 50 × 0.01 = 0.50) is visible change.
        #expect(after["line_item_days_evaluated"]! - before["line_item_days_evaluated"]! == 27)
        #expect(after["line_item_days_changed"]! - before["line_item_days_changed"]! == 1)
        #expect(after["events_reread"] == 0)
        let rows = try h.rows("k/2026-10-01", "tok")
        #expect(rows["2026-10-05"] == ["50", "0.01", "0.50", "0.00", "0.00", "0.50"])
        #expect(rows["2026-10-03"] == ["100", "0.01", "1.00", "0.00", "0.00", "1.00"])
        #expect(rows["2026-10-10"] == ["200", "0.01", "2.00", "0.00", "0.00", "2.00"])
    }

    @Test func subCentPriceMovesCentsBetweenDaysButKeepsThePeriodTotal() throws {
        let h = try Harness(Self.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.004\"}"))
        // Oct 3: Q=1 → A=round(0.004)=0.00; Oct 4: Q=2 → A=round(0.008)=0.01 → subtotal 0.01.
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 1"), ("inference", "2026-10-04", "\"tokens\": 1")],
            now: "2026-10-20T00:00:00Z")
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-04"]?[2] == "0.01")
        let before = try h.counters()
        // Late Oct 2: Q = 1, 2, 3 on Oct 2, 3, 4 → A = 0.00, 0.01, 0.01 (0.012 rounds down).
        _ = try h.ingest([("inference", "2026-10-02", "\"tokens\": 1")], now: "2026-10-21T00:00:00Z")
        let rows = try h.rows("k/2026-10-01", "tok")
        #expect(rows["2026-10-02"]?[0...2] == ["1", "0.004", "0.00"])
        #expect(rows["2026-10-03"]?[2] == "0.01")
        #expect(rows["2026-10-04"]?[2] == "0.00")
        #expect(try h.counters()["line_item_days_changed"]! - before["line_item_days_changed"]! == 3)
        let invoice = try #require(try h.engine.invoices(now: try Timestamp(parsing: "2026-10-21T00:00:00Z")).first)
        #expect(invoice.totals.subtotal == FixedDecimal("0.01")!)  // round(3 × 0.004) = 0.01
    }

    @Test func backdatedEventAcrossATierBoundaryChangesLaterDays() throws {
        let h = try Harness(
            Self.catalog(
                rates: """
                    {"product": "tok", "tiers": [{"up_to": "100", "unit_price": "0.10"}, {"up_to": null, "unit_price": "0.05"}]}
                    """))
        // Oct 3: 80 → A=8.00. Oct 10: +40 → Q=120 → A = 100×0.10 + 20×0.05 = 11.00 → subtotal 3.00.
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 80"), ("inference", "2026-10-10", "\"tokens\": 40")],
            now: "2026-10-20T00:00:00Z")
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-10"]?[2] == "3.00")
        // Late Oct 5: +30 → Q(Oct 5)=110 → A = 10 + 0.50 = 10.50 → subtotal 2.50, unit price 0.05;
        // Oct 10: Q=150 → A = 10 + 2.50 = 12.50 → subtotal 2.00 (was 3.00), though no event moved that day.
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 30")], now: "2026-10-21T00:00:00Z")
        let rows = try h.rows("k/2026-10-01", "tok")
        #expect(rows["2026-10-04"] == ["0", "0.1", "0.00", "0.00", "0.00", "0.00"])
        #expect(rows["2026-10-05"] == ["30", "0.05", "2.50", "0.00", "0.00", "2.50"])
        #expect(rows["2026-10-10"] == ["40", "0.05", "2.00", "0.00", "0.00", "2.00"])
    }

    @Test func backdatedEventInAnEarlierMonthMovesALaterMonthsCommitDrawDown() throws {
        let h = try Harness(
            Self.catalog(
                rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}",
                balances: """
                    {"id": "promo", "type": "credit", "amount": "1.00", "starts": "2026-10-01", "ends": "2026-10-04", "products": ["tok"]},
                    {"id": "commit", "type": "commit", "amount": "10.00", "starts": "2026-10-01", "ends": "2027-01-01", "priority": 1}
                    """))
        // Oct 2: 150 tokens = 1.50: credit 1.00 first (priority 0), commit 0.50. Oct 5: 600 = 6.00 from the commit (3.50 left).
        // Nov 3: 500 = 5.00: commit 3.50, total 1.50.
        _ = try h.ingest(
            [
                ("inference", "2026-10-02", "\"tokens\": 150"), ("inference", "2026-10-05", "\"tokens\": 600"),
                ("inference", "2026-11-03", "\"tokens\": 500"),
            ], now: "2026-11-10T00:00:00Z")
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-02"] == ["150", "0.01", "1.50", "1.00", "0.50", "0.00"])
        #expect(try h.rows("k/2026-11-01", "tok")["2026-11-03"] == ["500", "0.01", "5.00", "0.00", "3.50", "1.50"])
        // Late Oct 20: 300 = 3.00 from the commit (0.50 left); Nov 3 now gets 0.50, total 4.50.
        _ = try h.ingest([("inference", "2026-10-20", "\"tokens\": 300")], now: "2026-11-11T00:00:00Z")
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-20"] == ["300", "0.01", "3.00", "0.00", "3.00", "0.00"])
        #expect(try h.rows("k/2026-11-01", "tok")["2026-11-03"] == ["500", "0.01", "5.00", "0.00", "0.50", "4.50"])
        let export = try h.engine.export(asOf: Day(parsing: "2026-11-05")!)
        let commit = export.balances.rows.filter { $0[0] == "commit" }
        #expect(
            commit.first { $0[4] == "2026-10-20" } == [
                "commit", "c", "k", "commit", "2026-10-20", "3.50", "3.00", "0.50",
            ])
        #expect(
            commit.first { $0[4] == "2026-11-03" } == [
                "commit", "c", "k", "commit", "2026-11-03", "0.50", "0.50", "0.00",
            ])
        #expect(
            export.balances.rows.filter { $0[0] == "promo" }.map { $0[4] } == [
                "2026-10-01", "2026-10-02", "2026-10-03",
            ])
    }

    @Test func maxKeepsDailyMaximaAndStopsEarly() throws {
        let h = try Harness(Self.catalog(rates: "{\"product\": \"gpu\", \"unit_price\": \"1\"}"))
        // Peak 5 from Oct 3, 8 from Oct 10: subtotals 5.00 on Oct 3, 3.00 on Oct 10.
        _ = try h.ingest(
            [("gpu", "2026-10-03", "\"gpus\": 5"), ("gpu", "2026-10-10", "\"gpus\": 8")], now: "2026-10-20T00:00:00Z")
        // Late 7 on Oct 6: Q = 5 (3–5), 7 (6–9), 8 → subtotal 2.00 on Oct 6, 1.00 on Oct 10.
        _ = try h.ingest([("gpu", "2026-10-06", "\"gpus\": 7")], now: "2026-10-21T00:00:00Z")
        var rows = try h.rows("k/2026-10-01", "gpu")
        #expect(rows["2026-10-06"] == ["2", "1", "2.00", "0.00", "0.00", "2.00"])
        #expect(rows["2026-10-10"] == ["1", "1", "1.00", "0.00", "0.00", "1.00"])
        // A late 4 on Oct 4 is below the peak already reached: nothing changes, one day evaluated.
        let before = try h.counters()
        _ = try h.ingest([("gpu", "2026-10-04", "\"gpus\": 4")], now: "2026-10-22T00:00:00Z")
        let after = try h.counters()
        #expect(after["line_item_days_changed"]! == before["line_item_days_changed"]!)
        #expect(after["line_item_days_evaluated"]! - before["line_item_days_evaluated"]! == 1)
        rows = try h.rows("k/2026-10-01", "gpu")
        #expect(rows["2026-10-04"]?[0] == "0")
    }

    @Test func uniqueCountMovesAValueToItsEarliestDay() throws {
        let h = try Harness(Self.catalog(rates: "{\"product\": \"seat\", \"unit_price\": \"12\"}"))
        _ = try h.ingest(
            [
                ("session", "2026-10-03", "\"user\": \"u1\""), ("session", "2026-10-05", "\"user\": \"u2\""),
                ("session", "2026-10-08", "\"user\": \"u1\""),
            ], now: "2026-10-20T00:00:00Z")
        var rows = try h.rows("k/2026-10-01", "seat")
        #expect(rows["2026-10-05"]?[0] == "1")
        #expect(rows["2026-10-08"]?[0] == "0")
        // u2 seen on Oct 2: distinct values 1 (Oct 2), 2 (Oct 3 on); Oct 5 adds none now.
        _ = try h.ingest([("session", "2026-10-02", "\"user\": \"u2\"")], now: "2026-10-21T00:00:00Z")
        rows = try h.rows("k/2026-10-01", "seat")
        #expect(rows["2026-10-02"] == ["1", "12", "12.00", "0.00", "0.00", "12.00"])
        #expect(rows["2026-10-03"]?[0] == "1")
        #expect(rows["2026-10-05"] == ["0", "12", "0.00", "0.00", "0.00", "0.00"])
    }

    @Test func duplicatesAreNeverBilledTwiceEvenWithOtherContent() throws {
        let h = try Harness(Self.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        let line = { (tokens: Int) in
            IngestRecord(
                bytes: Array(
                    "{\"transaction_id\": \"same\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-03T01:00:00Z\", \"properties\": {\"tokens\": \(tokens)}}"
                        .utf8), position: "x")
        }
        let first = try h.engine.ingest(
            [line(100), line(999)], source: "a", now: try Timestamp(parsing: "2026-10-04T00:00:00Z"))
        let later = try h.engine.ingest([line(5)], source: "b", now: try Timestamp(parsing: "2026-11-20T00:00:00Z"))
        #expect(first.accepted == 1 && first.duplicates == 1)
        #expect(later.duplicates == 1 && later.accepted == 0)
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-03"]?[0] == "100")
    }

    @Test func catalogChangesRecomputeOnlyTheContractsTheyAffect() throws {
        let other =
            ", {\"id\": \"d\", \"name\": \"D\", \"contracts\": [{\"id\": \"kd\", \"rate_card\": \"r2\", \"starts\": \"2026-10-01\", \"ends\": null}]}"
        func doc(price: String, newCustomer: Bool) -> [UInt8] {
            var text = String(
                decoding: Self.catalog(
                    rates: "{\"product\": \"tok\", \"unit_price\": \"\(price)\"}", extraCustomers: other), as: UTF8.self
            )
            text = text.replacingOccurrences(
                of: "\"rate_cards\": [",
                with: "\"rate_cards\": [{\"id\": \"r2\", \"rates\": [{\"product\": \"tok\", \"unit_price\": \"1\"}]}, ")
            if newCustomer {
                text = text.replacingOccurrences(
                    of: "\"customers\": [",
                    with:
                        "\"customers\": [{\"id\": \"late\", \"name\": \"L\", \"contracts\": [{\"id\": \"kl\", \"rate_card\": \"r2\", \"starts\": \"2026-10-01\", \"ends\": null}]}, "
                )
            }
            return Array(text.utf8)
        }
        let h = try Harness(doc(price: "0.01", newCustomer: false))
        try h.engine.applyCatalog(
            doc(price: "0.01", newCustomer: false), now: Timestamp(day: Day(parsing: "2026-10-01")!))
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 100"), ("inference", "2026-10-04", "\"tokens\": 100")],
            now: "2026-10-10T00:00:00Z")
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 7")], now: "2026-10-10T00:00:00Z", customer: "d")
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 3")], now: "2026-10-10T00:00:00Z", customer: "late")
        #expect(try h.engine.unbilledTable().rows.map { $0[2] } == ["late"])
        let before = try h.counters()["events_reread"]!
        // A price correction on r re-reads c's two events only; the new customer's contract bills its event.
        let change = try h.engine.applyCatalog(
            doc(price: "0.02", newCustomer: true), now: try Timestamp(parsing: "2026-10-10T00:00:00Z"))
        #expect(change.changed == ["k"])
        #expect(change.added == ["kl"])
        #expect(try h.counters()["events_reread"]! - before == 3)  // 2 of c + 1 of late; d untouched
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-03"]?[2] == "2.00")  // 100 × 0.02
        #expect(try h.rows("kd/2026-10-01", "tok")["2026-10-03"]?[2] == "7.00")  // 7 × 1, unchanged
        #expect(try h.rows("kl/2026-10-01", "tok")["2026-10-05"]?[2] == "3.00")  // 3 × 1, now billed
        #expect(try h.engine.unbilledTable().rows.isEmpty)
        #expect(try h.engine.verify().isEmpty)
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        let parts = split(separator: target, maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[0]) + replacement + String(parts[1]) : self
    }
}

@Suite("Record splitting")
struct RecordSplittingTests {
    @Test(arguments: [1, 2, 3, 7, 64, 10_000])
    func streamingGivesTheSameRecordsWhateverTheChunkSize(chunk: Int) {
        let text = "{\"a\": 1}\r\n\n   \n{\"b\": 2}\n{\"c\": \"x\"}\n\n{\"d\": 4}"
        let bytes = Array(text.utf8)
        let whole = RecordSplitter.splitLines(bytes)
        #expect(whole.map(\.position) == ["line 1", "line 4", "line 5", "line 7"])
        #expect(whole.first?.bytes == Array("{\"a\": 1}".utf8))  // the \r before \n is dropped
        var acc = LineAccumulator()
        var streamed: [IngestRecord] = []
        var i = 0
        while i < bytes.count {
            streamed += acc.feed(bytes[i..<min(i + chunk, bytes.count)])
            i += chunk
        }
        streamed += acc.finish()
        #expect(streamed == whole)
    }
}

@Suite("Checkpoints")
struct CheckpointTests {
    @Test func aCheckpointCommitsWithItsBatch() throws {
        let h = try ScenarioTests.Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        #expect(try h.engine.checkpoint(source: "file:x") == nil)
        let record = IngestRecord(
            bytes: Array(
                "{\"transaction_id\": \"c1\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-03T01:00:00Z\", \"properties\": {\"tokens\": 1}}"
                    .utf8), position: "offset 0")
        _ = try h.engine.ingest(
            [record], source: "file:x", now: try Timestamp(parsing: "2026-10-04T00:00:00Z"),
            checkpoint: Checkpoint(source: "file:x", value: [0, 0, 0, 143]))
        #expect(try h.engine.checkpoint(source: "file:x") == [0, 0, 0, 143])
        #expect(try h.engine.isLogged(transactionID: "c1"))
    }
}
