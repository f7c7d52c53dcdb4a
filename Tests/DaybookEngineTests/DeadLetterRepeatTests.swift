import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import LMDB
import Testing

/// A record dead-lettered again (a resumed or repeated ingest of the same input) is not stored
/// twice: one dead letter per source, position and bytes.
@Suite("Dead letters are recorded once")
struct DeadLetterRepeatTests {
    static let now = Timestamp(day: Day(parsing: "2026-10-04")!)

    /// A file of 10 bad lines among 20 good ones: lines 3, 6, …, 30 are bad, each different.
    static func file() -> [IngestRecord] {
        (1...30).map { n in
            let text =
                n % 3 == 0
                ? "{\"transaction_id\": \"bad-\(n)\", \"customer_id\": \"c\"}"  // missing fields
                : "{\"transaction_id\": \"ok-\(n)\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-03T01:00:00Z\", \"properties\": {\"tokens\": 1}}"
            return IngestRecord(bytes: Array(text.utf8), position: "line \(n)")
        }
    }

    @Test func ingestingAFileWithTenBadLinesFiftyTimesLeavesTenDeadLetters() throws {
        let h = try ScenarioTests.Harness(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        for attempt in 1...50 {
            let summary = try h.engine.ingest(Self.file(), source: "file:events.ndjson", now: Self.now)
            // Every record still ends as exactly one outcome: the bad ones as dead-lettered.
            #expect(summary.accepted == (attempt == 1 ? 20 : 0))
            #expect(summary.duplicates == (attempt == 1 ? 0 : 20))
            #expect(summary.deadLettered == 10)
        }
        let letters = try h.engine.deadLetters()
        #expect(letters.count == 10)
        #expect(letters.map(\.position) == (1...10).map { "line \($0 * 3)" })
        #expect(letters.map(\.number) == Array(1...10))
        // `stats` counts outcomes, like duplicates: 50 ingests × 10 bad records.
        #expect(try h.counters()["dead_letters"] == 500)
        // `daybook check` counts 10 letters for 500 outcomes: not damage.
        let check = try StoreCheck.run(path: h.store.path)
        #expect(check.isIntact, "\(check.problems)")
    }

    @Test func theSameBytesAtAnotherPositionOrFromAnotherSourceAreSeparateLetters() throws {
        let h = try ScenarioTests.Harness(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        let bad = Array("{\"transaction_id\": \"x\"}".utf8)
        let other = Array("{\"transaction_id\": \"y\"}".utf8)
        func ingest(_ records: [(bytes: [UInt8], position: String)], source: String) throws {
            let summary = try h.engine.ingest(
                records.map { IngestRecord(bytes: $0.bytes, position: $0.position) }, source: source, now: Self.now)
            #expect(summary.deadLettered == records.count)
        }
        try ingest([(bad, "line 1"), (bad, "line 2")], source: "file:a")  // two letters: two lines
        try ingest([(bad, "line 1")], source: "file:b")  // another source: a third
        try ingest([(other, "line 1")], source: "file:a")  // other bytes at a known position: a fourth
        try ingest([(bad, "line 1"), (bad, "line 2")], source: "file:a")  // repeats: none
        try ingest([(bad, "line 1")], source: "file:b")  // repeat: none
        // A repeat inside one batch is found too.
        try ingest([(bad, "line 9"), (bad, "line 9")], source: "file:c")  // one
        let letters = try h.engine.deadLetters()
        #expect(
            letters.map { "\($0.source) \($0.position) \(String(decoding: $0.raw, as: UTF8.self))" } == [
                "file:a line 1 {\"transaction_id\": \"x\"}", "file:a line 2 {\"transaction_id\": \"x\"}",
                "file:b line 1 {\"transaction_id\": \"x\"}", "file:a line 1 {\"transaction_id\": \"y\"}",
                "file:c line 9 {\"transaction_id\": \"x\"}",
            ])
    }

    /// A record of 200 kB: its digest is the key, so the index never holds a key over LMDB's 511
    /// bytes; the comparison on a digest match is over the full bytes.
    @Test func aLargeRecordIsRecordedOnce() throws {
        let h = try ScenarioTests.Harness(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        var big = Array("{\"transaction_id\": \"".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 200_000)
        for _ in 0..<2 {
            _ = try h.engine.ingest([IngestRecord(bytes: big, position: "line 1")], source: "file:big", now: Self.now)
        }
        big[big.count - 1] = UInt8(ascii: "y")  // one byte differs at the end: another record
        _ = try h.engine.ingest([IngestRecord(bytes: big, position: "line 1")], source: "file:big", now: Self.now)
        let letters = try h.engine.deadLetters()
        #expect(letters.count == 2)
        #expect(letters.last?.raw == big)
    }

    /// A store written before `dead_letter_keys` existed has letters the index does not know: its
    /// next dead letter indexes them first, so a resumed ingest still repeats none of them.
    @Test func lettersStoredBeforeTheIndexExistedAreNotRepeated() throws {
        let h = try ScenarioTests.Harness(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.engine.ingest(Self.file(), source: "file:events.ndjson", now: Self.now)
        // The same environment the engine has open (one per path per process): empty the index.
        let env = try Environment.open(path: h.store.path)
        let keys = try env.database("dead_letter_keys", create: false)
        try env.write { txn in try txn.deleteAll(in: keys) }
        #expect(try env.entryCount(keys) == 0)
        _ = try h.engine.ingest(Self.file(), source: "file:events.ndjson", now: Self.now)
        #expect(try h.engine.deadLetters().count == 10)
        #expect(try env.entryCount(keys) == 10)
    }

}
