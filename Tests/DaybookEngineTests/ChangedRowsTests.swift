import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Testing

/// Incremental exports (SPEC §5 `--changed-since`): rows stamped with the journal position of
/// their last visible change, tombstones of vanished rows, and what an export since a basis holds.
@Suite struct ChangedRowsTests {
    /// The rows of an export by key, each with its `changed_seq` appended (what a warehouse holds).
    struct Rows: Equatable {
        var invoices: [[String]: [String]] = [:]
        var lineItems: [[String]: [String]] = [:]
        var balances: [[String]: [String]] = [:]
        var count: Int { invoices.count + lineItems.count + balances.count }

        init() {}

        /// The upserts of `export` (all its rows).
        init(_ export: WarehouseExport) { upsert(export) }

        mutating func upsert(_ e: WarehouseExport) {
            for (row, seq) in zip(e.tables.invoices.rows, e.invoiceChangedSeq) {
                invoices[[row[0], row[5]]] = row + ["\(seq)"]
            }
            for (row, seq) in zip(e.tables.lineItems.rows, e.lineItemChangedSeq) {
                lineItems[[row[0], row[2], row[6]]] = row + ["\(seq)"]
            }
            for (row, seq) in zip(e.tables.balances.rows, e.balanceChangedSeq) {
                balances[[row[0], row[4]]] = row + ["\(seq)"]
            }
        }

        /// What a warehouse holding `self` holds after applying `delta`: upserts, then deletes.
        func applying(_ delta: WarehouseExport) -> Rows {
            var r = self
            r.upsert(delta)
            for key in delta.deletedInvoices.rows { r.invoices[key] = nil }
            for key in delta.deletedLineItems.rows { r.lineItems[key] = nil }
            for key in delta.deletedBalances.rows { r.balances[key] = nil }
            return r
        }

        /// A few keys that differ, for failure messages.
        func differences(from other: Rows) -> String {
            func diff(_ name: String, _ a: [[String]: [String]], _ b: [[String]: [String]]) -> [String] {
                Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.prefix(4).map {
                    "\(name) \($0): \(a[$0]?.joined(separator: ",") ?? "(none)") vs \(b[$0]?.joined(separator: ",") ?? "(none)")"
                }
            }
            return
                (diff("invoices", invoices, other.invoices) + diff("line_items", lineItems, other.lineItems)
                + diff("balances", balances, other.balances)).joined(separator: "\n")
        }
    }

    /// For random histories (late events, duplicates, finalizations, catalog changes adding and
    /// removing products, contracts and balances, new days): a full export E0 in the middle, then
    /// after every later step E0 ⊕ (export since E0) equals the full export, row for row and
    /// `changed_seq` for `changed_seq` — with the exact basis position, and with the conservative
    /// one `--changed-since` derives from E0's log seq. The date moves forward (and at the end back).
    @Test(arguments: 0..<16)
    func exportsSinceABasisAddUpToTheFullExport(seed: Int) throws {
        let history = RandomHistory(seed: UInt64(7100 + seed), catalogChanges: 0.5)
        let store = try TemporaryStore()
        let engine = store.engine
        let baseStep = history.steps.count / 2
        var base: (rows: Rows, exact: ExportBasis, fromSeq: ExportBasis)?
        for (index, step) in history.steps.enumerated() {
            let now: Timestamp
            switch step {
            case .catalog(let model, _, let at):
                try engine.applyCatalog(model.bytes, now: at)
                now = at
            case .ingest(let lines, let at):
                try engine.ingest(IngestRecord.lines(lines), source: "changed-rows", now: at)
                now = at
            }
            var dates = [now.day.adding(days: index % 3)]
            if index == history.steps.count - 1 { dates.append(now.day.adding(days: -20)) }
            if index == baseStep {
                let e0 = try engine.warehouseExport(asOf: dates[0])
                base = (
                    Rows(e0), ExportBasis(position: e0.position, asOf: dates[0]),
                    ExportBasis(position: try engine.journalPosition(appendingSeq: e0.logSeq), asOf: dates[0])
                )
                continue
            }
            guard let base, index > baseStep else { continue }
            for asOf in dates {
                let full = Rows(try engine.warehouseExport(asOf: asOf))
                for basis in [base.exact, base.fromSeq] {
                    let delta = try engine.warehouseExport(asOf: asOf, since: basis)
                    let merged = base.rows.applying(delta)
                    #expect(
                        merged == full,
                        """
                        seed \(seed) step \(index) as of \(asOf), basis \(basis): E0 ⊕ delta ≠ full export
                        \(merged.differences(from: full))
                        """)
                }
            }
        }
        // Nothing written since the last export: an export since it holds no row and deletes none
        // (however much the history changed before; the small scenarios below bound single changes).
        let asOf = Day(parsing: "2026-03-01")!
        let last = try engine.warehouseExport(asOf: asOf)
        let none = try engine.warehouseExport(asOf: asOf, since: ExportBasis(position: last.position, asOf: asOf))
        #expect(
            none.tables.invoices.rows.count + none.tables.lineItems.rows.count + none.tables.balances.rows.count
                + none.deletedInvoices.rows.count + none.deletedLineItems.rows.count
                + none.deletedBalances.rows.count == 0, "seed \(seed): rows exported with no write since the basis")
        #expect(!last.tables.lineItems.rows.isEmpty)
        // `check` walks changed_invoices (each entry its invoice's last stamp) and removed_rows.
        let check = try StoreCheck.run(path: store.path)
        #expect(check.isIntact, "seed \(seed): \(check.problems.prefix(3))")
        #expect(check.databases.contains { $0.name == "changed_invoices" && $0.entries > 0 })
        // A replay runs the journal's writes through the same code: the same stamps come out.
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        _ = try engine.replay(into: scratch.path + "/replay")
        let replayed = try Engine(path: scratch.path + "/replay", access: .read).warehouseExport(asOf: asOf)
        #expect(Rows(replayed) == Rows(last), "seed \(seed): the replay's rows and changed_seq equal the live ones")
        #expect(replayed.position == last.position)
    }

    static let catalog = ScenarioTests.catalog(
        rates: """
            {"product": "tok", "unit_price": "0.01"},
            {"product": "gpu", "tiers": [{"up_to": "10", "unit_price": "1.00"}, {"up_to": null, "unit_price": "0.50"}]}
            """,
        balances: """
            {"id": "promo", "type": "credit", "amount": "100.00", "starts": "2026-10-01", "ends": "2027-01-01"}
            """)

    /// A history of one invoice: tokens on Oct 2, 4 and 6, gpus on Oct 3 (seqs 1–4, one batch at Oct 8).
    static func harness() throws -> ScenarioTests.Harness {
        let h = try ScenarioTests.Harness(catalog)
        _ = try h.ingest(
            [
                ("inference", "2026-10-02", "\"tokens\": 100"), ("gpu", "2026-10-03", "\"gpus\": 2"),
                ("inference", "2026-10-04", "\"tokens\": 300"), ("inference", "2026-10-06", "\"tokens\": 50"),
            ], now: "2026-10-08T00:00:00Z")
        return h
    }

    static let asOf = Day(parsing: "2026-10-10")!

    /// One late event into one line item and day changes that row, the invoice's row of that day
    /// and the balance rows from that day on (the credit's closing moves for every later day) —
    /// nothing else; and those rows carry the event's seq as `changed_seq`.
    @Test func oneLateEventChangesOnlyItsRowsWithItsSeq() throws {
        let h = try Self.harness()
        let e0 = try h.engine.warehouseExport(asOf: Self.asOf)
        // Rows Oct 1–9: 9 invoice rows, 2 line items × 9, the credit's 9.
        #expect(e0.tables.invoices.rows.count == 9 && e0.tables.lineItems.rows.count == 18)
        #expect(e0.tables.balances.rows.count == 9)
        // Every row of the batch's invoice days is stamped by the batch (seq 4) or, untouched since,
        // by the catalog apply that created the invoice (log seq 0): tok of Oct 2 changed, of Oct 1 not.
        let tok = Dictionary(
            uniqueKeysWithValues: zip(e0.tables.lineItems.rows, e0.lineItemChangedSeq).filter { $0.0[2] == "tok" }
                .map { ($0.0[6], $0.1) })
        #expect(tok["2026-10-01"] == 0 && tok["2026-10-02"] == 4 && tok["2026-10-03"] == 0)
        let basis = ExportBasis(position: e0.position, asOf: Self.asOf)

        // Seq 5: 200 tokens late on Oct 4: tok's Oct 4 quantity 300 → 500 (2.00 more), credits of
        // Oct 4 too; the credit's closing of Oct 4 … Oct 9 drops by 2.00 (opening from Oct 5).
        // Oct 4 opens at 100 − 1.00 (Oct 2 tokens) − 2.00 (Oct 3: 2 gpus × 1.00) = 97.00.
        _ = try h.ingest([("inference", "2026-10-04", "\"tokens\": 200")], now: "2026-10-09T00:00:00Z")
        let delta = try h.engine.warehouseExport(asOf: Self.asOf, since: basis)
        #expect(delta.tables.invoices.rows.map { $0[5] } == ["2026-10-04"])
        #expect(
            delta.tables.lineItems.rows.map { [$0[2], $0[6], $0[7], $0[9], $0[10]] } == [
                ["tok", "2026-10-04", "500", "5.00", "5.00"]
            ])
        #expect(delta.tables.balances.rows.map { $0[4] } == (4...9).map { "2026-10-0\($0)" })
        #expect(
            delta.tables.balances.rows.first == ["promo", "c", "k", "credit", "2026-10-04", "97.00", "5.00", "92.00"])
        #expect(delta.invoiceChangedSeq == [5] && delta.lineItemChangedSeq == [5])
        #expect(delta.balanceChangedSeq == Array(repeating: 5, count: 6))
        #expect(delta.deletedInvoices.rows.isEmpty && delta.deletedLineItems.rows.isEmpty)
        #expect(delta.deletedBalances.rows.isEmpty)

        // Nothing written since: an export since the current position holds nothing.
        let none = try h.engine.warehouseExport(
            asOf: Self.asOf, since: ExportBasis(position: delta.position, asOf: Self.asOf))
        #expect(
            none.tables.invoices.rows.isEmpty && none.tables.lineItems.rows.isEmpty && none.tables.balances.rows.isEmpty
        )
        // One day later: the rows of Oct 10 only (1 invoice, 2 line items, 1 balance), unchanged ones included.
        let later = try h.engine.warehouseExport(
            asOf: Self.asOf.adding(days: 1), since: ExportBasis(position: delta.position, asOf: Self.asOf))
        #expect(later.tables.invoices.rows.map { $0[5] } == ["2026-10-10"])
        #expect(later.tables.lineItems.rows.map { $0[2] + " " + $0[6] } == ["gpu 2026-10-10", "tok 2026-10-10"])
        #expect(later.tables.balances.rows.map { $0[4] } == ["2026-10-10"])
        // One day earlier: nothing changed, the rows of Oct 9 are deleted.
        let earlier = try h.engine.warehouseExport(
            asOf: Self.asOf.adding(days: -1), since: ExportBasis(position: delta.position, asOf: Self.asOf))
        #expect(earlier.tables.invoices.rows.isEmpty && earlier.tables.lineItems.rows.isEmpty)
        #expect(earlier.deletedInvoices.rows == [["k/2026-10-01", "2026-10-09"]])
        #expect(
            earlier.deletedLineItems.rows == [
                ["k/2026-10-01", "gpu", "2026-10-09"], ["k/2026-10-01", "tok", "2026-10-09"],
            ])
        #expect(earlier.deletedBalances.rows == [["promo", "2026-10-09"]])
    }

    /// A catalog change that rebuilds the contract but changes nothing the export shows (the price
    /// of a gpu tier above any quantity reached: Q ≤ 2) stamps nothing; re-applying the same
    /// catalog neither.
    @Test func catalogChangeWithNothingVisibleAddsNoChangedRows() throws {
        let h = try Self.harness()
        let e0 = try h.engine.warehouseExport(asOf: Self.asOf)
        let basis = ExportBasis(position: e0.position, asOf: Self.asOf)
        let now = try Timestamp(parsing: "2026-10-09T00:00:00Z")
        let change = try h.engine.applyCatalog(Self.catalog, now: now)
        #expect(change.changed.isEmpty)
        let repriced = String(decoding: Self.catalog, as: UTF8.self).replacingOccurrences(
            of: "\"0.50\"", with: "\"0.40\"")
        let rebuilt = try h.engine.applyCatalog(Array(repriced.utf8), now: now)
        #expect(rebuilt.changed == ["k"])  // the contract was rebuilt …
        let delta = try h.engine.warehouseExport(asOf: Self.asOf, since: basis)
        #expect(delta.position == e0.position + 2)
        // … and no row differs, so none is exported and none deleted.
        #expect(delta.tables.invoices.rows.isEmpty && delta.tables.lineItems.rows.isEmpty)
        #expect(delta.tables.balances.rows.isEmpty)
        #expect(delta.deletedInvoices.rows.isEmpty && delta.deletedLineItems.rows.isEmpty)
        #expect(delta.deletedBalances.rows.isEmpty)
    }

    /// Finalization changes the `status` of every invoices row of the invoice, and nothing else.
    @Test func finalizationChangesOnlyTheInvoicesRowsStatus() throws {
        let h = try Self.harness()
        let asOf = Day(parsing: "2026-11-01")!  // October's rows only
        let e0 = try h.engine.warehouseExport(asOf: asOf)
        let finalized = try h.engine.finalize(now: try Timestamp(parsing: "2026-11-02T01:00:00Z"))
        #expect(finalized == ["k/2026-10-01"])
        let delta = try h.engine.warehouseExport(asOf: asOf, since: ExportBasis(position: e0.position, asOf: asOf))
        // October's 31 days, all now finalized; every other row unchanged.
        #expect(delta.tables.invoices.rows.count == 31)
        #expect(delta.tables.invoices.rows.allSatisfy { $0[0] == "k/2026-10-01" && $0[6] == "finalized" })
        #expect(delta.tables.lineItems.rows.isEmpty && delta.tables.balances.rows.isEmpty)
    }

    /// Removing a product from the rate card deletes its line-item rows; the rows that come back
    /// when it is added again are upserts, not deletions.
    @Test func removedRowsAreDeletedAndRowsThatComeBackAreUpserts() throws {
        let h = try Self.harness()
        let e0 = try h.engine.warehouseExport(asOf: Self.asOf)
        let basis = ExportBasis(position: e0.position, asOf: Self.asOf)
        let now = try Timestamp(parsing: "2026-10-09T00:00:00Z")
        let withoutGPU = ScenarioTests.catalog(
            rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}",
            balances: """
                {"id": "promo", "type": "credit", "amount": "100.00", "starts": "2026-10-01", "ends": "2027-01-01"}
                """)
        try h.engine.applyCatalog(withoutGPU, now: now)
        let removed = try h.engine.warehouseExport(asOf: Self.asOf, since: basis)
        // gpu's 9 rows go; Oct 3 (gpus 2 × 1.00 = 2.00) loses its subtotal: that invoice row and the
        // credit's rows from Oct 3 (closing 2.00 higher) change.
        #expect(removed.deletedLineItems.rows == (1...9).map { ["k/2026-10-01", "gpu", "2026-10-0\($0)"] })
        #expect(removed.tables.lineItems.rows.isEmpty)
        #expect(removed.tables.invoices.rows.map { $0[5] } == ["2026-10-03"])
        #expect(removed.tables.balances.rows.map { $0[4] } == (3...9).map { "2026-10-0\($0)" })
        #expect(removed.deletedInvoices.rows.isEmpty && removed.deletedBalances.rows.isEmpty)
        #expect(e0.tables.lineItems.rows.count == 18)

        try h.engine.applyCatalog(Self.catalog, now: now)
        let back = try h.engine.warehouseExport(asOf: Self.asOf, since: basis)
        #expect(back.deletedLineItems.rows.isEmpty)
        #expect(back.tables.lineItems.rows.map { $0[2] } == Array(repeating: "gpu", count: 9))
        #expect(Rows(e0).applying(back) == Rows(try h.engine.warehouseExport(asOf: Self.asOf)))
    }

    /// `--changed-since SEQ` beyond the log is refused with what to give instead.
    @Test func basisBeyondTheLogIsRefused() throws {
        let h = try Self.harness()
        #expect(throws: ExportBasisError.self) { _ = try h.engine.journalPosition(appendingSeq: 5) }
        // Seq 4 was appended by the batch, the second write (the catalog apply is the first).
        #expect(try h.engine.journalPosition(appendingSeq: 4) == 2)
    }

    /// A store nothing was ever written to (a cluster partition before its first catalog version
    /// or event) exports no rows: journal position 0 is also the "before anything" position.
    @Test func aStoreWithNothingWrittenExportsNoRows() throws {
        let store = try TemporaryStore()
        let export = try store.engine.warehouseExport(asOf: Self.asOf)
        #expect(export.logSeq == 0 && export.position == 0)
        #expect(Rows(export).count == 0)
    }
}
