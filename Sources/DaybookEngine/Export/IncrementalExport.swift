import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// What an incremental export is relative to: the export it updates (SPEC §5 `--changed-since`).
public struct ExportBasis: Sendable, Hashable {
    /// Rows changed by writes after this journal position are exported (0: every row).
    public var position: UInt64
    /// The as-of date of the export being updated: rows of days on or after it are new in an
    /// export with a later date even when their values never changed; rows on or after the new
    /// date vanish when the new date is earlier. Nil: the same date as the new export.
    public var asOf: Day?
    public init(position: UInt64, asOf: Day?) {
        self.position = position
        self.asOf = asOf
    }
}

/// The breakdown tables as a warehouse loads them (SPEC §5 `--postgres`): the rows of
/// ``BreakdownExport`` (all of them, or with a basis only those that changed since it) each with
/// `changed_seq`, the keys of rows that vanished since the basis, and where in the log it stands.
public struct WarehouseExport: Sendable, Hashable {
    /// The rows, columns exactly as the CSV export's.
    public var tables = BreakdownExport()
    /// `changed_seq` of each row of `tables.invoices`, `.lineItems`, `.balances`, aligned by index:
    /// the log seq (after the write) at which that row's values last changed.
    public var invoiceChangedSeq: [UInt64] = []
    public var lineItemChangedSeq: [UInt64] = []
    public var balanceChangedSeq: [UInt64] = []
    /// Keys of rows present in the basis export and absent now (empty for a full export):
    /// `invoices` (invoice_id, day), `line_items` (invoice_id, line_item_id, day),
    /// `balances` (balance_id, day). Columns named as in the tables.
    public var deletedInvoices = Table(columns: ["invoice_id", "day"])
    public var deletedLineItems = Table(columns: ["invoice_id", "line_item_id", "day"])
    public var deletedBalances = Table(columns: ["balance_id", "day"])
    /// The log seq and journal position the export reflects (one read snapshot).
    public var logSeq: UInt64 = 0
    public var position: UInt64 = 0
    public var asOf: Day
    /// The basis, or nil for a full export.
    public var basis: ExportBasis?
    /// Open drift (`discrepancies`) and every correction, read in the same transaction as the
    /// rows: the warehouse's `drift` and `corrections` tables and `corrections.csv` (replaced whole
    /// by every export, incremental ones too: they are few).
    public var drift: [DriftRecord] = []
    public var corrections: [Correction] = []
    public init(asOf: Day) { self.asOf = asOf }
}

extension Engine {
    /// The warehouse export as of `date`: every row (no basis), or only rows changed since the
    /// basis plus the keys of vanished rows. One read transaction.
    ///
    /// With a basis it reads the invoices in `changed_invoices` after the basis position and
    /// writes their rows stamped after it, the rows of days from the basis date to `date` when
    /// the date moved forward, and for deletions the `removed_rows` after the basis (minus rows
    /// present again) and the rows of days from `date` to the basis date when it moved back. So
    /// it costs what changed, not the whole history (docs/architecture.md "How incremental
    /// exports find what changed").
    public func warehouseExport(asOf date: Day, since basis: ExportBasis? = nil) throws -> WarehouseExport {
        // Through the later date: rows the basis export had on days the date has left are deleted.
        let through = max(date, basis?.asOf ?? date).adding(days: -1)
        return try withLiveView(through: through) { txn, view in
            var out = WarehouseExport(asOf: date)
            out.basis = basis
            out.logSeq = view.state.lastSeq
            out.position = view.state.journalPosition
            var changed = StampedRows()
            if let basis {
                changed = try changedRows(asOf: date, since: basis, txn, view, into: &out)
            } else {
                changed = try allRows(asOf: date, txn, view)
            }
            out.tables = changed.tables
            // Not a literal with both: in a store nothing was written to, the journal position is
            // 0 too, and a dictionary literal with a repeated key traps.
            var seqs: [UInt64: UInt64] = [0: 0]
            if view.state.journalPosition != 0 { seqs[view.state.journalPosition] = view.state.lastSeq }
            out.invoiceChangedSeq = try logSeqs(of: changed.invoiceStamps, &seqs, txn)
            out.lineItemChangedSeq = try logSeqs(of: changed.lineItemStamps, &seqs, txn)
            out.balanceChangedSeq = try logSeqs(of: changed.balanceStamps, &seqs, txn)
            out.drift = try discrepancies(txn)
            out.corrections = try corrections(txn)
            return out
        }
    }

    /// `changed_seq` of each stamp: the last log seq of the write at that journal position (its
    /// `JournalEntry`), read once per position (`cache`; an export's positions are few).
    private func logSeqs(of positions: [UInt64], _ cache: inout [UInt64: UInt64], _ txn: borrowing Transaction) throws
        -> [UInt64]
    {
        var result: [UInt64] = []
        result.reserveCapacity(positions.count)
        for position in positions {
            if let s = cache[position] {
                result.append(s)
                continue
            }
            let s = try JournalEntry.load(position, store, txn).lastSeq
            cache[position] = s
            result.append(s)
        }
        return result
    }

    /// The rows changed since `basis` (sorted) and, into `out`, the keys of rows gone since.
    private func changedRows(
        asOf date: Day, since basis: ExportBasis, _ txn: borrowing Transaction, _ view: LiveView,
        into out: inout WarehouseExport
    ) throws -> StampedRows {
        let plan = view.plan
        let p0 = basis.position, current = view.state.journalPosition
        let basisDate = basis.asOf ?? date
        // Invoices whose rows may be in the export: changed after the basis, computed in this view,
        // or with days between the two dates.
        var keys = Set<[UInt8]>()
        try txn.scan(in: store.changedInvoices, from: Keys.seq(p0 &+ 1)) { key, _ in
            keys.insert(Array(key.dropFirst(8)))
            return true
        }
        for entry in view.ws.entries.values where entry.original == nil { keys.insert(entry.key) }
        let window = min(basisDate, date)..<max(basisDate, date)
        if !window.isEmpty {
            for contract in plan.contracts.values { keys.formUnion(invoiceKeys(contract, rowsIn: window)) }
        }
        // Rows of those invoices changed after the basis or new with the date; only days before `date`.
        var emitter = RowEmitter(plan: plan, days: Day(number: .min)..<date) { day, stamp in
            stamp > p0 || day >= basisDate
        }
        var gone = RowEmitter(plan: plan, days: date..<max(date, basisDate)) { _, _ in true }  // date moved back
        for key in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let (contract, state) = try viewInvoice(key, txn, view) else { continue }
            let c = contract.contract
            let previous =
                state.period.start == c.starts
                ? nil
                : try c.period(containing: state.period.start.adding(days: -1)).flatMap {
                    try viewInvoice(Keys.invoice(contract: c.id, start: $0.start), txn, view)?.1
                }
            let finalized = try txn.contains(key, in: store.snapshots)
            let closing = previous.map { $0.closing[$0.dayCount - 1] }
            let position = view.isComputed(key) ? current : nil
            emitter.invoice(state, of: contract, finalized: finalized, previousClosing: closing, position: position)
            if date < basisDate {
                gone.invoice(state, of: contract, finalized: finalized, previousClosing: closing, position: position)
            }
        }
        // Balance rows before contracts that start after the horizon (no first invoice in the view).
        for contract in plan.contracts.values.sorted(by: { $0.contract.id.utf8Precedes($1.contract.id) })
        where contract.balances.contains(where: { $0.starts < min(contract.contract.starts, max(date, basisDate)) }) {
            let first = Keys.invoice(contract: contract.contract.id, start: contract.contract.starts)
            guard try viewInvoice(first, txn, view) == nil else { continue }
            emitter.balancesBeforeStart(of: contract, position: current)
            gone.balancesBeforeStart(of: contract, position: current)
        }
        emitter.rows.sort()

        // Deletions: rows of days the date left behind, and tombstones after the basis whose rows
        // are not present again (clipped to the basis export's days).
        var deleted = DeletedKeys()
        deleted.add(gone.rows.tables)
        var balances: [String: Balance]?
        try txn.scan(in: store.removedRows, from: Keys.seq(p0 &+ 1)) { _, value in
            let removed = try RemovedRows(decoding: value)
            var present: Range<Day>?
            switch removed.table {
            case .invoices, .lineItems:
                let key = Keys.invoice(contract: removed.contractID, start: removed.start)
                if let (_, state) = try viewInvoice(key, txn, view),
                    removed.table == .invoices || state.index(ofLineItem: removed.lineItemID) != nil
                {
                    present = state.period.start..<state.period.end
                }
            case .balances:
                if balances == nil {
                    balances = [:]
                    for contract in plan.contracts.values { for b in contract.balances { balances![b.id] = b } }
                }
                present = balances![removed.rowID].map { $0.starts..<$0.ends }
            }
            var day = removed.from
            let end = min(removed.to, basisDate)
            while day < end {
                if !(present.map { $0.contains(day) && day < date } ?? false) { deleted.add(removed, day: day) }
                day = day.adding(days: 1)
            }
            return true
        }
        deleted.write(into: &out)
        return emitter.rows
    }

    /// The invoice under `key` in the view with its contract, nil when it is not there (or its
    /// contract is no longer in the catalog).
    private func viewInvoice(_ key: [UInt8], _ txn: borrowing Transaction, _ view: LiveView) throws -> (
        ContractPlan, InvoiceState
    )? {
        guard let parts = Keys.invoiceParts(key), let contract = view.plan.contracts[parts.contract],
            let state = try view.invoice(key, contract: contract, txn)
        else { return nil }
        return (contract, state)
    }

    /// Keys of the contract's invoices that hold rows of days in `window`: the periods it
    /// overlaps, the first period for balance rows before the contract starts, the last for rows
    /// after it ends.
    private func invoiceKeys(_ contract: ContractPlan, rowsIn window: Range<Day>) -> [[UInt8]] {
        let c = contract.contract
        var keys: [[UInt8]] = []
        var period = c.period(containing: max(window.lowerBound, c.starts))
        while let p = period, p.start < window.upperBound {
            keys.append(Keys.invoice(contract: c.id, start: p.start))
            period = c.period(containing: p.end)
        }
        if window.lowerBound < c.starts, contract.balances.contains(where: { $0.starts < c.starts }) {
            keys.append(Keys.invoice(contract: c.id, start: c.starts))
        }
        if let ends = c.ends, ends < window.upperBound,
            contract.balances.contains(where: { $0.ends > max(ends, window.lowerBound) }),
            let last = c.period(containing: ends.adding(days: -1))
        {
            keys.append(Keys.invoice(contract: c.id, start: last.start))
        }
        return keys
    }

    /// The journal position of the write that appended event `seq` (0 for seq 0): the basis
    /// position of `--changed-since SEQ`. Writes after it with the same last seq (catalog
    /// changes, finalizations) count as changes since SEQ: re-sending an unchanged row is
    /// harmless, missing a changed one is not.
    public func journalPosition(appendingSeq seq: UInt64) throws -> UInt64 {
        guard seq > 0 else { return 0 }
        let store = self.store
        return try store.env.read { txn in
            // Positions are dense (1...n) and lastSeq is monotone in them: binary search.
            let state = try EngineState.load(store, txn)
            guard seq <= state.lastSeq else {
                throw ExportBasisError.seqBeyondLog(seq: seq, lastSeq: state.lastSeq)
            }
            var lo: UInt64 = 1, hi = state.journalPosition
            while lo < hi {
                let mid = lo + (hi - lo) / 2
                if try JournalEntry.load(mid, store, txn).lastSeq >= seq { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
    }
}

/// The keys of deleted rows of each table, each once, in the export's row order.
private struct DeletedKeys {
    var invoices = Set<[String]>()
    var lineItems = Set<[String]>()
    var balances = Set<[String]>()

    mutating func add(_ tables: BreakdownExport) {
        for row in tables.invoices.rows { invoices.insert([row[0], row[5]]) }
        for row in tables.lineItems.rows { lineItems.insert([row[0], row[2], row[6]]) }
        for row in tables.balances.rows { balances.insert([row[0], row[4]]) }
    }

    mutating func add(_ removed: RemovedRows, day: Day) {
        switch removed.table {
        case .invoices: invoices.insert([removed.rowID, "\(day)"])
        case .lineItems: lineItems.insert([removed.rowID, removed.lineItemID, "\(day)"])
        case .balances: balances.insert([removed.rowID, "\(day)"])
        }
    }

    func write(into out: inout WarehouseExport) {
        func ordered(_ keys: Set<[String]>) -> [[String]] {
            keys.sorted { a, b in
                for (x, y) in zip(a, b) where x != y { return x.utf8Precedes(y) }
                return false
            }
        }
        out.deletedInvoices.rows = ordered(invoices)
        out.deletedLineItems.rows = ordered(lineItems)
        out.deletedBalances.rows = ordered(balances)
    }
}

/// `--changed-since SEQ` names no position of this store.
public enum ExportBasisError: Error, Sendable, CustomStringConvertible {
    case seqBeyondLog(seq: UInt64, lastSeq: UInt64)
    public var description: String {
        switch self {
        case .seqBeyondLog(let seq, let last):
            "--changed-since \(seq): the log ends at seq \(last); give the log seq of the export being updated "
                + "(the `exports` table's log_seq, or `daybook stats`)"
        }
    }
}
