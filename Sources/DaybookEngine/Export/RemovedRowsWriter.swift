import DaybookCore
import DaybookStore
import LMDB

/// Records, in a catalog change, the export rows of the contracts it rebuilt that exist no more
/// (`removed_rows`): the dropped invoices compared with the rebuilt ones, the old balances with
/// the new. Rows that come back later are told apart when an export reads the records.
struct RemovedRowsWriter {
    let store: Store
    let position: UInt64
    private var n: UInt32 = 0

    init(store: Store, position: UInt64) {
        self.store = store
        self.position = position
    }

    mutating func record(
        old: ContractPlan, dropped: [([UInt8], InvoiceState)], new: ContractPlan?, _ ws: WorkingSet,
        _ txn: borrowing Transaction
    ) throws {
        for (key, before) in dropped.sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }) {
            let id = old.contract.invoiceID(before.period)
            let start = before.period.start, end = before.period.end
            let after = new == nil ? nil : ws.entries[key]?.state
            // Rows of days the rebuilt invoice no longer has (all of them when it is gone).
            let keptEnd = after.map { min($0.period.end, end) } ?? start
            if keptEnd < end {
                try put(RemovedRows(table: .invoices, rowID: id, contractID: old.contract.id, start: start, from: keptEnd, to: end), txn)
            }
            for item in before.lineItems {
                let itemEnd = after?.index(ofLineItem: item.id) == nil ? start : keptEnd
                guard itemEnd < end else { continue }
                try put(
                    RemovedRows(
                        table: .lineItems, rowID: id, contractID: old.contract.id, start: start, lineItemID: item.id,
                        from: itemEnd, to: end), txn)
            }
        }
        for balance in old.balances {
            let now = new?.balances.first { $0.id == balance.id }
            // The old range minus the new one: at most a piece before it and a piece after it.
            let pieces: [(Day, Day)] =
                if let now {
                    [(balance.starts, min(balance.ends, now.starts)), (max(balance.starts, now.ends), balance.ends)]
                } else { [(balance.starts, balance.ends)] }
            for (from, to) in pieces where from < to {
                try put(RemovedRows(table: .balances, rowID: balance.id, from: from, to: to), txn)
            }
        }
    }

    private mutating func put(_ rows: RemovedRows, _ txn: borrowing Transaction) throws {
        try txn.put(Keys.removedRows(position: position, n: n), rows.encoded(), in: store.removedRows)
        n += 1
    }
}
