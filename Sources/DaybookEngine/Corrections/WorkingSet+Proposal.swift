import DaybookCore
import DaybookStore
import LMDB

extension WorkingSet {
    /// Brings the proposed correction of one finalized invoice up to date (SPEC §4 "Corrections"),
    /// in the transaction that changed its live values or its corrections: no periodic scan.
    ///
    /// The proposal is the live values minus what was billed (snapshot + issued corrections) minus
    /// what was rejected, per line item; it exists when the summed `total_delta` is non-zero and at
    /// least `correction_threshold` in absolute value. It keeps its number while it follows the
    /// drift; `proposedSeq` moves only when its lines do.
    ///
    /// - Parameters:
    ///   - state: the live invoice, nil when its contract was removed (all zeros).
    ///   - ids: its line items, when the caller has them (``lineItemIDs(snapshot:state:ledger:)`` or more).
    func updateProposal(
        key: [UInt8], state: InvoiceState?, snapshot: Snapshot, ledger: CorrectionLedger?, ids: [String]? = nil,
        _ context: DriftContext, _ txn: borrowing Transaction
    ) throws {
        let ids = ids ?? Self.lineItemIDs(snapshot: snapshot, state: state, ledger: ledger)
        let lines = Self.proposedLines(snapshot: snapshot, state: state, ledger: ledger, ids: ids)
        var ledger = ledger ?? CorrectionLedger(invoiceID: snapshot.invoiceID, customerID: snapshot.customerID)
        let before = ledger.proposal
        if let kind = Self.proposedKind(lines, threshold: plan.catalog.correctionThreshold) {
            if let before, before.lines == lines, before.kind == kind { return }
            var proposal =
                before
                ?? Correction(
                    number: ledger.acted + 1, invoiceID: snapshot.invoiceID, customerID: snapshot.customerID,
                    kind: kind, lines: lines, seq: context.seq, at: context.now, causes: CorrectionCauses())
            proposal.kind = kind
            proposal.lines = lines
            proposal.proposedSeq = context.seq
            proposal.proposedAt = context.now
            ledger.proposal = proposal
        } else {
            guard before != nil else { return }
            ledger.proposal = nil
        }
        try ledger.save(invoice: key, store, txn)
    }

    /// The kind of correction `lines` make, nil when they are not proposed: their summed
    /// `total_delta` is zero or below `threshold` in absolute value.
    static func proposedKind(_ lines: [CorrectionLine], threshold: FixedDecimal) -> CorrectionKind? {
        var total = FixedDecimal.zero
        for line in lines { total = total + line.delta.total }
        let magnitude = total.isNegative ? .zero - total : total
        guard !total.isZero, !(magnitude < threshold) else { return nil }
        return total.isNegative ? .creditNote : .trueUp
    }

    /// Live values − (snapshot + issued + rejected) for every line item that moved, in byte order.
    static func proposedLines(snapshot: Snapshot, state: InvoiceState?, ledger: CorrectionLedger?, ids: [String])
        -> [CorrectionLine]
    {
        var lines: [CorrectionLine] = []
        for id in ids {
            let current =
                state.flatMap { s in s.index(ofLineItem: id).map { s.lineItems[$0].periodTotals } } ?? Totals()
            let base =
                snapshot.totals(of: id) + CorrectionLedger.sum(ledger?.issued ?? [], of: id)
                + CorrectionLedger.sum(ledger?.rejected ?? [], of: id)
            let delta = current - base
            if !delta.isZero { lines.append(CorrectionLine(lineItemID: id, delta: delta)) }
        }
        return lines.sorted { $0.lineItemID.utf8Precedes($1.lineItemID) }
    }
}
