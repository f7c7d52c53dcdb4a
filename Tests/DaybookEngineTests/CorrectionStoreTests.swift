import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Foundation
import LMDB
import Testing

/// How corrections live in the store: kept incrementally per invoice, checked by `daybook
/// check`, damage reported rather than trapped, and a store written before they existed.
@Suite("Corrections in the store")
struct CorrectionStoreTests {
    typealias Harness = ScenarioTests.Harness

    func at(_ s: String) throws -> Timestamp { try Timestamp(parsing: s) }

    /// Two customers (`c` on contract `k`, `d` on `kd`), tokens at 0.01, no balances (an invoice's
    /// late events move no other invoice); October and November finalized by Dec 3, then one late
    /// event into each of the four: four proposals.
    func fourProposals() throws -> Harness {
        let other = """
            , {"id": "d", "name": "D", "contracts": [{"id": "kd", "rate_card": "r", "starts": "2026-10-01", "ends": null}]}
            """
        let h = try Harness(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}", extraCustomers: other))
        // October's events, then November's (that batch finalizes October), then November finalized.
        for (day, now) in [("2026-10-03", "2026-10-25T00:00:00Z"), ("2026-11-05", "2026-11-20T00:00:00Z")] {
            for customer in ["c", "d"] {
                _ = try h.ingest([("inference", day, "\"tokens\": 100")], now: now, customer: customer)
            }
        }
        _ = try h.engine.finalize(now: try at("2026-12-03T00:00:00Z"))
        let finalized = try h.engine.invoices(now: try at("2026-12-03T00:00:00Z")).filter { $0.finalizedAt != nil }
        #expect(finalized.count == 4)
        #expect(try h.engine.corrections().isEmpty)
        var hour = 0
        for (customer, day) in [("c", "2026-10-10"), ("d", "2026-10-11"), ("c", "2026-11-12"), ("d", "2026-11-13")] {
            hour += 1
            _ = try h.ingest(
                [("inference", day, "\"tokens\": 10")], now: "2026-12-03T0\(hour):00:00Z", customer: customer)
        }
        #expect(
            try h.engine.corrections().map(\.id) == [
                "k/2026-10-01/c1", "k/2026-11-01/c1", "kd/2026-10-01/c1", "kd/2026-11-01/c1",
            ])
        return h
    }

    /// Every entry of the `corrections` database.
    static func entries(_ path: String) throws -> [[UInt8]: [UInt8]] {
        let raw = try Store(path: path)
        return try raw.env.read { txn in
            var all: [[UInt8]: [UInt8]] = [:]
            try txn.scan(in: raw.corrections) { key, value in
                all[key] = value
                return true
            }
            return all
        }
    }

    /// The invoice id of a `corrections` key (a ledger's or a document's).
    static func invoiceOf(_ key: [UInt8]) -> String {
        let n = Int([UInt8].readBigEndianUInt32(key, at: 0))
        let parts = Keys.invoiceParts(Array(key.prefix(4 + n + 4)))!
        return "\(parts.contract)/\(parts.start)"
    }

    // MARK: Incremental

    /// A late event into one finalized invoice rewrites that invoice's ledger only: the other
    /// proposals keep their bytes (and `proposedSeq`), and the database gains no entry; issuing one
    /// adds exactly its document and rewrites its ledger. No scan of the other invoices' records.
    @Test func aLateEventTouchesOnlyItsInvoicesLedger() throws {
        let h = try fourProposals()
        let before = try Self.entries(h.store.path)
        let proposals = try h.engine.corrections()
        #expect(before.count == 4)  // four ledgers, no documents yet

        _ = try h.ingest([("inference", "2026-10-20", "\"tokens\": 5")], now: "2026-12-04T00:00:00Z")
        let after = try Self.entries(h.store.path)
        #expect(after.count == before.count)
        let changed = Set(after.keys.filter { after[$0] != before[$0] }.map(Self.invoiceOf))
        #expect(changed == ["k/2026-10-01"])
        let seq = try h.engine.stats().lastSeq
        for (old, new) in zip(proposals, try h.engine.corrections()) {
            #expect(old.id == new.id)
            if new.invoiceID == "k/2026-10-01" {
                // 10 + 5 late tokens: 0.15; moved at the last seq, first proposed before.
                #expect(new.proposedSeq == seq && new.firstProposedSeq == old.firstProposedSeq)
                #expect(new.totals.total == FixedDecimal("0.15")!)
            } else {
                #expect(new == old)
            }
        }

        _ = try h.engine.issueCorrection("kd/2026-11-01/c1", now: try at("2026-12-04T01:00:00Z"))
        let issued = try Self.entries(h.store.path)
        #expect(issued.count == after.count + 1)  // its document
        #expect(Set(issued.keys.filter { issued[$0] != after[$0] }.map(Self.invoiceOf)) == ["kd/2026-11-01"])
    }

    // MARK: Damage

    /// A store with an issued correction (k Oct c1), a rejected one (kd Oct c1) and two open
    /// proposals, and the keys of k Oct's ledger and its c1.
    func actedOn() throws -> (Harness, ledger: [UInt8], document: [UInt8]) {
        let h = try fourProposals()
        _ = try h.engine.issueCorrection("k/2026-10-01/c1", now: try at("2026-12-04T00:00:00Z"))
        _ = try h.engine.rejectCorrection("kd/2026-10-01/c1", reason: "no", now: try at("2026-12-04T01:00:00Z"))
        let invoice = Keys.invoice(contract: "k", start: Day(year: 2026, month: 10, day: 1)!)
        let ledger = CorrectionLedger.key(invoice: invoice)
        let document = CorrectionLedger.documentKey(invoice: invoice, number: 1)
        let entries = try Self.entries(h.store.path)
        #expect(entries[ledger] != nil && entries[document] != nil)
        #expect(try StoreCheck.run(path: h.store.path).isIntact)
        return (h, ledger, document)
    }

    static func put(_ path: String, _ key: [UInt8], _ value: [UInt8]) throws {
        let raw = try Store(path: path)
        try raw.env.write { txn in try txn.put(key, value, in: raw.corrections) }
    }

    /// `daybook check` names the damage in `corrections`; it is not a crash.
    static func expectReported(
        _ path: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let report = try StoreCheck.run(path: path)
        #expect(!report.isIntact, sourceLocation: sourceLocation)
        #expect(
            report.problems.contains { $0.hasPrefix("corrections: ") && $0.contains(text) }, "\(report.problems)",
            sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        ("truncated", "truncated field"), ("garbled", "truncated varint"), ("trailing", "trailing bytes"),
    ])
    func aDamagedLedgerIsReportedAndReadsThrow(damage: String, reported: String) throws {
        let (h, ledger, _) = try actedOn()
        let value = try #require(try Self.entries(h.store.path)[ledger])
        let damaged: [UInt8] =
            switch damage {
            case "truncated": Array(value.prefix(value.count / 2))
            case "garbled": [1] + [UInt8](repeating: 0xFF, count: 12)
            default: value + [0]
            }
        try Self.put(h.store.path, ledger, damaged)
        try Self.expectReported(h.store.path, reported)
        DamagedRecordTests.expectDamage { _ = try h.engine.corrections() }
        DamagedRecordTests.expectDamage { _ = try h.engine.correctionDocument("k/2026-10-01/c1") }
        DamagedRecordTests.expectDamage {
            _ = try h.engine.issueCorrection("k/2026-10-01/c1", now: try at("2026-12-05T00:00:00Z"))
        }
        // A late event into its invoice reads the ledger to update the proposal.
        DamagedRecordTests.expectDamage {
            _ = try h.ingest([("inference", "2026-10-22", "\"tokens\": 3")], now: "2026-12-05T00:00:00Z")
        }
    }

    @Test(arguments: [
        ("truncated", "truncated field"), ("garbled", "varint out of range"),
        ("issued without an action", "correction k/2026-10-01/c1 is issued but has no action"),
    ])
    func aDamagedCorrectionIsReportedAndReadsThrow(damage: String, reported: String) throws {
        let (h, _, document) = try actedOn()
        let value = try #require(try Self.entries(h.store.path)[document])
        var damaged: [UInt8]
        switch damage {
        case "truncated": damaged = Array(value.prefix(value.count - 3))
        case "garbled": damaged = [1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]
        default:
            var c = try Correction(decoding: value)
            c.actedSeq = nil
            c.actedAt = nil
            damaged = c.encoded()
        }
        try Self.put(h.store.path, document, damaged)
        try Self.expectReported(h.store.path, reported)
        DamagedRecordTests.expectDamage { _ = try h.engine.corrections() }
        DamagedRecordTests.expectDamage { _ = try h.engine.correctionDocument("k/2026-10-01/c1") }
        // The proposal after it reads the issued ones before it for its billed-before.
        _ = try h.ingest([("inference", "2026-10-21", "\"tokens\": 7")], now: "2026-12-05T00:00:00Z")
        DamagedRecordTests.expectDamage { _ = try h.engine.correctionDocument("k/2026-10-01/c2") }
    }

    /// A ledger that decodes but whose issued sum is not its documents' (a flipped digit) is
    /// reported by the check: the baseline of the drift would be off.
    @Test func aLedgerThatDoesNotSumItsCorrectionsIsReported() throws {
        let (h, ledger, _) = try actedOn()
        var decoded = try CorrectionLedger(decoding: try #require(try Self.entries(h.store.path)[ledger]))
        try #require(decoded.issued.count == 1)
        decoded.issued[0].delta.subtotal = decoded.issued[0].delta.subtotal + FixedDecimal("0.01")!
        try Self.put(h.store.path, ledger, decoded.encoded())
        try Self.expectReported(
            h.store.path, "the ledger of k/2026-10-01 does not sum its issued and rejected corrections")
    }

    /// A correction document the ledger does not count (numbered past what it acted on).
    @Test func aCorrectionItsLedgerDoesNotCountIsReported() throws {
        let (h, _, document) = try actedOn()
        var c = try Correction(decoding: try #require(try Self.entries(h.store.path)[document]))
        c.number = 2
        let invoice = Keys.invoice(contract: "k", start: Day(year: 2026, month: 10, day: 1)!)
        try Self.put(h.store.path, CorrectionLedger.documentKey(invoice: invoice, number: 2), c.encoded())
        try Self.expectReported(h.store.path, "correction k/2026-10-01/c2 is not one its invoice's ledger counts")
    }

    // MARK: A store written before corrections

    /// A copy of the store at `path` without the `corrections` database: what a daybook from
    /// before corrections wrote: format 4 in its state, the marker and the other databases as they
    /// are (its drift records measure against the snapshot, as there were no corrections). The
    /// caller removes it.
    static func withoutCorrections(_ path: String) throws -> String {
        let old = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-old-\(UUID().uuidString)").path
        let raw = try Store(path: path)
        let copy = try Environment.open(path: old, options: EnvironmentOptions(durable: false))
        let kept = raw.all.filter { $0.name != "corrections" }
        let target = try copy.openDatabases(kept.map(\.name), create: true)
        for (from, to) in zip(kept, target) {
            let records: [([UInt8], [UInt8])] = try raw.env.read { txn in
                var all: [([UInt8], [UInt8])] = []
                try txn.scan(in: from) { key, value in
                    all.append((key, value))
                    return true
                }
                return all
            }
            try copy.write { txn in
                for (key, var value) in records {
                    // The state record starts with the format (a one-byte varint): 4, before corrections.
                    if from.name == "meta" && key == EngineState.key {
                        #expect(value[0] == UInt8(EngineState.formatVersion))
                        value[0] = 4
                    }
                    try txn.put(key, value, in: to)
                }
            }
        }
        return old
    }

    /// Read access cannot create the database: it says what to do. A write open creates it; the
    /// invoices already drifting get their proposals, and the store checks and verifies clean.
    @Test func aStoreWithoutTheCorrectionsDatabaseGetsItAtItsNextWrite() throws {
        let h = try Harness(ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        _ = try h.ingest([("inference", "2026-10-03", "\"tokens\": 100")], now: "2026-10-25T00:00:00Z")
        _ = try h.engine.finalize(now: try at("2026-11-03T00:00:00Z"))
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-04T00:00:00Z")
        let drift = try h.engine.discrepancies()
        #expect(drift.map(\.deltaTotal) == [FixedDecimal("0.5")!])
        let path = try Self.withoutCorrections(h.store.path)
        defer { try? FileManager.default.removeItem(atPath: path) }

        #expect {
            _ = try Engine(path: path, access: .read)
        } throws: { error in
            (error as? StoreError)?.kind == .damaged
                && "\(error)".contains("databases \"corrections\" are missing")
                && "\(error)".contains("run `daybook finalize --data \(path)`")
        }
        // `daybook check` opens read-only too: the same advice.
        #expect { _ = try StoreCheck.run(path: path) } throws: { "\($0)".contains("run `daybook finalize") }

        do {
            let engine = try Engine(path: path)  // creates the database
            #expect(try engine.discrepancies() == drift)
            #expect(try engine.corrections().isEmpty)
            // The next write (what the advice runs) saves format 5 and proposes the 50 late tokens
            // (0.50) that were open drift before: the drift changed at no later write.
            _ = try engine.finalize(now: try at("2026-11-05T00:00:00Z"))
            #expect(try engine.corrections().map(\.totals.total) == [FixedDecimal("0.5")!])
            #expect(try engine.verify() == [])
        }
        let reader = try Engine(path: path, access: .read)
        #expect(try reader.corrections().map(\.id) == ["k/2026-10-01/c1"])
        #expect(try StoreCheck.run(path: path).isIntact)
    }
}
