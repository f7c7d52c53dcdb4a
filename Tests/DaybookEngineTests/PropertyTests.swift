import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload
import DaybookTestSupport
import Foundation
import Testing

/// The engine's incrementally maintained breakdown must equal a from-scratch recompute
/// (``ReferenceBilling``) of the accepted, de-duplicated log under the latest catalog.
@Suite struct PropertyTests {
    /// Plays a random history (batches in random order with duplicates, backdated and invalid
    /// events, catalog changes between batches) and compares the export after every batch.
    @Test(arguments: propertySeeds)
    func incrementalEqualsRecompute(seed: Int) throws {
        let history = RandomHistory(seed: UInt64(seed))
        let store = try TemporaryStore()
        var log = LogModel()
        var catalog: Catalog?
        var trail: [String] = []  // what happened so far, for failure messages
        var snapshots = DriftModel()
        /// Records what the stored invoices break of their invariants; true if anything.
        func invariantsBroken(after index: Int) throws -> Bool {
            let broken = try invariantViolations(store.engine, catalog!)
            guard !broken.isEmpty else { return false }
            let dir = writeReproduction(history, upTo: index, seed: seed)
            Issue.record(
                """
                seed \(seed), after step \(index): stored invoices break their invariants (reproduction in \(dir))
                \(trail.joined(separator: "\n"))
                \(broken.prefix(10).joined(separator: "\n"))
                """)
            return true
        }

        for (index, step) in history.steps.enumerated() {
            switch step {
            case .catalog(let model, let change, let now):
                trail.append("step \(index): catalog (\(change)) at \(now)")
                try store.engine.applyCatalog(model.bytes, now: now)
                catalog = try Catalog.parse(model.bytes)
                if try invariantsBroken(after: index) { return }
            case .ingest(let lines, let now):
                if index % 3 == 2 {
                    try store.reopen()  // the state must survive a restart
                    trail.append("(store reopened)")
                }
                let engine = store.engine
                trail.append("step \(index): ingest \(lines.count) records at \(now)")
                // The engine finalizes what is due before applying the batch: snapshot the reference first.
                snapshots.finalizeDue(now: now, catalog: catalog!, events: log.events)
                let logged = log.events.count
                let expected = log.ingest(lines, now: now, catalog: catalog!)
                snapshots.recordLateEvents(log.events[logged...], catalog: catalog!)
                let summary = try engine.ingest(IngestRecord.lines(lines), source: "property", now: now)
                if try invariantsBroken(after: index) { return }
                let drift = snapshots.expectedDrift(now: now, catalog: catalog!, events: log.events)
                let actualDrift = try engine.discrepancies().map(DriftModel.describe)
                if actualDrift != drift {
                    let dir = writeReproduction(history, upTo: index, seed: seed)
                    Issue.record(
                        """
                        seed \(seed), after step \(index): drift records ≠ snapshots vs full recompute (reproduction in \(dir))
                        \(trail.joined(separator: "\n"))
                        engine only: \(actualDrift.filter { !drift.contains($0) }.prefix(5).joined(separator: "\n"))
                        reference only: \(drift.filter { !actualDrift.contains($0) }.prefix(5).joined(separator: "\n"))
                        """)
                    return
                }
                #expect(
                    summary == expected,
                    "seed \(seed) step \(index): ingest summary \(summary.json) vs expected \(expected.json)")

                let isLast = index == history.steps.count - 1
                var dates = [now.day.adding(days: index % 2)]
                if isLast { dates += [now.day.adding(days: -20), now.day.adding(days: 45)] }
                for asOf in dates {
                    let problems = try compare(engine, catalog!, log.events, asOf: asOf, now: now)
                    if !problems.isEmpty {
                        let dir = writeReproduction(history, upTo: index, seed: seed)
                        Issue.record(
                            """
                            seed \(seed), after step \(index), export --as-of \(asOf): engine ≠ reference \
                            (reproduction in \(dir))
                            \(trail.joined(separator: "\n"))
                            \(problems.joined(separator: "\n"))
                            """)
                        return  // later checks would only repeat the same difference
                    }
                }
                if isLast {
                    // The invoice list's period totals are the sums of the export's daily rows.
                    let asOf = now.day.adding(days: 45)
                    let rows = try store.engine.export(asOf: asOf).invoices.rows
                    for invoice in try store.engine.invoices(now: now) where invoice.period.end <= asOf {
                        let days = rows.filter { $0[0] == invoice.invoiceID }
                        let decimals = catalog!.currencyDecimals
                        let sums = (8...11).map { c in
                            days.reduce(FixedDecimal.zero) { $0 + FixedDecimal($1[c])! }.formatted(decimals: decimals)
                        }
                        let t = invoice.totals
                        #expect(
                            sums
                                == [t.subtotal, t.credits, t.commits, t.total].map { $0.formatted(decimals: decimals) },
                            "seed \(seed): totals of \(invoice.invoiceID)")
                    }
                }
            }
        }
    }

    /// Re-applying the catalog in force changes nothing: no contract is reported changed and the
    /// export stays byte-identical.
    @Test(arguments: [3, 11])
    func reapplyingTheSameCatalogKeepsTheExport(seed: Int) throws {
        let history = RandomHistory(seed: UInt64(1000 + seed), batches: 4...4)
        let store = try TemporaryStore()
        let engine = store.engine
        var log = LogModel()
        var current: CatalogModel?
        var now = Timestamp(day: Day(year: 2026, month: 1, day: 1)!)
        for step in history.steps {
            switch step {
            case .catalog(let model, _, let at):
                try engine.applyCatalog(model.bytes, now: at)
                current = model
            case .ingest(let lines, let at):
                _ = log.ingest(lines, now: at, catalog: try Catalog.parse(current!.bytes))
                _ = try engine.ingest(IngestRecord.lines(lines), source: "property", now: at)
                now = at
            }
        }
        let asOf = now.day.adding(days: 1)
        let before = try engine.export(asOf: asOf)
        let change = try engine.applyCatalog(current!.bytes, now: now.adding(seconds: 60))
        #expect(change.added.isEmpty && change.changed.isEmpty && change.removed.isEmpty, "\(change)")
        let after = try engine.export(asOf: asOf)
        #expect(
            ExportComparison.differences(actual: after, expected: before, actualName: "after", expectedName: "before")
                == [])
        #expect(csv(after) == csv(before))
        #expect(try compare(engine, try Catalog.parse(current!.bytes), log.events, asOf: asOf, now: now) == [])
    }

    /// Ingesting the same file twice: the second time every record is a duplicate and the export
    /// does not move by a byte.
    @Test func ingestingTheSameFileTwiceCountsOnlyDuplicates() throws {
        let history = RandomHistory(seed: 4242, batches: 5...5)
        var model: CatalogModel?
        var lines: [String] = []
        var now = Timestamp(day: Day(year: 2026, month: 1, day: 1)!)
        for step in history.steps {
            switch step {
            case .catalog(let m, _, _): if model == nil { model = m }
            case .ingest(let batch, let at): lines += batch; now = at
            }
        }
        let catalog = try Catalog.parse(model!.bytes)
        // The file: the records the log accepts at `now` (valid, unique, within lateness).
        var filter = LogModel()
        let file = lines.filter { filter.ingest([$0], now: now, catalog: catalog).accepted == 1 }
        #expect(file.count > 100)

        let store = try TemporaryStore()
        let engine = store.engine
        try engine.applyCatalog(model!.bytes, now: now)
        let first = try engine.ingest(IngestRecord.lines(file), source: "file:events.ndjson", now: now)
        #expect(first.accepted == file.count && first.duplicates == 0 && first.deadLettered == 0)
        let asOf = now.day.adding(days: 1)
        let before = try engine.export(asOf: asOf)

        let second = try engine.ingest(IngestRecord.lines(file), source: "file:events.ndjson", now: now)
        #expect(
            second.duplicates == file.count && second.accepted == 0 && second.deadLettered == 0
                && second.metricRejections == 0, "\(second.json)")
        let after = try engine.export(asOf: asOf)
        #expect(csv(after) == csv(before))
        #expect(try compare(engine, catalog, filter.events, asOf: asOf, now: now) == [])
    }
}

// MARK: Helpers

/// Finalization and drift modelled from scratch: an invoice is snapshotted from the reference
/// breakdown when the clock of an ingest reaches its period end + grace; drift is then every
/// line item whose reference totals now differ from that snapshot (SPEC §4). Its causes: the
/// events billed to the invoice by batches ingested after its snapshot, counted and listed
/// (first 100, log order) from the model's own log.
struct DriftModel {
    var snapshots: [String: [String: Totals]] = [:]
    /// Invoice id → transaction ids of its late events, in log order.
    var late: [String: [String]] = [:]

    /// Records the events just logged (in log order) that bill to an invoice already snapshotted.
    mutating func recordLateEvents(_ events: some Sequence<UsageEvent>, catalog: Catalog) {
        for event in events {
            guard let invoice = ReferenceBilling.invoiceBilled(by: event, catalog: catalog),
                snapshots[invoice] != nil
            else { continue }
            late[invoice, default: []].append(event.transactionID)
        }
    }

    /// Snapshots every invoice whose period end + grace ≤ now that has none yet.
    mutating func finalizeDue(now: Timestamp, catalog: Catalog, events: [UsageEvent]) {
        let grace = Int64(catalog.finalizationGraceHours) * 3600
        var due: [String] = []
        for contract in catalog.contracts {
            for period in contract.periods(beginningOnOrBefore: now.day)
            where Timestamp(day: period.end).adding(seconds: grace) <= now
                && snapshots[contract.invoiceID(period)] == nil
            {
                due.append(contract.invoiceID(period))
            }
        }
        guard !due.isEmpty else { return }
        let totals = Self.lineItemTotals(catalog: catalog, events: events, asOf: now.day.adding(days: 1))
        for id in due { snapshots[id] = totals[id] ?? [:] }
    }

    /// `invoice line-item finalized current` for every line item that differs, sorted as the report is.
    func expectedDrift(now: Timestamp, catalog: Catalog, events: [UsageEvent]) -> [String] {
        guard !snapshots.isEmpty else { return [] }
        let live = Self.lineItemTotals(catalog: catalog, events: events, asOf: now.day.adding(days: 70))
        var out: [(String, String, String)] = []
        for (invoice, frozen) in snapshots {
            let current = live[invoice] ?? [:]
            for item in Set(frozen.keys).union(current.keys) {
                let f = frozen[item] ?? Totals(), c = current[item] ?? Totals()
                guard f != c else { continue }
                let ids = late[invoice] ?? []
                let text = Self.describe(invoice, item, f, c, UInt64(ids.count), Array(ids.prefix(100)))
                out.append((invoice, item, text))
            }
        }
        return out.sorted { $0.0 != $1.0 ? $0.0.utf8Precedes($1.0) : $0.1.utf8Precedes($1.1) }.map(\.2)
    }

    /// Period totals per invoice and line item, summed from the reference's daily rows.
    static func lineItemTotals(catalog: Catalog, events: [UsageEvent], asOf: Day) -> [String: [String: Totals]] {
        let export = ReferenceBilling.export(catalog: catalog, events: events, asOf: asOf, finalizedInvoiceIDs: [])
        var result: [String: [String: Totals]] = [:]
        for row in export.lineItems.rows {
            var t = result[row[0], default: [:]][row[2], default: Totals()]
            t.quantity = t.quantity + FixedDecimal(row[7])!
            t.subtotal = t.subtotal + FixedDecimal(row[9])!
            t.credits = t.credits + FixedDecimal(row[10])!
            t.commits = t.commits + FixedDecimal(row[11])!
            result[row[0], default: [:]][row[2]] = t
        }
        return result
    }

    static func describe(
        _ invoice: String, _ item: String, _ f: Totals, _ c: Totals, _ lateCount: UInt64, _ firstLate: [String]
    ) -> String {
        func s(_ t: Totals) -> String { "\(t.quantity)/\(t.subtotal)/\(t.credits)/\(t.commits)" }
        let late = "late \(lateCount) [\(firstLate.joined(separator: " "))]"
        return "\(invoice) \(item) finalized \(s(f)) current \(s(c)) \(late)"
    }

    static func describe(_ r: DriftRecord) -> String {
        describe(r.invoiceID, r.lineItemID, r.finalized, r.current, r.lateEventCount, r.lateTransactionIDs)
    }
}

/// Every stored invoice checked against its invariants (``InvoiceState/contractInvariantViolations``):
/// daily rows add up to the period totals, `Q` is the running sum (running max for `max`
/// products), `A(d)` is the rounded price of `Q(d)`, and each day's balances close at their
/// opening less what the day's line items drew, opening at the previous day's closing (the full
/// amounts on the contract's first day). Balance order and aggregations come from the catalog.
func invariantViolations(_ engine: Engine, _ catalog: Catalog) throws -> [String] {
    let byContract = Dictionary(grouping: try engine.materializedInvoices(), by: \.contractID)
    let contracts = Dictionary(uniqueKeysWithValues: catalog.contracts.map { ($0.id, $0) })
    let maxProducts = Set(
        catalog.products.values.filter { $0.metric.flatMap { catalog.metrics[$0] }?.aggregation == .max }.map(\.id))
    var problems: [String] = []
    for (id, invoices) in byContract.sorted(by: { $0.key.utf8Precedes($1.key) }) {
        guard let contract = contracts[id] else {
            problems.append("\(id): \(invoices.count) invoices stored for a contract not in the catalog")
            continue
        }
        let rates = catalog.rateCards[contract.rateCard]!.rates
        problems += InvoiceState.contractInvariantViolations(
            invoices, contract: contract, balances: contract.balances.sorted(by: Balance.drawsBefore),
            maxProducts: maxProducts,
            amount: { product, q in rates[product]?.amount(for: q, decimals: catalog.currencyDecimals) })
    }
    return problems
}

/// 60 seeds; `DAYBOOK_PROPERTY_SEEDS=N` (and `DAYBOOK_PROPERTY_SEED_BASE=B`) run seeds B..<B+N instead.
let propertySeeds: [Int] = {
    let env = ProcessInfo.processInfo.environment
    let count = env["DAYBOOK_PROPERTY_SEEDS"].flatMap { Int($0) } ?? 60
    let base = env["DAYBOOK_PROPERTY_SEED_BASE"].flatMap { Int($0) } ?? 0
    return Array(base..<(base + count))
}()

/// The engine's export against the reference; `status` comes from the engine's own invoice list.
func compare(_ engine: Engine, _ catalog: Catalog, _ events: [UsageEvent], asOf: Day, now: Timestamp) throws -> [String]
{
    let finalized = Set(try engine.invoices(now: now).filter { $0.finalizedAt != nil }.map(\.invoiceID))
    let actual = try engine.export(asOf: asOf)
    let expected = ReferenceBilling.export(catalog: catalog, events: events, asOf: asOf, finalizedInvoiceIDs: finalized)
    return ExportComparison.differences(actual: actual, expected: expected)
}

func csv(_ export: BreakdownExport) -> [String] { export.files.map { TableWriter.csv($0.table) } }

/// Writes the history up to `step` as files (catalog versions, NDJSON batches, a script of
/// `daybook` commands) so a failure can be replayed with the CLI.
func writeReproduction(_ history: RandomHistory, upTo step: Int, seed: Int) -> String {
    let dir = FileManager.default.temporaryDirectory.path + "/daybook-repro/seed-\(seed)"
    try? FileManager.default.removeItem(atPath: dir)
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var script = "set -e\nD=$(mktemp -d)\n"
    for (i, s) in history.steps.enumerated() where i <= step {
        switch s {
        case .catalog(let model, let change, let now):
            let file = "step\(i)-catalog.json"
            try? model.json.write(toFile: "\(dir)/\(file)", atomically: true, encoding: .utf8)
            script += "daybook catalog apply \(file) --data $D --now \(now)   # \(change)\n"
        case .ingest(let lines, let now):
            let file = "step\(i)-events.ndjson"
            try? (lines.joined(separator: "\n") + "\n").write(
                toFile: "\(dir)/\(file)", atomically: true, encoding: .utf8)
            script += "daybook ingest \(file) --data $D --now \(now)\n"
        }
    }
    try? script.write(toFile: "\(dir)/replay.sh", atomically: true, encoding: .utf8)
    return dir
}

/// Minimal histories the property test found engine bugs with.
@Suite struct PropertyRegressions {
    static let oneContract = """
        {"currency": "USD", "currency_decimals": 2,
         "products": [{"id": "fee", "name": "Fee", "fixed": true}],
         "rate_cards": [{"id": "rc", "rates": [{"product": "fee", "unit_price": "10.00"}]}],
         "customers": [{"id": "a", "contracts": [{"id": "a-1", "rate_card": "rc", "starts": "2026-01-01", "ends": null}]}]}
        """

    /// A catalog applied at a later clock than the last ingest moves the horizon without
    /// materializing the unchanged contracts' periods that began in between.
    @Test func applyingACatalogAtALaterClockKeepsEveryBegunInvoice() throws {
        let store = try TemporaryStore()
        let doc = Array(Self.oneContract.utf8)
        try store.engine.applyCatalog(doc, now: try Timestamp(parsing: "2026-01-05T00:00:00Z"))
        try store.engine.applyCatalog(doc, now: try Timestamp(parsing: "2026-02-03T00:00:00Z"))  // the same catalog
        let asOf = Day(year: 2026, month: 2, day: 4)!
        let expected = ReferenceBilling.export(
            catalog: try Catalog.parse(doc), events: [], asOf: asOf, finalizedInvoiceIDs: [])
        let actual = try store.engine.export(asOf: asOf)
        #expect(ExportComparison.differences(actual: actual, expected: expected) == [])
        #expect(
            try store.engine.invoices(now: try Timestamp(parsing: "2026-02-03T00:00:00Z")).map(\.invoiceID)
                == ["a-1/2026-01-01", "a-1/2026-02-01"])
    }
}
