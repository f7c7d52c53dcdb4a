import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import LMDB
import Testing

/// `Engine.explain` (SPEC §6) on hand-worked histories: every expected figure is worked out in the
/// comments from the prices and quantities, not copied from the engine's output. The histories
/// use ``ScenarioTests/Harness``: contract `k` of customer `c` from 2026-10-01 (monthly), metrics
/// `tokens` (sum), `gpus` (max) and `users` (unique_count) for products `tok`, `gpu` and `seat`;
/// event `n` of a harness has transaction id `tn` and, all being accepted, log seq `n`.
@Suite("explain")
struct ExplainTests {
    typealias Harness = ScenarioTests.Harness
    static let invoice = "k/2026-10-01"
    static func day(_ text: String) -> Day { Day(parsing: text)! }
    static func d(_ text: String) -> FixedDecimal { FixedDecimal(text)! }

    @Test func tierCrossingOnTheDayShowsBothSplitsAndTheHalfEvenRounding() throws {
        let h = try Harness(
            ScenarioTests.catalog(
                rates: """
                    {"product": "tok", "tiers": [{"up_to": "100", "unit_price": "0.10"}, {"up_to": null, "unit_price": "0.0125"}]}
                    """))
        _ = try h.ingest(
            [
                ("inference", "2026-10-03", "\"tokens\": 80"), ("inference", "2026-10-05", "\"tokens\": 20"),
                ("session", "2026-10-05", "\"user\": \"u9\""), ("inference", "2026-10-05", "\"tokens\": 10"),
            ], now: "2026-10-20T00:00:00Z")
        let e = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "tok", day: Self.day("2026-10-05"))
        // The day of c has 3 events (t2, t3, t4); the session event t3 is not a token event.
        #expect(e.indexEntriesRead == 3)
        #expect(e.events.map(\.transactionID) == ["t2", "t4"])
        #expect(e.events.map(\.seq) == [2, 4])
        #expect(e.events.map(\.effect) == [.added(Self.d("20")), .added(Self.d("10"))])
        #expect(e.events.allSatisfy { !$0.late })
        #expect(e.events[0].timestamp == (try Timestamp(parsing: "2026-10-05T12:00:00Z")))
        #expect(e.events[0].ingestTime == (try Timestamp(parsing: "2026-10-20T00:00:00Z")))
        // Q(Oct 4) = 80 (Oct 3), c(Oct 5) = 20 + 10 = 30, Q(Oct 5) = 110.
        #expect(e.computed.previousCumulative == Self.d("80"))
        #expect(e.computed.contribution == Self.d("30"))
        #expect(e.computed.cumulative == Self.d("110"))
        #expect(e.computed.quantity == Self.d("30"))
        // P(80) = 80 × 0.10 = 8 → A = 8.00.
        #expect(
            e.previousPrice.tiers == [
                TierShare(
                    from: .zero, upTo: Self.d("100"), quantity: Self.d("80"), unitPrice: Self.d("0.1"), amount: "8")
            ])
        #expect(e.previousPrice.exact == "8")
        #expect(e.computed.previousAmount == Self.d("8"))
        // P(110) = 100 × 0.10 + 10 × 0.0125 = 10 + 0.125 = 10.125 → half-even to cents: 10.12.
        #expect(
            e.price.tiers == [
                TierShare(
                    from: .zero, upTo: Self.d("100"), quantity: Self.d("100"), unitPrice: Self.d("0.1"), amount: "10"),
                TierShare(
                    from: Self.d("100"), upTo: nil, quantity: Self.d("10"), unitPrice: Self.d("0.0125"), amount: "0.125"
                ),
            ])
        #expect(e.price.exact == "10.125")
        #expect(e.computed.amount == Self.d("10.12"))
        // Subtotal 10.12 − 8.00 = 2.12; Q = 110 is above the first bound: unit price 0.0125.
        #expect(e.computed.subtotal == Self.d("2.12"))
        #expect(e.unitPrice == Self.d("0.0125"))
        #expect(e.balances.isEmpty && e.computed.credits.isZero && e.computed.commits.isZero)
        #expect(e.computed.total == Self.d("2.12"))
        #expect(e.mismatches.isEmpty)
        #expect(e.stored == e.computed)
        #expect(e.status == .draft && e.finalization == nil)
        // The breakdown row says the same.
        #expect(try h.rows(Self.invoice, "tok")["2026-10-05"] == ["30", "0.0125", "2.12", "0.00", "0.00", "2.12"])

        // The JSON: one object, money with the currency's decimals, quantities canonical.
        guard case .object(let json) = try StrictJSON.parse(e.json) else {
            Issue.record("explain JSON is not an object")
            return
        }
        #expect(json["q_previous"] == .string("80"))
        #expect(json["contribution"] == .string("30"))
        #expect(json["q"] == .string("110"))
        #expect(json["quantity"] == .string("30"))
        #expect(json["a_previous"] == .string("8.00"))
        #expect(json["a"] == .string("10.12"))
        #expect(json["subtotal"] == .string("2.12"))
        #expect(json["total"] == .string("2.12"))
        #expect(json["index_entries_read"] == .number("3"))
        #expect(json["matches_stored"] == .bool(true))
        #expect(json["finalization"] == .null)
        guard case .object(let p) = json["p"], case .array(let tiers) = p["tiers"],
            case .object(let second) = tiers.last
        else {
            Issue.record("explain JSON has no p.tiers")
            return
        }
        #expect(p["exact"] == .string("10.125"))
        #expect(second["from"] == .string("100") && second["up_to"] == .null && second["amount"] == .string("0.125"))
        #expect(e.text.contains("P(Q(d)) = P(110) = 10.125"))
        #expect(e.text.contains("A(d) = round(10.125) = 10.12"))
    }

    @Test func uniqueCountSaysWhichValuesWereSeenBeforeAndFollowsABackdatedFirstSighting() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"seat\", \"unit_price\": \"2.00\"}"))
        _ = try h.ingest(
            [
                ("session", "2026-10-03", "\"user\": \"u1\""), ("session", "2026-10-05", "\"user\": \"u1\""),
                ("session", "2026-10-05", "\"user\": \"u2\""), ("session", "2026-10-05", "\"user\": \"u2\""),
            ], now: "2026-10-20T00:00:00Z")
        let oct5 = Self.day("2026-10-05")
        var e = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "seat", day: oct5)
        // u1 came on Oct 3; u2 is new on Oct 5 (once): c = 1, Q = 1 → 2, A = 2.00 → 4.00.
        #expect(
            e.events.map(\.effect) == [
                .seenBefore("u1", firstDay: Self.day("2026-10-03")), .firstSeen("u2"), .repeatedToday("u2"),
            ])
        #expect(e.events.map(\.transactionID) == ["t2", "t3", "t4"])
        #expect(e.computed.contribution == Self.d("1"))
        #expect(e.computed.previousCumulative == Self.d("1") && e.computed.cumulative == Self.d("2"))
        #expect(e.computed.previousAmount == Self.d("2") && e.computed.amount == Self.d("4"))
        #expect(e.computed.subtotal == Self.d("2"))
        #expect(e.mismatches.isEmpty)

        // u2 backdated to Oct 4: Oct 5 now adds nothing (Q stays 2), Oct 4 gets the +1.
        _ = try h.ingest([("session", "2026-10-04", "\"user\": \"u2\"")], now: "2026-10-21T00:00:00Z")
        e = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "seat", day: oct5)
        #expect(
            e.events.map(\.effect) == [
                .seenBefore("u1", firstDay: Self.day("2026-10-03")),
                .seenBefore("u2", firstDay: Self.day("2026-10-04")),
                .repeatedToday("u2"),
            ])
        #expect(e.computed.contribution.isZero && e.computed.quantity.isZero && e.computed.subtotal.isZero)
        #expect(e.computed.previousCumulative == Self.d("2"))
        #expect(e.mismatches.isEmpty)
        let oct4 = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "seat", day: Self.day("2026-10-04"))
        #expect(oct4.events.map(\.effect) == [.firstSeen("u2")])
        #expect(oct4.events.map(\.seq) == [5])
        #expect(oct4.computed.quantity == Self.d("1") && oct4.computed.subtotal == Self.d("2"))
        #expect(oct4.mismatches.isEmpty)
    }

    @Test func maxNamesTheDaysMaximumAndADayBelowTheRunningMaximumAddsNothing() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"gpu\", \"unit_price\": \"1.25\"}"))
        _ = try h.ingest(
            [
                ("gpu", "2026-10-03", "\"gpus\": 4"), ("gpu", "2026-10-05", "\"gpus\": 2"),
                ("gpu", "2026-10-05", "\"gpus\": 6"), ("gpu", "2026-10-05", "\"gpus\": 6"),
                ("gpu", "2026-10-05", "\"gpus\": 3"), ("gpu", "2026-10-06", "\"gpus\": 5"),
            ], now: "2026-10-20T00:00:00Z")
        let e = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "gpu", day: Self.day("2026-10-05"))
        // The day's maximum is 6 (t3 the first with it); Q = max(4, 6) = 6; quantity 2;
        // A = 4 × 1.25 = 5.00 → 6 × 1.25 = 7.50; subtotal 2.50.
        #expect(
            e.events.map(\.effect) == [
                .belowDayMaximum(Self.d("2")), .dayMaximum(Self.d("6")), .belowDayMaximum(Self.d("6")),
                .belowDayMaximum(Self.d("3")),
            ])
        #expect(e.computed.contribution == Self.d("6"))
        #expect(e.computed.previousCumulative == Self.d("4") && e.computed.cumulative == Self.d("6"))
        #expect(e.computed.quantity == Self.d("2"))
        #expect(e.computed.previousAmount == Self.d("5") && e.computed.amount == Self.d("7.5"))
        #expect(e.computed.subtotal == Self.d("2.5"))
        #expect(e.mismatches.isEmpty)
        #expect(e.text.contains("Q(d)     = max(Q(d−1), c(d)) = max(4, 6) = 6"))
        // Oct 6: c = 5 < Q(Oct 5) = 6: Q stays 6, quantity 0, subtotal 0.
        let oct6 = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "gpu", day: Self.day("2026-10-06"))
        #expect(oct6.events.map(\.effect) == [.dayMaximum(Self.d("5"))])
        #expect(oct6.computed.contribution == Self.d("5") && oct6.computed.cumulative == Self.d("6"))
        #expect(oct6.computed.quantity.isZero && oct6.computed.subtotal.isZero)
        #expect(oct6.mismatches.isEmpty)
    }

    @Test func balanceDrawDownAcrossTwoLineItemsOfADayInByteOrder() throws {
        let h = try Harness(
            ScenarioTests.catalog(
                rates:
                    "{\"product\": \"tok\", \"unit_price\": \"0.01\"}, {\"product\": \"gpu\", \"unit_price\": \"1.00\"}",
                balances: """
                    {"id": "cr", "type": "credit", "amount": "3.00", "starts": "2026-10-01", "ends": "2026-12-01", "products": null, "priority": 0},
                    {"id": "cm", "type": "commit", "amount": "10.00", "starts": "2026-10-01", "ends": "2026-12-01", "products": null, "priority": 1},
                    {"id": "sc", "type": "credit", "amount": "50.00", "starts": "2026-10-01", "ends": "2026-12-01", "products": ["seat"], "priority": 0}
                    """))
        _ = try h.ingest(
            [
                ("gpu", "2026-10-05", "\"gpus\": 2"), ("inference", "2026-10-05", "\"tokens\": 250"),
                ("inference", "2026-10-06", "\"tokens\": 100"),
            ], now: "2026-10-20T00:00:00Z")
        let oct5 = Self.day("2026-10-05")
        func draws(_ e: Explanation) -> [[String]] {
            e.balances.map { b in
                [b.balanceID]
                    + [b.opening, b.beforeLineItem, b.drawn, b.afterLineItem, b.closing].map {
                        $0.formatted(decimals: 2)
                    }
            }
        }
        // Oct 5: gpu (2 × 1.00 = 2.00) draws first ("gpu" < "tok"): cr 3.00 → 1.00. Then tok
        // (250 × 0.01 = 2.50): cr gives its last 1.00, cm 1.50 (10.00 → 8.50). The seat-only credit
        // does not apply to either and is not listed.
        let gpu = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "gpu", day: oct5)
        #expect(
            draws(gpu) == [
                ["cr", "3.00", "3.00", "2.00", "1.00", "0.00"], ["cm", "10.00", "10.00", "0.00", "10.00", "8.50"],
            ])
        #expect(gpu.computed.credits == Self.d("2") && gpu.computed.commits.isZero && gpu.computed.total.isZero)
        let tok = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "tok", day: oct5)
        #expect(
            draws(tok) == [
                ["cr", "3.00", "1.00", "1.00", "0.00", "0.00"], ["cm", "10.00", "10.00", "1.50", "8.50", "8.50"],
            ])
        #expect(tok.computed.subtotal == Self.d("2.5"))
        #expect(
            tok.computed.credits == Self.d("1") && tok.computed.commits == Self.d("1.5") && tok.computed.total.isZero)
        #expect(gpu.mismatches.isEmpty && tok.mismatches.isEmpty)
        // Oct 6 opens with Oct 5's closing: tok 100 × 0.01 = 1.00, all from cm (8.50 → 7.50).
        let oct6 = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "tok", day: Self.day("2026-10-06"))
        #expect(
            draws(oct6) == [
                ["cr", "0.00", "0.00", "0.00", "0.00", "0.00"], ["cm", "8.50", "8.50", "1.00", "7.50", "7.50"],
            ])
        #expect(oct6.computed.commits == Self.d("1") && oct6.mismatches.isEmpty)
        // November's invoice (no write reached it: computed in the read's overlay) opens with
        // October 31's closing, cm 7.50; nothing is charged on Nov 2.
        let nov = try h.engine.explain(invoiceID: "k/2026-11-01", lineItemID: "tok", day: Self.day("2026-11-02"))
        #expect(
            draws(nov) == [
                ["cr", "0.00", "0.00", "0.00", "0.00", "0.00"], ["cm", "7.50", "7.50", "0.00", "7.50", "7.50"],
            ])
        #expect(nov.indexEntriesRead == 0 && nov.events.isEmpty && nov.mismatches.isEmpty)
    }

    @Test func finalizedInvoiceShowsTheSnapshotAndTheLateEventsOfTheRow() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 100")], now: "2026-10-20T00:00:00Z")
        // At Nov 2 00:00 (period end + 24 h grace) October is finalized before the batch applies:
        // the snapshot is at seq 1. t2 (Oct 5) and t3 (Oct 6) are late.
        _ = try h.ingest(
            [("inference", "2026-10-05", "\"tokens\": 50"), ("inference", "2026-10-06", "\"tokens\": 7")],
            now: "2026-11-02T00:00:00Z")
        let e = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "tok", day: Self.day("2026-10-05"))
        #expect(e.status == .finalized)
        let f = try #require(e.finalization)
        #expect(f.seq == 1)
        #expect(f.finalizedAt == (try Timestamp(parsing: "2026-11-02T00:00:00Z")))
        #expect(e.events.map(\.transactionID) == ["t1", "t2"])
        #expect(e.events.map(\.late) == [false, true])
        #expect(e.lateEvents.map(\.transactionID) == ["t2"])
        // The row: 100 + 50 = 150 tokens, 1.50. Snapshot of the period: 100 tokens, 1.00;
        // live: 157 tokens, 1.57; two late events on the invoice.
        #expect(e.computed.quantity == Self.d("150") && e.computed.subtotal == Self.d("1.5"))
        #expect(
            f.snapshot.quantity == Self.d("100") && f.snapshot.subtotal == Self.d("1")
                && f.snapshot.total == Self.d("1"))
        #expect(f.current.quantity == Self.d("157") && f.current.subtotal == Self.d("1.57"))
        #expect(f.lateEventCount == 2)
        #expect(e.mismatches.isEmpty)
        guard case .object(let json) = try StrictJSON.parse(e.json), case .object(let fj) = json["finalization"] else {
            Issue.record("explain JSON has no finalization object")
            return
        }
        #expect(json["status"] == .string("finalized"))
        #expect(fj["seq"] == .number("1") && fj["late_event_count"] == .number("2"))
        #expect(fj["late_transaction_ids_of_row"] == .array([.string("t2")]))
        #expect(fj["delta_total"] == .string("0.57"))
        #expect(
            e.text.contains("late events since finalization: 2 on the invoice; 1 of them behind this row: t2 (seq 2)"))
    }

    /// SPEC §6: `explain` works on a replay. Replayed to the end it says what the live store
    /// says; replayed to the snapshot's seq (1) the late event is not there yet.
    @Test func explainOnAReplayAsOfTheSnapshotHasNoLateEvents() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 100")], now: "2026-10-20T00:00:00Z")
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 50")], now: "2026-11-02T00:00:00Z")
        let oct5 = Self.day("2026-10-05")
        let live = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "tok", day: oct5)
        let directory = FileManager.default.temporaryDirectory.path + "/daybook-explain-replay-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try h.engine.replay(into: directory + "/end")
        #expect(
            try Engine(path: directory + "/end", access: .read).explain(
                invoiceID: Self.invoice, lineItemID: "tok", day: oct5) == live)
        _ = try h.engine.replay(into: directory + "/seq1", asOf: .seq(1))
        let then = try Engine(path: directory + "/seq1", access: .read).explain(
            invoiceID: Self.invoice, lineItemID: "tok", day: oct5)
        // Finalized at seq 1 with t1 only: 100 tokens, 1.00, nothing late, nothing drifted.
        #expect(then.status == .finalized && then.finalization?.seq == 1)
        #expect(then.events.map(\.transactionID) == ["t1"] && then.lateEvents.isEmpty)
        #expect(then.computed.quantity == Self.d("100") && then.computed.subtotal == Self.d("1"))
        #expect(then.finalization?.lateEventCount == 0 && then.mismatches.isEmpty)
    }

    @Test func aFixedFeeRowHasNoEvents() throws {
        let catalog = ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}")
        let withFee = String(decoding: catalog, as: UTF8.self)
            .replacingOccurrences(
                of: "{\"id\": \"seat\", \"name\": \"Seats\", \"metric\": \"users\"}",
                with:
                    "{\"id\": \"seat\", \"name\": \"Seats\", \"metric\": \"users\"}, {\"id\": \"fee\", \"name\": \"Fee\", \"fixed\": true}"
            )
            .replacingOccurrences(
                of: "\"rates\": [", with: "\"rates\": [{\"product\": \"fee\", \"unit_price\": \"5.00\"}, ")
        let h = try Harness(Array(withFee.utf8))
        _ = try h.ingest([("inference", "2026-10-01", "\"tokens\": 10")], now: "2026-10-20T00:00:00Z")
        // Day 1: quantity 1, A = 5.00, subtotal 5.00; day 2: Q stays 1, subtotal 0.
        let first = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "fee", day: Self.day("2026-10-01"))
        #expect(first.basis == .fixed(fee: Self.d("5")))
        #expect(first.events.isEmpty && first.indexEntriesRead == 0)
        #expect(first.computed.quantity == Self.d("1") && first.computed.subtotal == Self.d("5"))
        #expect(first.mismatches.isEmpty)
        let second = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "fee", day: Self.day("2026-10-02"))
        #expect(second.computed.quantity.isZero && second.computed.subtotal.isZero && second.mismatches.isEmpty)
    }

    @Test func unknownInvoiceLineItemOrDayIsNotFoundAndSaysWhatExists() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest([("inference", "2026-10-05", "\"tokens\": 1")], now: "2026-10-20T00:00:00Z")
        func failure(_ invoice: String, _ lineItem: String, _ day: String) -> EngineError? {
            do {
                _ = try h.engine.explain(invoiceID: invoice, lineItemID: lineItem, day: Self.day(day))
                return nil
            } catch let e as EngineError {
                return e
            } catch {
                Issue.record("unexpected \(error)")
                return nil
            }
        }
        let lineItem = try #require(failure(Self.invoice, "nope", "2026-10-05"))
        #expect(lineItem.code == .notFound && lineItem.message.contains("its line items: tok"))
        let day = try #require(failure(Self.invoice, "tok", "2026-11-01"))
        #expect(day.code == .notFound && day.message.contains("its period is 2026-10-01 to 2026-10-31"))
        let start = try #require(failure("k/2026-10-02", "tok", "2026-10-05"))
        #expect(start.code == .notFound && start.message.contains("the invoice of 2026-10-02 is k/2026-10-01"))
        let contract = try #require(failure("zz/2026-10-01", "tok", "2026-10-05"))
        #expect(contract.code == .notFound && contract.message.contains("contracts: k"))
        #expect(try #require(failure("nonsense", "tok", "2026-10-05")).code == .notFound)
    }

    @Test func anIndexEntryMissingFromTheDayShowsAsAMismatch() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest(
            [("inference", "2026-10-05", "\"tokens\": 20"), ("inference", "2026-10-05", "\"tokens\": 10")],
            now: "2026-10-20T00:00:00Z")
        // Damage the index: t2 (seq 2) no longer listed under (c, Oct 5). The stored row still has 30.
        // (One batch wrote both: one entry, keyed by seq 1, listing seq 2 after it.)
        let raw = try Store(path: h.store.path, durable: false)
        try raw.env.write { txn in
            let key = Keys.customerDay("c", day: Self.day("2026-10-05"), seq: 1)
            #expect(try txn.get(key, in: raw.byDay) == Keys.daySeqsValue([1, 2]))
            try txn.put(key, Keys.daySeqsValue([1]), in: raw.byDay)
        }
        let e = try h.engine.explain(invoiceID: Self.invoice, lineItemID: "tok", day: Self.day("2026-10-05"))
        #expect(e.events.map(\.transactionID) == ["t1"])
        #expect(e.computed.contribution == Self.d("20") && e.stored.contribution == Self.d("30"))
        #expect(e.mismatches.map(\.what) == ["c(d)", "Q(d)", "A(d)"])
        #expect(e.mismatches.first == Explanation.Mismatch(what: "c(d)", computed: "20", stored: "30"))
        #expect(e.text.contains("MISMATCH"))
        #expect(e.json.contains("\"matches_stored\": false"))
    }
}

/// `explain` on random histories (``RandomHistory``: backdated events, duplicates, rejected values,
/// catalog changes): after every batch, for a sample of rows of the from-scratch reference export
/// (``ReferenceBilling``), the explanation lists exactly the logged events of that customer and
/// day that the line item's metric counts (in log order, seq = position in the log), each with the
/// effect worked out here from the whole log, and its arithmetic gives exactly the reference row.
@Suite("explain on random histories")
struct ExplainPropertyTests {
    @Test(arguments: Array(0..<24))
    func explainedRowsAreTheReferenceRows(seed: Int) throws {
        let history = RandomHistory(seed: UInt64(7000 + seed))
        let store = try TemporaryStore()
        var log = LogModel()
        var catalog: Catalog?
        var rng = SplitMix64(seed: UInt64(seed) &* 31 &+ 5)
        var explained = 0, usage = 0
        for (index, step) in history.steps.enumerated() {
            switch step {
            case .catalog(let model, _, let now):
                try store.engine.applyCatalog(model.bytes, now: now)
                catalog = try Catalog.parse(model.bytes)
            case .ingest(let lines, let now):
                _ = log.ingest(lines, now: now, catalog: catalog!)
                _ = try store.engine.ingest(IngestRecord.lines(lines), source: "property", now: now)
                let problems = try check(
                    store.engine, catalog!, log.events, asOf: now.day.adding(days: 1), &rng, explained: &explained,
                    usage: &usage)
                if !problems.isEmpty {
                    Issue.record("seed \(seed), step \(index):\n\(problems.prefix(8).joined(separator: "\n"))")
                    return
                }
            }
        }
        // A history whose catalog bills nobody (every customer unknown) has no rows to explain.
        if usage > 0 { #expect(explained > 20, "seed \(seed): only \(explained) rows explained") }
    }

    /// Explains a sample of the reference rows (most with usage, a few at random) and lists what differs.
    func check(
        _ engine: Engine, _ catalog: Catalog, _ events: [UsageEvent], asOf: Day, _ rng: inout SplitMix64,
        explained: inout Int, usage: inout Int
    ) throws -> [String] {
        let rows = ReferenceBilling.export(catalog: catalog, events: events, asOf: asOf, finalizedInvoiceIDs: [])
            .lineItems.rows
        guard !rows.isEmpty else { return [] }
        let decimals = catalog.currencyDecimals
        let busy = rows.indices.filter { rows[$0][7] != "0" || FixedDecimal(rows[$0][9])! != .zero }
        var sample = (0..<5).map { _ in rng.int(0...(rows.count - 1)) }
        if !busy.isEmpty { sample += (0..<12).map { _ in rng.pick(busy) } }
        var problems: [String] = []
        for r in sample {
            let row = rows[r]
            let (invoiceID, customer, lineItemID, productID, group) = (row[0], row[1], row[2], row[3], row[5])
            let day = Day(parsing: row[6])!
            let e = try engine.explain(invoiceID: invoiceID, lineItemID: lineItemID, day: day)
            explained += 1
            if row[7] != "0" { usage += 1 }
            let name = "\(invoiceID) \(lineItemID) \(day)"
            if !e.mismatches.isEmpty { problems.append("\(name): mismatches \(e.mismatches)") }
            let c = e.computed
            let got = [
                c.quantity.canonical, e.unitPrice.canonical, c.subtotal.formatted(decimals: decimals),
                c.credits.formatted(decimals: decimals), c.commits.formatted(decimals: decimals),
                c.total.formatted(decimals: decimals),
            ]
            if got != Array(row[7...12]) {
                problems.append("\(name): explained \(got), reference \(Array(row[7...12]))")
            }
            // Q(d−1): the reference's daily quantities of the earlier days add up to it.
            let earlier = rows.filter { $0[0] == invoiceID && $0[2] == lineItemID && $0[6] < row[6] }
            let previous = earlier.reduce(FixedDecimal.zero) { $0 + FixedDecimal($1[7])! }
            if c.previousCumulative != previous {
                problems.append("\(name): Q(d−1) \(c.previousCumulative), reference \(previous)")
            }
            guard let metric = catalog.products[productID]?.metric.flatMap({ catalog.metrics[$0] }) else {
                if !e.events.isEmpty { problems.append("\(name): a fixed fee lists events") }
                continue
            }
            // The events the log model says are behind the row, with their effects.
            let start = Day(parsing: String(invoiceID[invoiceID.index(after: invoiceID.lastIndex(of: "/")!)...]))!
            var counted: [(seq: UInt64, id: String, contribution: MetricContribution, day: Day)] = []
            for (i, event) in events.enumerated() where event.customerID == customer {
                guard event.day >= start, event.day <= day,
                    case .contributes(let contribution, let g) = metric.evaluate(event), g == group
                else { continue }
                counted.append((UInt64(i + 1), event.transactionID, contribution, event.day))
            }
            let today = counted.filter { $0.day == day }
            let expected = Self.effects(today.map(\.contribution), earlier: counted.filter { $0.day < day }, metric)
            let listed = e.events.map { "\($0.seq) \($0.transactionID) \($0.effect)" }
            let wanted = zip(today, expected).map { "\($0.0.seq) \($0.0.id) \($0.1)" }
            if listed != wanted { problems.append("\(name): events \(listed), log model \(wanted)") }
            // The listed events reproduce the row's quantity.
            var contribution = FixedDecimal.zero
            for event in e.events {
                switch event.effect {
                case .counted, .firstSeen: contribution = contribution + FixedDecimal(1)
                case .added(let v): contribution = contribution + v
                case .dayMaximum(let v): contribution = max(contribution, v)
                case .belowDayMaximum, .repeatedToday, .seenBefore: break
                }
            }
            let q = metric.aggregation == .max ? max(previous, contribution) : previous + contribution
            if (q - previous).canonical != row[7] {
                problems.append(
                    "\(name): the listed events give quantity \((q - previous).canonical), reference \(row[7])")
            }
        }
        return problems
    }

    /// What each of the day's contributions (in log order) does, given the line item's earlier days.
    static func effects(
        _ today: [MetricContribution], earlier: [(seq: UInt64, id: String, contribution: MetricContribution, day: Day)],
        _ metric: Metric
    ) -> [Explanation.Event.Effect] {
        var firstDays: [String: Day] = [:]
        for e in earlier {
            if case .distinct(let v) = e.contribution { firstDays[v] = min(firstDays[v] ?? e.day, e.day) }
        }
        let top = today.reduce(FixedDecimal.zero) { m, c in
            if case .value(let v) = c { return max(m, v) }
            return m
        }
        var sawTop = false
        var seenToday = Set<String>()
        return today.map { c in
            switch c {
            case .one: return .counted
            case .value(let v):
                guard metric.aggregation == .max else { return .added(v) }
                if !sawTop && v == top {
                    sawTop = true
                    return .dayMaximum(v)
                }
                return .belowDayMaximum(v)
            case .distinct(let v):
                if let first = firstDays[v] { return .seenBefore(v, firstDay: first) }
                return seenToday.insert(v).inserted ? .firstSeen(v) : .repeatedToday(v)
            }
        }
    }
}
