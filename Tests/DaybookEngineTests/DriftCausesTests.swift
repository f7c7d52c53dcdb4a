import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import Foundation
import Testing

/// The causes of drift stay bounded however many late events an invoice has (SPEC §4): a count,
/// the first 100 transaction ids in log order, and history keeps them as of its resolution.
@Suite("Causes of drift")
struct DriftCausesTests {
    typealias Harness = ScenarioTests.Harness

    static let tokens = ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}")

    /// `late-00042`: ids of one width, so reports of different backfills differ only in counts.
    static func lateID(_ i: Int) -> String {
        let digits = String(i)
        return "late-" + String(repeating: "0", count: 5 - digits.count) + digits
    }

    /// A record of customer `c` (or `customer`) with an explicit id and timestamp.
    static func record(
        _ id: String, _ timestamp: String, type: String = "inference", tokens: Int = 1, customer: String = "c"
    ) -> IngestRecord {
        let props = type == "gpu" ? "\"gpus\": 2" : "\"tokens\": \(tokens)"
        return IngestRecord(
            bytes: Array(
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"\(type)\", \"timestamp\": \"\(timestamp)\", \"properties\": {\(props)}}"
                    .utf8),
            position: id)
    }

    /// An October time for late event `i`, spread over the first `days` days and the hours.
    static func octoberTime(_ i: Int, days: Int = 31) -> String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "2026-10-\(two(1 + i % days))T\(two(i % 24)):\(two(i % 60)):\(two((i * 7) % 60))Z"
    }

    static func ts(_ s: String) throws -> Timestamp { try Timestamp(parsing: s) }

    /// October finalized with 100 tokens (t1, t2), then `count` late October events in two
    /// batches (the first `firstBatch`, then the rest), each carrying `tokens(i)`.
    static func backfill(_ count: Int, firstBatch: Int, tokens: (Int) -> Int = { _ in 1 }) throws -> Harness {
        let h = try Harness(Self.tokens)
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 60"), ("inference", "2026-10-09", "\"tokens\": 40")],
            now: "2026-10-25T00:00:00Z")
        // October ends Nov 1; with 24 h grace the Nov 3 batch finalizes it before it applies.
        let late = (0..<count).map { record(lateID($0), octoberTime($0), tokens: tokens($0)) }
        _ = try h.engine.ingest(Array(late[..<firstBatch]), source: "backfill", now: try ts("2026-11-03T00:00:00Z"))
        _ = try h.engine.ingest(Array(late[firstBatch...]), source: "backfill", now: try ts("2026-11-04T06:30:00Z"))
        return h
    }

    @Test func aBackfillOf250LateEventsIsCountedWithTheFirst100IdsInLogOrder() throws {
        let h = try Harness(Self.tokens)
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 100")], now: "2026-10-25T00:00:00Z")
        let late = (0..<250).map { Self.record(Self.lateID($0), Self.octoberTime($0)) }
        // Batch 1 (finalizes October first): 60 late events, and events that are not late ones of
        // October: one for November (a draft), one of a type the rate card does not meter, one of
        // an unknown customer.
        var first = Array(late[..<60])
        first.insert(Self.record("nov-1", "2026-11-02T08:00:00Z"), at: 10)
        first.insert(Self.record("gpu-1", "2026-10-05T08:00:00Z", type: "gpu"), at: 20)
        first.insert(Self.record("who-1", "2026-10-05T08:00:00Z", customer: "nobody"), at: 30)
        let s1 = try h.engine.ingest(first, source: "backfill", now: try Self.ts("2026-11-03T00:00:00Z"))
        #expect(s1.accepted == 63)
        // Batch 2: the other 190, a duplicate of a late event (not logged again) and another November event.
        var second = Array(late[60...])
        second.insert(Self.record(Self.lateID(10), Self.octoberTime(10)), at: 5)
        second.insert(Self.record("nov-2", "2026-11-03T08:00:00Z"), at: 100)
        let s2 = try h.engine.ingest(second, source: "backfill", now: try Self.ts("2026-11-04T06:30:00Z"))
        #expect(s2.accepted == 191 && s2.duplicates == 1)

        let drift = try h.engine.discrepancies()
        try #require(drift.count == 1)
        let d = drift[0]
        #expect(d.invoiceID == "k/2026-10-01" && d.lineItemID == "tok")
        // 100 + 250 tokens × 0.01.
        #expect(d.finalized.total == FixedDecimal(1) && d.current.total == FixedDecimal("3.5")!)
        #expect(d.lateEventCount == 250)
        #expect(d.lateTransactionIDs == (0..<100).map(Self.lateID))

        let json =
            try JSONSerialization.jsonObject(with: Data(h.engine.discrepanciesJSON(drift).utf8)) as! [[String: Any]]
        let causes = try #require(json.first?["causes"] as? [String: Any])
        #expect(causes["late_event_count"] as? Int == 250)
        #expect((causes["late_transaction_ids"] as? [String])?.count == 100)
        #expect((causes["late_transaction_ids"] as? [String])?.last == Self.lateID(99))
        #expect(causes["via_invoices"] as? [String] == [] && causes["catalog_versions"] as? [Int] == [])
        // The table and CSV carry the count in their own column.
        let table = h.engine.discrepanciesTable(drift)
        let column = try #require(table.columns.firstIndex(of: "late_event_count"))
        #expect(table.rows.map { $0[column] } == ["250"])

        // Every late event, in log order: seq 1 is t1; seqs follow the accepted records of each batch.
        var expected: [LateEvent] = []
        var seq: UInt64 = 1
        for (batch, now) in [(first, "2026-11-03T00:00:00Z"), (second, "2026-11-04T06:30:00Z")] {
            var seen: Set<String> = Set(expected.map(\.transactionID))
            for r in batch {
                let id = r.position
                guard !seen.contains(id) else { continue }  // the duplicate
                seen.insert(id)
                seq += 1
                guard id.hasPrefix("late-") else { continue }
                let i = Int(id.dropFirst(5))!
                expected.append(
                    LateEvent(
                        transactionID: id, seq: seq, timestamp: try Self.ts(Self.octoberTime(i)),
                        ingestTime: try Self.ts(now)))
            }
        }
        var listed: [LateEvent] = []
        try h.engine.lateEvents(invoice: "k/2026-10-01") { listed.append($0) }
        #expect(listed.count == 250)
        #expect(listed == expected)
        let extent = try h.engine.lateEventExtent(invoice: "k/2026-10-01")
        #expect(extent.count == 250 && extent.widestID == 10 && extent.lastSeq == expected.last!.seq)
        // November is not finalized: nothing late; an unknown invoice is an error.
        var november = 0
        try h.engine.lateEvents(invoice: "k/2026-11-01") { _ in november += 1 }
        #expect(november == 0)
        #expect(throws: EngineError.self) { try h.engine.lateEvents(invoice: "k/2026-10-02") { _ in } }
        #expect(throws: EngineError.self) { try h.engine.discrepancies(invoice: "nope/2026-10-01") }
        #expect(try h.engine.discrepancies(invoice: "k/2026-10-01").map(\.lateEventCount) == [250])
        #expect(try h.engine.discrepancies(invoice: "k/2026-11-01").isEmpty)
    }

    @Test func theReportDoesNotGrowWithTheBackfill() throws {
        // The first late event adds 50 tokens; the others add 0 (late, but moving nothing), so
        // both stores drift identically and only the count differs.
        func report(_ n: Int) throws -> (String, [DriftRecord]) {
            let h = try Self.backfill(n, firstBatch: 50) { $0 == 0 ? 50 : 0 }
            let drift = try h.engine.discrepancies()
            return (h.engine.discrepanciesJSON(drift), drift)
        }
        let (small, a) = try report(250)
        let (large, b) = try report(2500)
        #expect(a.map(\.lateEventCount) == [250] && b.map(\.lateEventCount) == [2500])
        #expect(a.map(\.lateTransactionIDs) == [(0..<100).map(Self.lateID)])
        #expect(b.map(\.lateTransactionIDs) == a.map(\.lateTransactionIDs))
        // "2500" is one digit longer than "250"; nothing else may differ.
        #expect(large.utf8.count - small.utf8.count == 1)
        #expect(large.replacingOccurrences(of: "2500", with: "250") == small)
        #expect(!large.contains(Self.lateID(100)))
    }

    @Test func historyKeepsTheCausesAsOfItsResolution() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 100")], now: "2026-10-25T00:00:00Z")
        _ = try h.engine.finalize(now: try Self.ts("2026-10-25T00:00:00Z"), through: Day(parsing: "2026-11-01"))
        // A price correction drifts October (1.00 → 2.00) ...
        let v2 = try h.engine.applyCatalog(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.02\"}"),
            now: try Self.ts("2026-10-26T00:00:00Z")
        ).version
        // ... 120 late events of 0 tokens are causes that move nothing ...
        // (Dated Oct 1–25: the clock is at Oct 27–29, and more than a day ahead is in the future.)
        let zeros = (0..<151).map { Self.record(Self.lateID($0), Self.octoberTime($0, days: 25), tokens: 0) }
        _ = try h.engine.ingest(Array(zeros[..<120]), source: "late", now: try Self.ts("2026-10-27T00:00:00Z"))
        #expect(try h.engine.discrepancies().map(\.lateEventCount) == [120])
        // ... and correcting the correction resolves the drift with 120 late events and both versions.
        let v3 = try h.engine.applyCatalog(Self.tokens, now: try Self.ts("2026-10-28T00:00:00Z")).version
        #expect(try h.engine.discrepancies().isEmpty)
        let resolved = try h.engine.discrepancies(history: true)
        try #require(resolved.count == 1)
        #expect(resolved[0].lateEventCount == 120)
        #expect(resolved[0].lateTransactionIDs == (0..<100).map(Self.lateID))
        #expect(resolved[0].catalogVersions == [v2, v3])

        // 31 more late events, the last with 5 tokens: October drifts again, with 151 causes;
        // the resolved record still says what was true when it resolved.
        _ = try h.engine.ingest(Array(zeros[120..<150]), source: "late", now: try Self.ts("2026-10-29T00:00:00Z"))
        _ = try h.engine.ingest(
            [Self.record(Self.lateID(150), Self.octoberTime(150, days: 25), tokens: 5)], source: "late",
            now: try Self.ts("2026-10-29T00:00:00Z"))
        let open = try h.engine.discrepancies()
        #expect(open.map(\.lateEventCount) == [151])
        #expect(open.first?.lateTransactionIDs == (0..<100).map(Self.lateID))
        #expect(open.first?.current.quantity == FixedDecimal(105))
        let history = try h.engine.discrepancies(history: true)
        #expect(history.map(\.lateEventCount) == [120] && history.map(\.catalogVersions) == [[v2, v3]])
        let json =
            try JSONSerialization.jsonObject(with: Data(h.engine.discrepanciesJSON(history).utf8)) as! [[String: Any]]
        let causes = try #require(json.first?["causes"] as? [String: Any])
        #expect(causes["late_event_count"] as? Int == 120)
        #expect(causes["catalog_versions"] as? [Int] == [Int(v2), Int(v3)])
        #expect(json.first?["resolved_seq"] as? Int == 120 + 1)
    }

    @Test func openDriftCountsCountDriftedLineItemsPerInvoice() throws {
        let other =
            ", {\"id\": \"d\", \"name\": \"D\", \"contracts\": [{\"id\": \"kd\", \"rate_card\": \"r\", \"starts\": \"2026-10-01\", \"ends\": null}]}"
        let h = try Harness(
            ScenarioTests.catalog(
                rates:
                    "{\"product\": \"tok\", \"unit_price\": \"0.01\"}, {\"product\": \"gpu\", \"unit_price\": \"1\"}",
                extraCustomers: other))
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 100")], now: "2026-10-25T00:00:00Z")
        // Late: c's October moves on tok and gpu (2 line items), d's October on tok (1).
        _ = try h.ingest(
            [("inference", "2026-10-04", "\"tokens\": 5"), ("gpu", "2026-10-04", "\"gpus\": 3")],
            now: "2026-11-03T00:00:00Z")
        _ = try h.ingest([("inference", "2026-10-04", "\"tokens\": 5")], now: "2026-11-03T00:00:00Z", customer: "d")
        #expect(try h.engine.openDriftCounts() == ["k/2026-10-01": 2, "kd/2026-10-01": 1])
        #expect(try h.engine.openDriftCounts(customer: "d") == ["kd/2026-10-01": 1])
        #expect(try h.engine.openDriftCounts(customer: "nobody") == [:])
        let table = try h.engine.invoicesTable(now: try Self.ts("2026-11-03T00:00:00Z"))
        let drift = table.columns.firstIndex(of: "open_drift")!
        #expect(
            table.rows.map { "\($0[0]) \($0[drift])" } == [
                "k/2026-10-01 2 line items", "k/2026-11-01 ", "kd/2026-10-01 1 line items", "kd/2026-11-01 ",
            ])
    }

    @Test func recordsOfAnUnknownVersionOrTruncatedAreCorruptNotACrash() throws {
        var record = DriftRecord(
            invoiceID: "k/2026-10-01", customerID: "c", lineItemID: "tok", finalized: Totals(), current: Totals(),
            firstDetectedSeq: 3, firstDetectedAt: try Self.ts("2026-11-03T00:00:00Z"))
        record.resolvedSeq = 9
        record.resolvedAt = try Self.ts("2026-11-04T00:00:00Z")
        record.lateEventCount = 250
        record.lateTransactionIDs = (0..<100).map(Self.lateID)
        record.catalogVersions = [2, 7]
        let bytes = record.encoded()
        let back = try DriftRecord(decoding: bytes)
        #expect(back == record)
        // 2 (no billed totals) and 3 are read; the others are not Daybook's.
        for version: UInt8 in [0, 1, 4, 0x7F] {
            var other = bytes
            other[0] = version
            #expect(throws: StoreCorruption.self) { try DriftRecord(decoding: other) }
        }
        for cut in [1, bytes.count / 2, bytes.count - 1] {
            #expect(throws: StoreCorruption.self) { try DriftRecord(decoding: Array(bytes[..<cut])) }
        }
        #expect(throws: StoreCorruption.self) { try DriftRecord(decoding: bytes + [0]) }

        var summary = CauseSummary()
        summary.addLateEvents((1...150).map { (UInt64($0), "e\($0)") })
        summary.addCatalogVersion(4)
        #expect(summary.lateEventCount == 150 && summary.firstLateEvents.count == 100)
        let encoded = summary.encoded()
        let decoded = try CauseSummary(decoding: encoded)
        #expect(decoded.lateEventCount == 150 && decoded.catalogVersions == [4])
        #expect(decoded.firstLateTransactionIDs == (1...100).map { "e\($0)" })
        var unknown = encoded
        unknown[0] = 2
        #expect(throws: StoreCorruption.self) { try CauseSummary(decoding: unknown) }
        #expect(throws: StoreCorruption.self) { try CauseSummary(decoding: Array(encoded.prefix(5))) }
    }
}
