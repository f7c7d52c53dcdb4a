import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Testing

/// `Engine.stateHash()` (`daybook stats --state-hash`, docs/scale-out.md §4): equal for stores that
/// bill the same however their events were batched and clocked, different when what is billed is.
@Suite("State hash")
struct StateHashTests {
    static let catalogNow = Timestamp(day: Day(parsing: "2026-09-01")!)

    /// 20 days of September for two customers (with duplicates, invalid and backdated records).
    static func arrivals(customers: [String] = ["acme", "globex"]) -> [(day: Day, lines: [String])] {
        var generator = WorkloadGenerator(start: Day(parsing: "2026-09-01")!)
        generator.days = 20
        generator.eventsPerDay = 12
        generator.seed = 9
        generator.customers = customers
        return generator.arrivals()
    }

    /// The example catalog (balances drawn down, commits absorbing late usage) and the corrections
    /// fixture's (no balances: late usage moves totals, so corrections are proposed).
    static let catalogs: [String: (bytes: [UInt8], customers: [String])] = [
        "example": (ExampleCatalog.bytes, ["acme", "globex"]),
        "corrections": (Array(CorrectionsFixture.catalog.utf8), ["c", "d"]),
    ]

    static func time(_ text: String) -> Timestamp { try! Timestamp(parsing: text) }

    typealias Batches = [(lines: [String], now: Timestamp)]

    static func ingest(_ engine: Engine, _ batches: Batches) throws {
        for (i, batch) in batches.enumerated() {
            let records = batch.lines.enumerated().map {
                IngestRecord(bytes: Array($1.utf8), position: "batch \(i) record \($0)")
            }
            _ = try engine.ingest(records, source: "test-\(batches.count)", now: batch.now)
        }
    }

    static func chunks(_ lines: [String], of size: Int, now: Timestamp) -> Batches {
        stride(from: 0, to: lines.count, by: size).map { (Array(lines[$0..<min($0 + size, lines.count)]), now) }
    }

    /// The same history three ways: September's first 15 days (one batch at 09-21 / one batch per
    /// day at day + 1 / batches of 7 at 10-01 noon, which materializes October's invoices), then an
    /// empty batch that finalizes September, then the last 5 days as late events (batched three
    /// ways, at three clocks), then a correction issued and one rejected.
    @Test(arguments: ["example", "corrections"])
    func oneBatchManyBatchesAndOtherClocksHashTheSame(catalog: String) throws {
        let (catalogBytes, customers) = Self.catalogs[catalog]!
        let arrivals = Self.arrivals(customers: customers)
        let early = arrivals[..<15], late = arrivals[15...]
        let earlyLines = early.flatMap(\.lines), lateLines = late.flatMap(\.lines)
        let phase1: [Batches] = [
            [(earlyLines, Self.time("2026-09-21T00:00:00Z"))],
            early.map { ($0.lines, Timestamp(day: $0.day.adding(days: 1))) },
            Self.chunks(earlyLines, of: 7, now: Self.time("2026-10-01T12:00:00Z")),
        ]
        let phase2: [Batches] = [
            [([], Self.time("2026-10-02T06:00:00Z")), (lateLines, Self.time("2026-10-02T06:00:00Z"))],
            [([], Self.time("2026-10-02T07:00:00Z"))] + late.map { ($0.lines, Self.time("2026-10-02T08:00:00Z")) },
            [([], Self.time("2026-10-03T00:00:00Z"))]
                + Self.chunks(lateLines, of: 5, now: Self.time("2026-10-03T00:00:00Z")),
        ]
        let stores = try (0..<3).map { _ in try TemporaryStore() }
        var afterPhase1: [String] = []
        for (i, store) in stores.enumerated() {
            try store.engine.applyCatalog(catalogBytes, now: Self.catalogNow)
            try Self.ingest(store.engine, phase1[i])
            afterPhase1.append(try store.engine.stateHash())
        }
        // The third store's clock reached October: its October invoices are materialized, the
        // first's are not (reads compute them in memory); the hashes agree all the same.
        let september = Day(parsing: "2026-09-20")!
        let materialized = try stores.map {
            try $0.engine.materializedInvoices().filter { $0.period.start > september }.count
        }
        #expect(materialized[0] == 0 && materialized[2] > 0, "\(materialized)")
        #expect(Set(afterPhase1).count == 1, "\(afterPhase1)")
        #expect(afterPhase1[0].utf8.count == 32 && afterPhase1[0].allSatisfy(\.isHexDigit))

        var hashes: [String] = []
        for (i, store) in stores.enumerated() {
            try Self.ingest(store.engine, phase2[i])
            let proposals = try store.engine.corrections(status: .proposed).sorted { $0.id.utf8Precedes($1.id) }
            if catalog == "corrections" {
                try #require(proposals.count >= 2, "the late events make corrections to propose")
                let actedAt = Self.time("2026-10-0\(4 + i)T09:00:00Z")
                _ = try store.engine.issueCorrection(
                    proposals[0].id, note: "true-up", asShown: proposals[0].totals.total, now: actedAt)
                _ = try store.engine.rejectCorrection(proposals[1].id, reason: "waived", now: actedAt)
                #expect(try store.engine.corrections(status: .issued).count == 1)
            }
            hashes.append(try store.engine.stateHash())
        }
        #expect(!(try stores[0].engine.discrepancies()).isEmpty, "the late events drift")
        #expect(Set(hashes).count == 1, "\(hashes)")
        #expect(hashes[0] != afterPhase1[0])
        let logs = try stores.map { try $0.engine.stats().lastSeq }
        #expect(Set(logs).count == 1 && logs[0] > 100, "\(logs)")
    }

    /// One more event, or one quantity changed, is another state.
    @Test func anotherEventOrAnotherQuantityHashesDifferently() throws {
        let lines = Self.arrivals().flatMap(\.lines)
        let now = Self.time("2026-09-21T00:00:00Z")
        let event = """
            {"transaction_id": "extra-1", "customer_id": "acme", "event_type": "inference", \
            "timestamp": "2026-09-10T10:00:00Z", "properties": {"model": "model-a", "tokens": 1000, "region": "us"}}
            """
        func hash(_ batches: Batches) throws -> String {
            let store = try TemporaryStore()
            try store.engine.applyCatalog(ExampleCatalog.bytes, now: Self.catalogNow)
            try Self.ingest(store.engine, batches)
            return try store.engine.stateHash()
        }
        let base = try hash([(lines, now)])
        let withEvent = try hash([(lines + [event], now)])
        let otherQuantity = try hash([(lines + [event.replacingOccurrences(of: "1000", with: "1001")], now)])
        #expect(try hash([(lines, now)]) == base)
        #expect(withEvent != base)
        #expect(otherQuantity != withEvent && otherQuantity != base)
        // The same event spelled otherwise (member order, spacing, a time-zone offset) is the same event.
        let respelled = """
            {"properties":{"region":"us","tokens":1000,"model":"model-a"},"timestamp":"2026-09-10T12:00:00+02:00",\
            "event_type":"inference","customer_id":"acme","transaction_id":"extra-1"}
            """
        #expect(try hash([(lines + [respelled], now)]) == withEvent)
        // A catalog alone is a state too, and not the empty store's.
        let empty = try TemporaryStore()
        let catalogOnly = try TemporaryStore()
        try catalogOnly.engine.applyCatalog(ExampleCatalog.bytes, now: Self.catalogNow)
        #expect(try empty.engine.stateHash() != catalogOnly.engine.stateHash())
    }

    /// A backup taken mid-history, given the later events, hashes as the store it was taken from
    /// and as a store that had every event from the start (the partition snapshot of §4).
    @Test func aBackupPlusTheLaterEventsHashesAsTheStoreAndAStoreRebuiltFromTheStart() throws {
        let source = try TemporaryStore()
        let rebuilt = try TemporaryStore()
        for s in [source, rebuilt] { try s.engine.applyCatalog(ExampleCatalog.bytes, now: Self.catalogNow) }
        var generator = WorkloadGenerator(start: Day(parsing: "2026-09-01")!)
        generator.days = 40
        generator.eventsPerDay = 10
        generator.seed = 4
        generator.customers = ["acme", "globex"]
        let days = generator.arrivals()
        func ingest(_ engine: Engine, _ part: ArraySlice<(day: Day, lines: [String])>) throws {
            try Self.ingest(engine, part.map { ($0.lines, Timestamp(day: $0.day.adding(days: 1))) })
        }
        try ingest(source.engine, days[..<25])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let copyPath = directory.path + "/copy"
        _ = try source.engine.backup(into: copyPath)
        let atBackup = try source.engine.stateHash()
        try ingest(source.engine, days[25...])
        let copy = try Engine(path: copyPath)
        #expect(try copy.stateHash() == atBackup)
        try ingest(copy, days[25...])
        try ingest(rebuilt.engine, days[...])
        let expected = try source.engine.stateHash()
        #expect(expected != atBackup)
        #expect(try copy.stateHash() == expected)
        #expect(try rebuilt.engine.stateHash() == expected)
    }

    /// The streaming SipHash equals the one-shot one (checked against the reference vectors in
    /// KeyDigestTests) however the message is split.
    @Test func theStreamingSipHashEqualsTheOneShotOne() {
        var rng = SplitMix64(seed: 3)
        let key: (UInt64, UInt64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908)
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000] {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var hasher = SipHasher128(key: key)
            var at = 0
            while at < length {
                let n = min(length - at, Int(rng.next() % 11))
                hasher.append(message[at..<(at + n)])
                at += n
            }
            #expect(hasher.finish() == SipHash.tag128(message, key: key), "length \(length)")
        }
    }
}
