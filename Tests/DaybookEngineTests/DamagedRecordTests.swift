import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import LMDB
import Testing

/// Damaged records that still reach the engine (LMDB keeps no checksums): each is a
/// `StoreCorruption` ("store damaged: …"), never a trap on an unchecked length or index.
@Suite("Damaged records")
struct DamagedRecordTests {
    static let october = Timestamp(day: Day(year: 2026, month: 10, day: 1)!)
    static let now = try! Timestamp(parsing: "2026-10-20T12:00:00Z")

    static func record(_ id: String, _ type: String, _ ts: String, _ props: String) -> IngestRecord {
        IngestRecord(
            bytes: Array(
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"acme\", \"event_type\": \"\(type)\", \"timestamp\": \"\(ts)\", \"properties\": {\(props)}}"
                    .utf8),
            position: id)
    }

    /// A store with the example catalog and a few acme events in October 2026.
    static func store() throws -> TemporaryStore {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(ExampleCatalog.bytes, now: october)
        _ = try store.engine.ingest(
            [
                record(
                    "t1", "inference", "2026-10-02T10:00:00Z", "\"tokens\": 100, \"model\": \"a\", \"region\": \"us\""),
                record("s1", "session", "2026-10-05T10:00:00Z", "\"user_id\": \"u1\""),
                record(
                    "t2", "inference", "2026-10-07T10:00:00Z", "\"tokens\": 300, \"model\": \"a\", \"region\": \"us\""),
            ], source: "test", now: now)
        return store
    }

    /// The store's databases, for writing damaged records (the same LMDB environment as the engine's).
    static func raw(_ store: TemporaryStore) throws -> Store { try Store(path: store.path) }

    static func expectDamage(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) {
            try body()
        } throws: { error in
            // Found while ingesting, the damage comes wrapped with the record it stopped.
            let damage = (error as? IngestError)?.underlying ?? error
            return damage is StoreCorruption && "\(damage)".hasPrefix("store damaged: ")
        }
    }

    /// `unbilled` sliced a customer key with a length read from the key (then of `by_customer`,
    /// now of `by_day`): a prefix past the end of the key trapped.
    @Test func byDayKeyWithALengthPastItsEndIsDamage() throws {
        let store = try Self.store()
        let raw = try Self.raw(store)
        try raw.env.write { txn in try txn.put([0, 0, 0, 100, 0x61, 0x63], [], in: raw.byDay) }
        Self.expectDamage { _ = try store.engine.unbilledTable() }
    }

    /// Open drift counts (`invoices`) and `discrepancies` sliced drift keys the same way.
    @Test func driftKeyWithALengthPastItsEndIsDamage() throws {
        let store = try Self.store()
        let raw = try Self.raw(store)
        let record = DriftRecord(
            invoiceID: "acme-2026/2026-10-01", customerID: "acme", lineItemID: "x", finalized: Totals(),
            current: Totals(), firstDetectedSeq: 1, firstDetectedAt: Self.now)
        try raw.env.write { txn in try txn.put([0, 0, 0, 200, 1, 2, 3], record.encoded(), in: raw.drift) }
        Self.expectDamage { _ = try store.engine.discrepancies() }
        Self.expectDamage { _ = try store.engine.invoicesTable(now: Self.now) }
    }

    /// An invoice record whose period ends before it starts trapped on a negative range.
    @Test func invoiceRecordWithAnImpossiblePeriodIsDamage() throws {
        var w = ByteWriter()
        w.uvarint(InvoiceState.formatVersion)
        w.string("k")
        w.day(Day(number: 20_000))
        w.day(Day(number: 19_990))  // ends ten days before it starts
        w.uvarint(UInt64(0))
        w.uvarint(0)
        w.uvarint(0)
        Self.expectDamage { _ = try InvoiceState(decoding: w.bytes) }
    }

    /// A stored time with nanoseconds of 10⁹ or more trapped in Timestamp's precondition.
    @Test func timestampWithNanosecondsOutOfRangeIsDamage() throws {
        var w = ByteWriter()
        w.string("file:x")  // a dead letter's fields up to its time
        w.varint(Int64(1_700_000_000))
        w.uvarint(UInt64(2_000_000_000))
        w.bool(false)
        var r = ByteReader(w.bytes)
        _ = try r.string()
        Self.expectDamage { _ = try r.timestamp() }
    }

    /// An invoice stored with a period one day shorter than its contract's: an event on the
    /// period's last day indexed past the end of its arrays.
    @Test func invoiceNotFittingItsContractIsDamage() throws {
        let store = try Self.store()
        let raw = try Self.raw(store)
        let key = Keys.invoice(contract: "acme-2026", start: Day(year: 2026, month: 10, day: 1)!)
        try raw.env.write { txn in
            var state = try InvoiceState(decoding: try #require(try txn.get(key, in: raw.invoices)))
            state.period.end = state.period.end.adding(days: -1)
            for i in state.lineItems.indices {
                state.lineItems[i].daily.removeLast()
                state.lineItems[i].cumQuantity.removeLast()
                state.lineItems[i].cumAmount.removeLast()
                state.lineItems[i].credits.removeLast()
                state.lineItems[i].commits.removeLast()
            }
            state.closing.removeLast()
            try txn.put(key, state.encoded(), in: raw.invoices)
        }
        let late = try Timestamp(parsing: "2026-10-31T12:00:00Z")
        Self.expectDamage {
            _ = try store.engine.ingest(
                [
                    Self.record(
                        "t3", "inference", "2026-10-31T10:00:00Z", "\"tokens\": 5, \"model\": \"a\", \"region\": \"us\""
                    )
                ],
                source: "test", now: late)
        }
        Self.expectDamage { _ = try store.engine.breakdown(invoiceID: "acme-2026/2026-10-01", now: Self.now) }
    }

    /// A `distinct` value naming a day index beyond the period indexed past the end of the day arrays.
    @Test func distinctValuePastThePeriodIsDamage() throws {
        let store = try Self.store()
        let raw = try Self.raw(store)
        let invoice = Keys.invoice(contract: "acme-2026", start: Day(year: 2026, month: 10, day: 1)!)
        try raw.env.write { txn in
            // Both canonical forms the value could take, each saying it was first seen on day 400.
            for value in ["\"u1\"", "u1"] {
                let distinct = DistinctValue(raw, invoice: invoice, lineItem: "seats", value: value)
                try distinct.save(firstDay: 400, at: try distinct.lookup(txn).slot, txn)
            }
        }
        Self.expectDamage {
            _ = try store.engine.ingest(
                [Self.record("s2", "session", "2026-10-03T10:00:00Z", "\"user_id\": \"u1\"")], source: "test",
                now: Self.now)
        }
    }

    /// An amount with more decimals than the currency's trapped where it was formatted.
    @Test func amountWithTooManyDecimalsIsDamage() throws {
        let store = try Self.store()
        let raw = try Self.raw(store)
        let key = Keys.invoice(contract: "acme-2026", start: Day(year: 2026, month: 10, day: 1)!)
        try raw.env.write { txn in
            var state = try InvoiceState(decoding: try #require(try txn.get(key, in: raw.invoices)))
            let last = state.lineItems[0].cumAmount.count - 1
            state.lineItems[0].cumAmount[last] = state.lineItems[0].cumAmount[last] + FixedDecimal(raw: 1)
            try txn.put(key, state.encoded(), in: raw.invoices)
        }
        Self.expectDamage { _ = try store.engine.invoicesTable(now: Self.now) }
        Self.expectDamage { _ = try store.engine.export(asOf: Day(year: 2026, month: 10, day: 20)!) }
    }
}

/// Daybook's format marker and the read/write access of a store (issue 8).
@Suite("Store format and access")
struct StoreFormatTests {
    @Test func newStoreCarriesTheFormatMarker() throws {
        let store = try TemporaryStore()
        let raw = try Store(path: store.path)
        #expect(try raw.env.read { try $0.get(StoreFormat.key, in: raw.meta) } == StoreFormat.marker)
    }

    /// A store written before the marker existed (engine state, no marker) is read as it is and
    /// gets the marker at its next write open.
    @Test func storeWithoutTheMarkerIsReadAndGetsItAtTheNextWrite() throws {
        let path = try DamagedRecordTests.store().pathKeptAfterClose()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let raw = try Store(path: path)
            try raw.env.write { txn in _ = try txn.delete(StoreFormat.key, in: raw.meta) }
        }
        do {
            let reader = try Engine(path: path, access: .read)
            #expect(try reader.stats().lastSeq == 3)
            let raw = try Store(path: path, access: .read)
            #expect(try raw.env.read { try $0.get(StoreFormat.key, in: raw.meta) } == nil)
        }
        _ = try Engine(path: path)
        let raw = try Store(path: path, access: .read)
        #expect(try raw.env.read { try $0.get(StoreFormat.key, in: raw.meta) } == StoreFormat.marker)
    }

    @Test func newerFormatVersionAndForeignMarkerAreRefused() throws {
        let path = try DamagedRecordTests.store().pathKeptAfterClose()
        defer { try? FileManager.default.removeItem(atPath: path) }
        func setMarker(_ bytes: [UInt8]) throws {
            // Below the store's open check, which refuses a marker it does not know.
            let env = try Environment.open(path: path)
            let meta = try env.openDatabases(["meta"], create: false)[0]
            try env.write { txn in try txn.put(StoreFormat.key, bytes, in: meta) }
        }
        try setMarker(StoreFormat.magic + [0, 0, 0, 2])
        for access in [StoreAccess.read, .write] {
            #expect {
                _ = try Engine(path: path, access: access)
            } throws: { error in
                (error as? StoreError)?.kind == .newerFormat && "\(error)".contains("format version 2")
            }
        }
        try setMarker(Array("something else".utf8))
        #expect { _ = try Engine(path: path, access: .read) } throws: { ($0 as? StoreError)?.kind == .damaged }
    }

    /// Read access creates nothing: no directory, no data.mdb, no databases.
    @Test func readAccessCreatesNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-none-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect { _ = try Engine(path: dir, access: .read) } throws: { ($0 as? StoreError)?.kind == .noStore }
        #expect(!FileManager.default.fileExists(atPath: dir))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect { _ = try Engine(path: dir, access: .read) } throws: { ($0 as? StoreError)?.kind == .noStore }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [])
        // An engine opened for reading cannot write.
        _ = try Engine(path: dir)
        let reader = try Engine(path: dir, access: .read)
        #expect(throws: (any Error).self) { try reader.applyCatalog(ExampleCatalog.bytes, now: DamagedRecordTests.now) }
    }
}

extension TemporaryStore {
    /// A copy of the store's data.mdb in a directory of its own that outlives this value (for
    /// tests that reopen it with other access); the caller removes it.
    func pathKeptAfterClose() throws -> String {
        let kept = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-kept-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path + "/data.mdb", toPath: kept + "/data.mdb")
        return kept
    }
}
