import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// Where and when the changes of a write transaction happen, for drift records.
struct DriftContext {
    /// The last log sequence once the transaction commits.
    var seq: UInt64
    var now: Timestamp
    /// Set when the transaction applies a catalog version (it is then a cause of the drift it makes).
    var catalogVersion: UInt32?
}

extension WorkingSet {
    /// Brings the drift records of one finalized invoice up to date with its live state: opens
    /// or updates a record per line item that differs from the snapshot, resolves the ones that
    /// no longer differ (SPEC §4). Called only for invoices this transaction changed.
    ///
    /// - Parameter state: the live invoice, or nil when its contract was removed (all zeros).
    func updateDrift(
        key: [UInt8], state: InvoiceState?, snapshot: Snapshot, _ context: DriftContext,
        _ txn: borrowing Transaction
    ) throws {
        let ledger = try CorrectionLedger.load(invoice: key, store, txn)
        // Every line item of the snapshot, of the live state, of the corrections, and of the open
        // records (a line item may exist on neither side any more, e.g. when its contract was removed).
        var ids = Self.lineItemIDs(snapshot: snapshot, state: state, ledger: ledger)
        try txn.scan(in: store.drift, prefix: Keys.distinctPrefix(invoice: key)) { _, value in
            let id = try DriftRecord(decoding: value).lineItemID
            if !ids.contains(id) { ids.append(id) }
            return true
        }
        var via: [String]?  // computed at most once per invoice
        var causes: CauseSummary?  // read at most once per invoice, when a record resolves
        for id in ids {
            let current =
                state.flatMap { s in s.index(ofLineItem: id).map { s.lineItems[$0].periodTotals } } ?? Totals()
            let finalized = snapshot.totals(of: id)
            // Drift is measured against what was billed: the snapshot plus issued corrections.
            let billed = finalized + CorrectionLedger.sum(ledger?.issued ?? [], of: id)
            let chain = store.driftChain(invoice: key, lineItem: id)
            let (existing, slot) = try store.driftRecord(in: chain, lineItem: id, txn)
            if current == billed {
                guard var resolved = existing else { continue }
                resolved.current = current
                resolved.billed = billed
                resolved.resolvedSeq = context.seq
                resolved.resolvedAt = context.now
                // History keeps the causes as of its resolution (this transaction's included).
                if causes == nil { causes = try CauseSummary.load(invoice: key, store, txn) }
                resolved.lateEventCount = causes!.lateEventCount
                resolved.lateTransactionIDs = causes!.firstLateTransactionIDs
                resolved.catalogVersions = causes!.catalogVersions
                // A line item resolved again at the same seq replaces its record, as it always did.
                let history = store.driftHistoryChain(invoice: key, lineItem: id, resolvedSeq: context.seq)
                let place = try store.driftRecord(in: history, lineItem: id, txn).slot
                try txn.put(place.key, resolved.encoded(), in: store.driftHistory)
                try chain.remove(slot.n, txn)
                continue
            }
            if let existing, existing.current == current, existing.billed == billed { continue }
            var record =
                existing
                ?? DriftRecord(
                    invoiceID: snapshot.invoiceID, customerID: snapshot.customerID, lineItemID: id,
                    finalized: finalized, billed: billed, current: current,
                    firstDetectedSeq: context.seq, firstDetectedAt: context.now)
            record.current = current
            record.billed = billed
            record.lastChangedSeq = context.seq
            record.lastChangedAt = context.now
            let drawDownOnly = current.quantity == billed.quantity && current.subtotal == billed.subtotal
            if drawDownOnly && via == nil { via = try earlierInvoicesChanged(after: snapshot, key: key, txn) }
            record.viaInvoices = drawDownOnly ? via! : []
            try txn.put(slot.key, record.encoded(), in: store.drift)
        }
        try updateProposal(key: key, state: state, snapshot: snapshot, ledger: ledger, ids: ids, context, txn)
    }

    /// The line items of a finalized invoice: its snapshot's, then the live state's and the
    /// corrections' that are not in it.
    static func lineItemIDs(snapshot: Snapshot, state: InvoiceState?, ledger: CorrectionLedger?) -> [String] {
        var ids = snapshot.lines.map(\.lineItemID)
        var seen = Set(ids)
        for id in (state?.lineItems ?? []).map(\.id)
            + (ledger.map { ($0.issued + $0.rejected).map(\.lineItemID) } ?? [])
        where seen.insert(id).inserted {
            ids.append(id)
        }
        return ids
    }

    /// Records that catalog version `version` rebuilt the finalized invoice `key` (a cause of its drift).
    func recordCatalogCause(invoice key: [UInt8], version: UInt32, _ txn: borrowing Transaction) throws {
        var summary = try CauseSummary.load(invoice: key, store, txn)
        guard !summary.catalogVersions.contains(version) else { return }
        summary.addCatalogVersion(version)
        try summary.save(invoice: key, store, txn)
    }

    /// Earlier invoices of the same contract that received late events after `snapshot` was
    /// taken: through the contract's shared balances, they are what moved this invoice.
    private func earlierInvoicesChanged(after snapshot: Snapshot, key: [UInt8], _ txn: borrowing Transaction) throws
        -> [String]
    {
        guard let contract = plan.contracts[snapshot.contractID] else { return [] }
        let start = try Keys.day(from: key, at: key.count - 4, in: "invoice key")
        var result: [String] = []
        for period in contract.contract.periods(beginningOnOrBefore: start.adding(days: -1)) {
            let earlier = Keys.invoice(contract: contract.contract.id, start: period.start)
            var upper = earlier
            upper.append(1)
            upper.appendBigEndian(UInt64.max)
            var moved = false
            try txn.scanReverse(in: store.causes, from: upper) { k, _ in
                if k.count == earlier.count + 9, k.starts(with: earlier), k[earlier.count] == 1 {
                    moved = Keys.readSeq(k, at: earlier.count + 1) > snapshot.seq
                }
                return false
            }
            if moved { result.append(contract.contract.invoiceID(period)) }
        }
        return result
    }
}
