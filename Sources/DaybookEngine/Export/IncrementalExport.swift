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
    public init(asOf: Day) { self.asOf = asOf }
}

extension Engine {
    /// The warehouse export as of `date`: every row (no basis), or only rows changed since the
    /// basis plus the keys of vanished rows. One read transaction.
    ///
    /// STUB (lead, issue 10): today every row is returned and nothing is deleted; the change
    /// stamps replace this body. The signature and the meaning of the fields stay.
    public func warehouseExport(asOf date: Day, since basis: ExportBasis? = nil) throws -> WarehouseExport {
        var out = WarehouseExport(asOf: date)
        out.basis = basis
        out.tables = try export(asOf: date)
        let store = self.store
        let state = try store.env.read { txn in try EngineState.load(store, txn) }
        out.logSeq = state.lastSeq
        out.position = state.journalPosition
        out.invoiceChangedSeq = Array(repeating: state.lastSeq, count: out.tables.invoices.rows.count)
        out.lineItemChangedSeq = Array(repeating: state.lastSeq, count: out.tables.lineItems.rows.count)
        out.balanceChangedSeq = Array(repeating: state.lastSeq, count: out.tables.balances.rows.count)
        return out
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
                guard let bytes = try txn.get(Keys.seq(mid), in: store.journal) else {
                    throw StoreCorruption("journal entry \(mid) is missing")
                }
                if try JournalEntry(position: mid, decoding: bytes).lastSeq >= seq { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
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
