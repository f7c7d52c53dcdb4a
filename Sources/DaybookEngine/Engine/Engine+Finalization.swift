import DaybookCore
import DaybookOutput
import DaybookStore
import Dispatch
import LMDB
import Synchronization

extension Engine {
    // MARK: Horizon and finalization

    /// Materializes every contract's invoices whose period begins on or before `day`.
    func advanceHorizon(_ ws: WorkingSet, _ state: inout EngineState, to day: Day, _ txn: borrowing Transaction) throws
    {
        if let h = state.horizon, day <= h { return }
        for contract in ws.plan.contracts.values { try ws.materialize(contract, through: day, txn) }
        state.horizon = day
    }

    /// Freezes a snapshot of every open invoice due by the clock (period end + grace ≤ now) or
    /// whose period ends on or before `through`.
    @discardableResult
    func finalizeDue(
        _ ws: WorkingSet, _ state: inout EngineState, now: Timestamp, through: Day?,
        _ txn: borrowing Transaction
    ) throws -> [String] {
        try ws.settle(txn)
        let rule = FinalizationRule(now: now, graceHours: ws.plan.catalog.finalizationGraceHours, through: through)
        var due: [[UInt8]] = []
        // By period end ascending: the first invoice not due ends the scan (FinalizationRule is monotone).
        try txn.scan(in: store.openInvoices) { key, _ in
            guard rule.isDue(periodEnd: try Keys.day(from: key, at: 0, in: "open_invoices key")) else { return false }
            due.append(key)
            return true
        }
        var finalized: [String] = []
        for openKey in due {
            try txn.delete(openKey, in: store.openInvoices)
            let key = Array(openKey.dropFirst(4))  // 4 bytes checked by the scan's day read
            // Loaded into the working set: finalization changes the status of every invoices row.
            guard let parts = Keys.invoiceParts(key), let contract = ws.plan.contracts[parts.contract],
                let entry = try ws.invoice(contract: contract, start: parts.start, txn)
            else {
                continue  // its contract was removed from the catalog
            }
            entry.finalizedNow = true
            let invoice = entry.state
            let id = contract.contract.invoiceID(invoice.period)
            let snapshot = Snapshot(
                invoiceID: id, customerID: contract.contract.customerID, contractID: contract.contract.id,
                finalizedAt: now, seq: state.lastSeq,
                lines: invoice.lineItems.map { Snapshot.Line(lineItemID: $0.id, totals: $0.periodTotals) })
            try txn.put(key, snapshot.encoded(), in: store.snapshots)
            ws.entries[key]?.didFinalize(snapshot)
            state.counters.invoicesFinalized += 1
            finalized.append(id)
        }
        return finalized
    }

    /// Finalizes what is due by the clock and, with `through`, every invoice whose period ends
    /// on or before that date (SPEC §4). Returns the ids of the invoices finalized.
    @discardableResult
    public func finalize(now: Timestamp, through: Day? = nil) throws -> [String] {
        try transaction(now: now) { txn, ws, state in
            try advanceHorizon(ws, &state, to: max(now.day, through.map { $0.adding(days: -1) } ?? now.day), txn)
            return (try finalizeDue(ws, &state, now: now, through: through, txn), .finalize(through: through))
        }
    }

}
