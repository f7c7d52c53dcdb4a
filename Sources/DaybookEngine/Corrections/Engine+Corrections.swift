import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// What `corrections issue` or `corrections reject` did.
public enum CorrectionAction: Sendable, Hashable {
    /// The proposal was frozen as issued (or rejected).
    case done(Correction)
    /// It already was: nothing was written (issuing is idempotent).
    case unchanged(Correction)

    public var correction: Correction {
        switch self {
        case .done(let c), .unchanged(let c): c
        }
    }
}

/// A correction as a person would send it (`daybook corrections show ID`): the correction and
/// the invoice it corrects.
public struct CorrectionDocument: Sendable, Hashable {
    public var correction: Correction
    /// The customer's name in the catalog in force (nil when the customer is no longer in it).
    public var customerName: String?
    public var contractID: String
    public var period: BillingPeriod
    public var currency: String
    public var currencyDecimals: Int
    public var finalizedAt: Timestamp
    /// The invoice's totals in its finalization snapshot.
    public var finalized: Totals
    /// What was billed before this correction: the snapshot plus the corrections issued before it.
    public var billedBefore: Totals
    /// `billedBefore` plus this correction's deltas (for a rejected one, `billedBefore`: it was not billed).
    public var billedAfter: Totals { correction.status == .rejected ? billedBefore : billedBefore + correction.totals }
}

extension EngineError.Code {
    /// The request conflicts with the store's state (a correction moved, or was already acted on
    /// the other way): nothing was written; look again and retry.
    public static let conflict = EngineError.Code(rawValue: 3)
}

extension Engine {
    // MARK: Reading

    /// Every correction (SPEC §4 "Corrections"), sorted by id in UTF-8 byte order: open proposals,
    /// and the issued and rejected ones; `customer` and `status` keep only those.
    public func corrections(customer: String? = nil, status: CorrectionStatus? = nil) throws -> [Correction] {
        try store.env.read { txn in try corrections(customer: customer, status: status, txn) }
    }

    /// ``corrections(customer:status:)`` inside the read transaction `txn`.
    func corrections(customer: String? = nil, status: CorrectionStatus? = nil, _ txn: borrowing Transaction) throws
        -> [Correction]
    {
        var result: [Correction] = []
        try txn.scan(in: store.corrections) { key, value in
            let tag = try Self.correctionTag(key)
            let correction: Correction?
            if tag == 0 {
                correction = try CorrectionLedger(decoding: value).proposal
            } else {
                correction = try Correction(decoding: value)
            }
            if let c = correction, customer == nil || c.customerID == customer, status == nil || c.status == status {
                result.append(c)
            }
            return true
        }
        return result.sorted { $0.id.utf8Precedes($1.id) }
    }

    /// One correction with its invoice: the document `daybook corrections show ID` prints. A
    /// proposal names the invoice's drift causes as they are now; an issued or rejected one, as
    /// they were when it was acted on.
    ///
    /// - Throws: ``EngineError`` `.notFound` for an id that names no correction.
    public func correctionDocument(_ id: String) throws -> CorrectionDocument {
        let store = self.store
        return try store.env.read { txn in
            let (key, ledger, number) = try findCorrection(id, txn)
            var correction: Correction
            if number <= ledger.acted {
                guard
                    let bytes = try txn.get(
                        CorrectionLedger.documentKey(invoice: key, number: number), in: store.corrections)
                else { throw StoreCorruption("correction \(id) is counted but not stored") }
                correction = try Correction(decoding: bytes)
            } else {
                correction = ledger.proposal!
                correction.causes = try Self.correctionCauses(invoice: key, store, txn)
            }
            guard let snapshot = try txn.get(key, in: store.snapshots).map({ try Snapshot(decoding: $0) }) else {
                throw StoreCorruption("correction \(id) is of an invoice without a snapshot")
            }
            var billed = snapshot.totals
            for n in UInt32(1)..<max(number, 1) {
                guard
                    let bytes = try txn.get(
                        CorrectionLedger.documentKey(invoice: key, number: n), in: store.corrections)
                else {
                    throw StoreCorruption(
                        "correction \(Correction.id(invoice: ledger.invoiceID, number: n)) is missing")
                }
                let earlier = try Correction(decoding: bytes)
                if earlier.status == .issued { billed += earlier.totals }
            }
            let parts = Keys.invoiceParts(key)!
            let contract = plan.contracts[parts.contract]?.contract
            let period =
                contract?.period(containing: parts.start) ?? BillingPeriod(start: parts.start, end: parts.start)
            return CorrectionDocument(
                correction: correction, customerName: plan.catalog.customer(snapshot.customerID)?.name,
                contractID: snapshot.contractID, period: period, currency: plan.catalog.currency,
                currencyDecimals: plan.catalog.currencyDecimals, finalizedAt: snapshot.finalizedAt,
                finalized: snapshot.totals, billedBefore: billed)
        }
    }

    // MARK: Acting

    /// Freezes the proposal `id` as issued (SPEC §4): what was billed for its invoice becomes the
    /// snapshot plus it, and the drift and the next proposal are measured against that. Issuing an
    /// issued correction writes nothing and returns ``CorrectionAction/unchanged(_:)``.
    ///
    /// No surprise amounts: a proposal whose values moved after it was first proposed is issued
    /// only with `asShown` equal to its summed `total_delta`; with `asShown` given, any other
    /// total refuses.
    ///
    /// - Throws: ``EngineError`` `.notFound` (no such correction), `.conflict` (moved, rejected, or
    ///   `asShown` differs; nothing written).
    public func issueCorrection(_ id: String, note: String? = nil, asShown: FixedDecimal? = nil, now: Timestamp)
        throws -> CorrectionAction
    {
        try act(on: id, status: .issued, text: note, asShown: asShown, now: now)
    }

    /// Dismisses the proposal `id`, keeping it with `reason`: its deltas are not proposed again (a
    /// later change proposes only the new part). Rejecting a rejected one writes nothing.
    public func rejectCorrection(_ id: String, reason: String, now: Timestamp) throws -> CorrectionAction {
        try act(on: id, status: .rejected, text: reason, asShown: nil, now: now)
    }

    func act(on id: String, status: CorrectionStatus, text: String?, asShown: FixedDecimal?, now: Timestamp) throws
        -> CorrectionAction
    {
        let store = self.store
        // Refusals and no-ops are decided from a read: they write nothing (no journal entry).
        if let settled = try store.env.read({ txn in try decide(id, status, asShown, txn) }) {
            return settled
        }
        return try transaction(now: now) { txn, ws, state in
            if let settled = try decide(id, status, asShown, txn) {
                return (settled, .correction(id: id, issue: status == .issued, text: text, asShown: asShown))
            }
            let (key, ledger, _) = try findCorrection(id, txn)
            var correction = ledger.proposal!
            correction.status = status
            correction.actedSeq = state.lastSeq
            correction.actedAt = now
            correction.text = text
            correction.causes = try Self.correctionCauses(invoice: key, store, txn)
            try txn.put(
                CorrectionLedger.documentKey(invoice: key, number: correction.number), correction.encoded(),
                in: store.corrections)
            var updated = ledger
            updated.acted = correction.number
            updated.proposal = nil
            if status == .issued {
                updated.issuedCount += 1
                CorrectionLedger.add(correction.lines, into: &updated.issued)
            } else {
                CorrectionLedger.add(correction.lines, into: &updated.rejected)
            }
            try updated.save(invoice: key, store, txn)
            // Drift is measured against billed, which an issue moves; the next proposal starts empty.
            guard let snapshot = try txn.get(key, in: store.snapshots).map({ try Snapshot(decoding: $0) }) else {
                throw StoreCorruption("correction \(id) is of an invoice without a snapshot")
            }
            let live = try txn.get(key, in: store.invoices).map { try InvoiceState(decoding: $0) }
            try ws.updateDrift(key: key, state: live, snapshot: snapshot, ws.drift!, txn)
            return (.done(correction), .correction(id: id, issue: status == .issued, text: text, asShown: asShown))
        }
    }

    /// Nil when the action may proceed on the open proposal; the no-op result when it was
    /// already done; throws when it is refused.
    private func decide(
        _ id: String, _ status: CorrectionStatus, _ asShown: FixedDecimal?, _ txn: borrowing Transaction
    )
        throws -> CorrectionAction?
    {
        let (key, ledger, number) = try findCorrection(id, txn)
        if number <= ledger.acted {
            guard
                let bytes = try txn.get(
                    CorrectionLedger.documentKey(invoice: key, number: number), in: store.corrections)
            else { throw StoreCorruption("correction \(id) is counted but not stored") }
            let done = try Correction(decoding: bytes)
            if done.status == status { return .unchanged(done) }
            throw EngineError(
                code: .conflict,
                message: "correction \(id) was \(done.status.rawValue) at \(done.actedAt!) (seq \(done.actedSeq!)); "
                    + "it cannot be \(status.rawValue) (`daybook corrections show \(id)`)")
        }
        let proposal = ledger.proposal!
        guard status == .issued else { return nil }
        let total = proposal.totals.total
        let decimals = plan.catalog.currencyDecimals
        if let asShown, asShown != total {
            throw EngineError(
                code: .conflict,
                message: "correction \(id) totals \(total.formatted(atLeast: decimals)) now, not "
                    + "\(asShown.formatted(atLeast: decimals)) (its values changed at seq \(proposal.proposedSeq)); "
                    + "nothing issued: look at it again with `daybook corrections show \(id)`")
        }
        if asShown == nil, proposal.proposedSeq != proposal.firstProposedSeq {
            throw EngineError(
                code: .conflict,
                message: "correction \(id) moved after it was first proposed (seq \(proposal.firstProposedSeq), "
                    + "last changed at seq \(proposal.proposedSeq)); nothing issued: check it with "
                    + "`daybook corrections show \(id)`, then pass --as-shown \(total.formatted(atLeast: decimals)) "
                    + "to issue that amount")
        }
        return nil
    }

    /// The invoice key and ledger of correction `id`, and its number; throws `.notFound` unless it
    /// is issued, rejected, or the open proposal.
    private func findCorrection(_ id: String, _ txn: borrowing Transaction) throws
        -> (key: [UInt8], ledger: CorrectionLedger, number: UInt32)
    {
        guard let (invoiceID, number) = Correction.parse(id: id) else {
            throw EngineError(
                code: .notFound,
                message: "no correction \"\(id)\"; ids look like CONTRACT/YYYY-MM-DD/cN (see `daybook corrections`)")
        }
        let key = try invoiceKey(invoiceID, txn)
        guard let ledger = try CorrectionLedger.load(invoice: key, store, txn),
            number <= ledger.acted || (number == ledger.acted + 1 && ledger.proposal != nil)
        else {
            throw EngineError(
                code: .notFound,
                message:
                    "no correction \"\(id)\": \(invoiceID) has no correction c\(number) (see `daybook corrections`)")
        }
        return (key, ledger, number)
    }

    /// The drift causes of a finalized invoice, as a correction names them: its ``CauseSummary``
    /// and the earlier invoices its open drift records name.
    static func correctionCauses(invoice key: [UInt8], _ store: Store, _ txn: borrowing Transaction) throws
        -> CorrectionCauses
    {
        let summary = try CauseSummary.load(invoice: key, store, txn)
        var causes = CorrectionCauses()
        causes.lateEventCount = summary.lateEventCount
        causes.lateTransactionIDs = summary.firstLateTransactionIDs
        causes.catalogVersions = summary.catalogVersions
        try txn.scan(in: store.drift, prefix: Keys.distinctPrefix(invoice: key)) { _, value in
            for via in try DriftRecord(decoding: value).viaInvoices where !causes.viaInvoices.contains(via) {
                causes.viaInvoices.append(via)
            }
            return true
        }
        causes.viaInvoices.sort { $0.utf8Precedes($1) }
        return causes
    }

    /// 0 for a ledger key, 1 for a correction's: the byte after the invoice key.
    static func correctionTag(_ key: [UInt8]) throws(StoreCorruption) -> UInt8 {
        guard key.count >= 4 else { throw StoreCorruption("corrections key of \(key.count) bytes") }
        let n = 4 + Int([UInt8].readBigEndianUInt32(key, at: 0)) + 4
        guard key.count == n + 1 || key.count == n + 5, key[n] == (key.count == n + 1 ? 0 : 1) else {
            throw StoreCorruption("corrections key of \(key.count) bytes does not name a ledger or a correction")
        }
        return key[n]
    }
}

extension Engine {
    /// `replay --verify`: every finalized invoice's stored proposal must be what the rebuilt
    /// invoice (`stxn` of `scratch`), its snapshot and its issued and rejected corrections give.
    func proposalMismatches(
        _ plan: PricingPlan, _ txn: borrowing Transaction, _ scratch: Store, _ stxn: borrowing Transaction
    ) throws -> [Mismatch] {
        var mismatches: [Mismatch] = []
        try txn.scan(in: store.snapshots) { key, value in
            let snapshot = try Snapshot(decoding: value)
            let ledger = try CorrectionLedger.load(invoice: key, store, txn)
            let rebuilt = try stxn.get(key, in: scratch.invoices).map { try InvoiceState(decoding: $0) }
            let ids = WorkingSet.lineItemIDs(snapshot: snapshot, state: rebuilt, ledger: ledger)
            let lines = WorkingSet.proposedLines(snapshot: snapshot, state: rebuilt, ledger: ledger, ids: ids)
            let kind = WorkingSet.proposedKind(lines, threshold: plan.catalog.correctionThreshold)
            let stored = ledger?.proposal
            if stored?.kind != kind || (kind != nil && stored?.lines != lines) {
                let want = kind.map { "a \($0.rawValue) of \(lines.count) lines" } ?? "no proposal"
                let have = stored.map { "\($0.id), a \($0.kind.rawValue) of \($0.lines.count) lines" } ?? "none"
                mismatches.append(
                    Mismatch(
                        invoiceID: snapshot.invoiceID,
                        detail: "proposed correction: rebuilt gives \(want), stored \(have)"))
            }
            return true
        }
        return mismatches
    }
}

extension WorkingSet {
    /// After a catalog version changed `correction_threshold`: brings the proposals of the finalized
    /// invoices with open drift or corrections up to date, except those of `rebuilt` contracts
    /// (their invoices are compared when the transaction flushes).
    func refreshProposals(skipping rebuilt: Set<String>, _ context: DriftContext, _ txn: borrowing Transaction) throws {
        var keys: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        try txn.scan(in: store.drift) { key, _ in
            let invoice = Array(key[try Keys.lengthPrefixed(key, in: "drift key")])
            if seen.insert(invoice).inserted { keys.append(invoice) }
            return true
        }
        try txn.scan(in: store.corrections) { key, _ in
            if try Engine.correctionTag(key) == 0, seen.insert(Array(key.dropLast())).inserted {
                keys.append(Array(key.dropLast()))
            }
            return true
        }
        for key in keys {
            guard let parts = Keys.invoiceParts(key), !rebuilt.contains(parts.contract),
                let snapshot = try txn.get(key, in: store.snapshots).map({ try Snapshot(decoding: $0) })
            else { continue }
            let live = try txn.get(key, in: store.invoices).map { try InvoiceState(decoding: $0) }
            let ledger = try CorrectionLedger.load(invoice: key, store, txn)
            try updateProposal(key: key, state: live, snapshot: snapshot, ledger: ledger, context, txn)
        }
    }
}

extension Engine {
    /// The columns of SPEC §4 "Corrections", those of `corrections.csv`.
    public static let correctionColumns = [
        "correction_id", "invoice_id", "customer_id", "kind", "status", "line_item_id", "quantity_delta",
        "subtotal_delta", "credits_delta", "commits_delta", "total_delta", "proposed_seq", "issued_at",
    ]

    /// One row per correction × line item, by (correction_id, line_item_id) in UTF-8 byte order:
    /// what `daybook corrections`, `corrections.csv`, the warehouse table and `/v1/corrections`
    /// show. Quantities in canonical form, amounts with exactly `currency_decimals` digits;
    /// `issued_at` is empty unless the correction was issued.
    public func correctionsTable(_ corrections: [Correction]) -> Table {
        let d = plan.currencyDecimals
        var table = Table(columns: Self.correctionColumns)
        for c in corrections.sorted(by: { $0.id.utf8Precedes($1.id) }) {
            for line in c.lines {
                let t = line.delta
                table.rows.append([
                    c.id, c.invoiceID, c.customerID, c.kind.rawValue, c.status.rawValue, line.lineItemID,
                    t.quantity.canonical, t.subtotal.formatted(atLeast: d), t.credits.formatted(atLeast: d),
                    t.commits.formatted(atLeast: d), t.total.formatted(atLeast: d), "\(c.proposedSeq)",
                    c.status == .issued ? "\(c.actedAt!)" : "",
                ])
            }
        }
        return table
    }
}
