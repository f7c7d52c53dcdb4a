import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import LMDB
import Testing

/// Values as long as the spec allows (1024-byte property values, up to three group values in a
/// line-item id, long source names) are stored, counted, billed and drift like short ones: no key
/// grows past LMDB's 511 bytes (issue 8, item 1). Expected figures are worked out in the comments.
@Suite("Keys of unbounded parts")
struct UnboundedKeyTests {
    typealias Harness = ScenarioTests.Harness

    static func money(_ s: String) -> FixedDecimal { FixedDecimal(s)! }

    /// `count` bytes of `fill`, ending in `tail`.
    static func long(_ count: Int, _ tail: String, fill: Character = "x") -> String {
        String(repeating: fill, count: count - tail.utf8.count) + tail
    }

    @Test func uniqueCountValuesOf1024BytesAreCountedOnceEach() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"seat\", \"unit_price\": \"1\"}"))
        // Two 1024-byte values sharing their first 1023 bytes, and one number whose canonical
        // form is 1001 bytes ("1" and 1000 zeros), sent once as a number and once as a string.
        let v1 = Self.long(1024, "1"), v2 = Self.long(1024, "2")
        let big = "1" + String(repeating: "0", count: 1000)
        _ = try h.ingest(
            [
                ("session", "2026-10-05", "\"user\": \"\(v1)\""), ("session", "2026-10-07", "\"user\": \"\(v2)\""),
                ("session", "2026-10-09", "\"user\": \"\(v1)\""), ("session", "2026-10-11", "\"user\": 1e1000"),
                ("session", "2026-10-12", "\"user\": \"\(big)\""),
            ], now: "2026-10-20T00:00:00Z")
        // v2 seen earlier, late: its +1 moves from Oct 7 to Oct 3.
        let summary = try h.ingest([("session", "2026-10-03", "\"user\": \"\(v2)\"")], now: "2026-10-21T00:00:00Z")
        #expect(summary.accepted == 1)
        // Distinct: v1 (Oct 5), v2 (Oct 3), 10^1000 (Oct 11): 3 seats at 1.00.
        let rows = try h.rows("k/2026-10-01", "seat")
        #expect(rows["2026-10-03"]?[0] == "1")
        #expect(rows["2026-10-05"]?[0] == "1")
        #expect(rows["2026-10-07"]?[0] == "0")
        #expect(rows["2026-10-09"]?[0] == "0")
        #expect(rows["2026-10-11"]?[0] == "1")
        #expect(rows["2026-10-12"]?[0] == "0")
        let invoice = try #require(try h.engine.invoices(now: try Timestamp(parsing: "2026-10-21T00:00:00Z")).first)
        #expect(invoice.totals.subtotal == Self.money("3"))  // (invoices list no quantity: products differ)
    }

    /// `tokens` (sum) grouped by three properties; `filtered` keeps region `us` only.
    static func groupedCatalog(filtered: Bool) -> [UInt8] {
        let filter = filtered ? ", \"filters\": {\"region\": [\"us\"]}" : ""
        return Array(
            """
            {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 60, "finalization_grace_hours": 24,
             "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens",
                          "group_by": ["a", "b", "c"]\(filter)}],
             "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}],
             "rate_cards": [{"id": "r", "rates": [{"product": "tok", "unit_price": "0.01"}]}],
             "customers": [{"id": "c", "name": "C", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-10-01", "ends": null}]}]}
            """.utf8)
    }

    @Test func groupValuesOf1024BytesBillAndDriftInAFinalizedInvoiceAndResolve() throws {
        // Three group values of 1024 bytes each; `,` `=` `{` `}` are percent-encoded in the id (SPEC §3).
        let a1 = Self.long(1024, ",x=1", fill: "a"), a2 = Self.long(1024, ",x=2", fill: "a")
        let b = String(repeating: "b", count: 1024)
        let c = "{" + String(repeating: "c", count: 1022) + "}"
        func props(_ a: String, _ tokens: Int, _ region: String) -> String {
            "\"a\": \"\(a)\", \"b\": \"\(b)\", \"c\": \"\(c)\", \"tokens\": \(tokens), \"region\": \"\(region)\""
        }
        let cEncoded = "%7B" + String(repeating: "c", count: 1022) + "%7D"
        let aPrefix = String(repeating: "a", count: 1020)
        let l1 = "tok{a=\(aPrefix)%2Cx%3D1,b=\(b),c=\(cEncoded)}"
        let l2 = "tok{a=\(aPrefix)%2Cx%3D2,b=\(b),c=\(cEncoded)}"
        #expect(l1.utf8.count == 3 + 1 + 2 + 1028 + 3 + 1024 + 3 + 1028 + 1)

        let h = try Harness(Self.groupedCatalog(filtered: false))
        _ = try h.ingest([("inference", "2026-10-03", props(a1, 100, "us"))], now: "2026-10-20T00:00:00Z")
        // 100 tokens × 0.01 = 1.00 on Oct 3.
        #expect(try h.rows("k/2026-10-01", l1)["2026-10-03"] == ["100", "0.01", "1.00", "0.00", "0.00", "1.00"])
        _ = try h.engine.finalize(
            now: try Timestamp(parsing: "2026-10-25T00:00:00Z"), through: Day(parsing: "2026-11-01"))

        // Late into the finalized October: 50 tokens to a new line item (a2, region eu), 30 more to l1.
        let late = try h.ingest(
            [("inference", "2026-10-10", props(a2, 50, "eu")), ("inference", "2026-10-12", props(a1, 30, "us"))],
            now: "2026-10-26T00:00:00Z")
        #expect(late.accepted == 2)
        let drift = try h.engine.discrepancies()
        // l1 < l2 (they differ first at "1" vs "2"): l1 100 → 130 (1.00 → 1.30), l2 0 → 50 (0.00 → 0.50).
        #expect(drift.map(\.lineItemID) == [l1, l2])
        try #require(drift.count == 2)
        #expect(drift[0].finalized.quantity == FixedDecimal(100) && drift[0].current.quantity == FixedDecimal(130))
        #expect(drift[0].deltaTotal == Self.money("0.3"))
        #expect(drift[1].finalized.quantity == .zero && drift[1].current.quantity == FixedDecimal(50))
        #expect(drift[1].deltaTotal == Self.money("0.5"))
        #expect(drift.allSatisfy { $0.invoiceID == "k/2026-10-01" && $0.lateTransactionIDs == ["t2", "t3"] })
        #expect(try h.engine.discrepancies(invoice: "k/2026-10-01").map(\.lineItemID) == [l1, l2])
        #expect(try h.engine.openDriftCounts() == ["k/2026-10-01": 2])

        // Only region us counts now: the eu event leaves, l2 is back to its snapshot (nothing) and
        // resolves; l1 keeps its late 30 (130 ≠ 100) and stays open.
        _ = try h.engine.applyCatalog(
            Self.groupedCatalog(filtered: true), now: try Timestamp(parsing: "2026-10-27T00:00:00Z"))
        let open = try h.engine.discrepancies()
        #expect(open.map(\.lineItemID) == [l1])
        #expect(open.first?.current.quantity == FixedDecimal(130))
        let history = try h.engine.discrepancies(history: true)
        #expect(history.map(\.lineItemID) == [l2])
        #expect(history.first?.current == history.first?.finalized && history.first?.resolvedSeq != nil)
        #expect(history.first?.lateEventCount == 2)
        #expect(try h.engine.openDriftCounts() == ["k/2026-10-01": 1])
    }

    @Test func checkpointWithA2000ByteSourceNameRoundTrips() throws {
        let store = try TemporaryStore()
        let now = try Timestamp(parsing: "2026-10-20T00:00:00Z")
        let path = "/" + Self.long(2000 - 6, "1.ndjson", fill: "d")
        let other = "/" + Self.long(2000 - 6, "2.ndjson", fill: "d")
        let source = "file:" + path
        #expect(source.utf8.count == 2000)
        _ = try store.engine.ingest(
            [], source: source, now: now, checkpoint: Checkpoint(source: source, value: [1, 2]))
        #expect(try store.engine.checkpoint(source: source) == [1, 2])
        #expect(try store.engine.checkpoint(source: "file:" + other) == nil)
        _ = try store.engine.ingest(
            [], source: "file:" + other, now: now, checkpoint: Checkpoint(source: "file:" + other, value: [9]))
        _ = try store.engine.ingest([], source: source, now: now, checkpoint: Checkpoint(source: source, value: [3]))
        try store.reopen()
        #expect(try store.engine.checkpoint(source: source) == [3])
        #expect(try store.engine.checkpoint(source: "file:" + other) == [9])
    }

    @Test func aRecordThatFailsToStoreNamesItsSourceAndLine() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        // A damaged log: an entry far ahead of the engine's last seq, so appending seq 1 fails.
        let raw = try Store(path: h.store.path, durable: false)
        try raw.env.write { txn in try txn.put(Keys.seq(1000), [0], in: raw.log) }
        let records = IngestRecord.lines([
            "{\"transaction_id\": ",  // line 1: dead-lettered
            "{\"transaction_id\": \"t1\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-03T00:00:00Z\"}",
        ])
        var message: String?
        do {
            _ = try h.engine.ingest(
                records, source: "file:events.ndjson", now: try Timestamp(parsing: "2026-10-20T00:00:00Z"))
        } catch {
            message = "\(error)"
        }
        let text = try #require(message)
        #expect(text.contains("line 2 of file:events.ndjson"), "\(text)")
        #expect(text.contains("ingest the batch again"), "\(text)")
        // Nothing of the batch was stored: not even line 1's dead letter.
        #expect(try h.engine.deadLetters().isEmpty)
    }

    @Test func aStoreOfTheFormatBeforeDigestKeysIsRefused() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"),
            now: try Timestamp(parsing: "2026-10-01T00:00:00Z"))
        // Mark the store as format 1 (keys embedding line-item ids, values and source names).
        let raw = try Store(path: store.path, durable: false)
        try raw.env.write { txn in
            var state = try #require(try txn.get(EngineState.key, in: raw.meta))
            state[0] = 1
            try txn.put(EngineState.key, state, in: raw.meta)
        }
        var message: String?
        do { try store.reopen() } catch { message = "\(error)" }
        let text = try #require(message, "a format-1 store must not open")
        #expect(text.contains("format 1") && text.contains("reads format \(EngineState.formatVersion)"), "\(text)")
    }
}
