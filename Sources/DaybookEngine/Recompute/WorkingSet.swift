import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// One invoice loaded into a write transaction, with the dirt that still has to be recomputed.
final class InvoiceEntry {
    let key: [UInt8]
    var state: InvoiceState
    /// The stored state before this transaction (nil for an invoice created in it).
    let original: InvoiceState?
    /// Line item id → (first dirty day index, last day index whose contribution changed).
    var dirty: [String: (from: Int, last: Int)] = [:]
    /// Finalized by this write: its `invoices` rows change status.
    var finalizedNow = false
    private var snapshotLoaded = false
    private var cachedSnapshot: Snapshot?

    /// The invoice's finalization snapshot, if it is finalized (read once per transaction). Its
    /// amounts are not checked against the current currency decimals: a snapshot keeps those of
    /// the catalog version it was taken under.
    func snapshot(_ store: Store, _ txn: borrowing Transaction) throws -> Snapshot? {
        if !snapshotLoaded {
            cachedSnapshot = try txn.get(key, in: store.snapshots).map { try Snapshot(decoding: $0) }
            snapshotLoaded = true
        }
        return cachedSnapshot
    }

    func didFinalize(_ snapshot: Snapshot) {
        cachedSnapshot = snapshot
        snapshotLoaded = true
    }

    init(key: [UInt8], state: InvoiceState, original: InvoiceState?) {
        self.key = key
        self.state = state
        self.original = original
    }
}

/// The invoices touched by one write transaction. Events are applied to per-day contributions
/// as they arrive; ``settle(_:)`` then recomputes only the dirty line-item days (with early
/// cutoff) and sweeps the balance draw-down forward from the first changed day until the
/// balances agree with what was stored; ``flush(_:seq:)`` writes back what changed.
///
/// Nothing here reads other events: sums and counts move by the event's value, `max` keeps the
/// daily maximum, `unique_count` keeps each value's first day in the `distinct` database.
final class WorkingSet {
    let store: Store
    var plan: PricingPlan
    private(set) var entries: [[UInt8]: InvoiceEntry] = [:]
    /// Contract id → (first day, last day) that the draw-down must revisit.
    private var sweeps: [String: (from: Day, through: Day)] = [:]
    var counters = RecomputeCounters()
    /// The journal position of the write this working set belongs to (0 for read overlays).
    var position: UInt64 = 0
    /// In a catalog change: the plan before it, and the invoices it dropped to rebuild (by key),
    /// which the rebuilt ones are compared with so that rows whose values did not change keep
    /// their stamps.
    var previousPlan: PricingPlan?
    var carryOver: [[UInt8]: InvoiceState] = [:]
    /// Set for transactions that change the live breakdown for real (ingest, finalize, catalog):
    /// drift of finalized invoices is then kept up to date at ``flush(_:seq:)``.
    var drift: DriftContext?
    /// Events of this transaction billed to finalized invoices (invoice key → (seq, transaction id)).
    private var lateEvents: [[UInt8]: [(UInt64, String)]] = [:]
    /// The invoice the previous event went to (events arrive in runs of one customer).
    private var lastApplied: (contract: ContractPlan, entry: InvoiceEntry)?

    /// A read transaction's in-memory overlay: invoices are loaded and computed, never written
    /// (no `open_invoices` entries, no `distinct` values, no flush).
    let overlay: Bool

    init(store: Store, plan: PricingPlan, overlay: Bool = false) {
        self.store = store
        self.plan = plan
        self.overlay = overlay
    }

    // MARK: Loading and materializing invoices

    /// The invoice of `contract` starting at `start`, loaded or nil if not materialized.
    func invoice(contract: ContractPlan, start: Day, _ txn: borrowing Transaction) throws -> InvoiceEntry? {
        let key = Keys.invoice(contract: contract.contract.id, start: start)
        if let e = entries[key] { return e }
        guard let bytes = try txn.get(key, in: store.invoices) else { return nil }
        let state = try InvoiceState(decoding: bytes)
        try contract.checkStored(state, key: key, decimals: plan.currencyDecimals)
        let entry = InvoiceEntry(key: key, state: state, original: state)
        entries[key] = entry
        return entry
    }

    /// Creates every missing invoice of the contract whose period begins on or before `day`.
    func materialize(_ contract: ContractPlan, through day: Day, _ txn: borrowing Transaction) throws {
        for period in contract.contract.periods(beginningOnOrBefore: day) {
            if try invoice(contract: contract, start: period.start, txn) != nil { continue }
            let key = Keys.invoice(contract: contract.contract.id, start: period.start)
            let amounts = contract.balances.map(\.amount)
            let state = InvoiceState(
                contractID: contract.contract.id, period: period,
                lineItems: contract.initialLineItems(days: period.dayCount),
                closing: Array(repeating: amounts, count: period.dayCount), lastChangedSeq: 0)
            entries[key] = InvoiceEntry(key: key, state: state, original: nil)
            if !overlay, try !txn.contains(key, in: store.snapshots) {
                try txn.put(Keys.openInvoice(end: period.end, invoice: key), [], in: store.openInvoices)
            }
            markSweep(contract.contract.id, from: period.start, through: period.end.adding(days: -1))
        }
    }

    private func markSweep(_ contract: String, from: Day, through: Day) {
        if let s = sweeps[contract] {
            sweeps[contract] = (min(s.from, from), max(s.through, through))
        } else {
            sweeps[contract] = (from, through)
        }
    }

    // MARK: Applying one event

    /// Applies a logged event's metric outcomes to its contract's invoice.
    ///
    /// - Parameter outcomes: the event evaluated against `plan.metricsByEventType[event.eventType]`.
    /// - Returns: false when no contract covers the event (unbilled).
    /// - Parameter seq: the event's log sequence when it is new (an event billed to a finalized
    ///   invoice is then recorded as a late event, a cause of its drift); nil when rebuilding.
    @discardableResult
    func apply(_ event: UsageEvent, seq: UInt64? = nil, outcomes: [MetricOutcome], _ txn: borrowing Transaction) throws
        -> Bool
    {
        let day = event.day
        let contract: ContractPlan
        let entry: InvoiceEntry
        if let last = lastApplied, last.contract.contract.customerID == event.customerID,
            last.entry.state.period.contains(day)
        {
            // Consecutive events of one customer and period: no contract search, key or lookup.
            // (A customer's contracts do not overlap, so the period's contract is the event's.)
            (contract, entry) = last
        } else {
            guard let found = plan.contract(customer: event.customerID, day: day) else { return false }
            contract = found
            entry = try invoice(of: found, on: day, txn)
            lastApplied = (found, entry)
        }
        guard let rates = contract.usageByEventType[event.eventType] else { return true }
        if let seq { try noteLateEvent(entry, seq: seq, transactionID: event.transactionID, txn) }
        for rate in rates {
            guard case .contributes(let contribution, let group) = outcomes[rate.metricIndex] else { continue }
            try add(
                contribution, product: rate.product.id, group: group, aggregation: rate.metric.aggregation,
                day: day, to: entry, txn)
        }
        return true
    }

    /// The invoice of `contract` whose period contains `day`, materialized (with the periods
    /// before it) when it is not yet.
    func invoice(of contract: ContractPlan, on day: Day, _ txn: borrowing Transaction) throws -> InvoiceEntry {
        let period = contract.contract.period(containing: day)!
        if let entry = try invoice(contract: contract, start: period.start, txn) { return entry }
        try materialize(contract, through: period.start, txn)
        return try invoice(contract: contract, start: period.start, txn)!
    }

    /// Records a new event billed to `entry` as a late event when the invoice is finalized (a
    /// cause of its drift; only in transactions that keep drift).
    func noteLateEvent(
        _ entry: InvoiceEntry, seq: UInt64, transactionID: @autoclosure () -> String, _ txn: borrowing Transaction
    ) throws {
        if drift != nil, try entry.snapshot(store, txn) != nil {
            lateEvents[entry.key, default: []].append((seq, transactionID()))
        }
    }

    /// Adds one contribution (or the aggregate of a batch's contributions to the cell: a sum, a
    /// count as `.value(n)`, a maximum) to a line item's day, and marks what must be recomputed.
    func add(
        _ contribution: MetricContribution, product: String, group: String, aggregation: Aggregation,
        day: Day, to entry: InvoiceEntry, _ txn: borrowing Transaction
    ) throws {
        let lineItemID = group.isEmpty ? product : product + group
        let k = Int(day.number - entry.state.period.start.number)
        let index =
            entry.state.index(ofLineItem: lineItemID)
            ?? entry.state.insert(
                LineItemState(id: lineItemID, productID: product, group: group, days: entry.state.dayCount))
        var last = k
        switch contribution {
        case .one:
            entry.state.lineItems[index].daily[k] = entry.state.lineItems[index].daily[k] + FixedDecimal(1)
        case .value(let v):
            if aggregation == .max {
                guard v > entry.state.lineItems[index].daily[k] else { return }
                entry.state.lineItems[index].daily[k] = v
            } else {
                entry.state.lineItems[index].daily[k] = entry.state.lineItems[index].daily[k] + v
            }
        case .distinct(let value):
            let distinct = DistinctValue(store, invoice: entry.key, lineItem: lineItemID, value: value)
            let one = FixedDecimal(1)
            let (stored, slot) = try distinct.lookup(txn)
            if let first = stored {
                guard first < entry.state.dayCount else {
                    throw StoreCorruption(
                        "distinct value of \(lineItemID) in invoice of \(entry.state.contractID) names day index \(first) of \(entry.state.dayCount)"
                    )
                }
                guard k < first else { return }
                entry.state.lineItems[index].daily[first] = entry.state.lineItems[index].daily[first] - one
                last = first
            }
            try distinct.save(firstDay: k, at: slot, txn)
            entry.state.lineItems[index].daily[k] = entry.state.lineItems[index].daily[k] + one
        }
        markDirty(entry, lineItemID, k, last)
    }

    private func markDirty(_ entry: InvoiceEntry, _ lineItem: String, _ from: Int, _ last: Int) {
        if let d = entry.dirty[lineItem] {
            entry.dirty[lineItem] = (min(d.from, from), max(d.last, last))
        } else {
            entry.dirty[lineItem] = (from, last)
        }
    }

    // MARK: Recompute

    /// Recomputes dirty line-item days, then sweeps the draw-down of affected contracts.
    func settle(_ txn: borrowing Transaction) throws {
        for entry in entries.values where !entry.dirty.isEmpty {
            guard let contract = plan.contracts[entry.state.contractID] else { continue }
            let start = entry.state.period.start
            for (id, range) in entry.dirty {
                guard let i = entry.state.index(ofLineItem: id),
                    let rate = contract.usage[entry.state.lineItems[i].productID]
                else { continue }
                if let changed = recompute(
                    &entry.state.lineItems[i], from: range.from, lastTouched: range.last,
                    rate: rate, decimals: contract.decimals)
                {
                    // A changed A(k) changes the subtotals of days k and k+1.
                    let through = min(changed.last + 1, entry.state.dayCount - 1)
                    markSweep(
                        contract.contract.id, from: start.adding(days: changed.first),
                        through: start.adding(days: through))
                }
            }
            entry.dirty.removeAll()
        }
        for (contractID, range) in sweeps.sorted(by: { $0.key.utf8Precedes($1.key) }) {
            guard let contract = plan.contracts[contractID] else { continue }
            try sweep(contract, from: range.from, through: range.through, txn)
        }
        sweeps.removeAll()
    }

    /// Recomputes `Q` and `A` of one line item from day index `from`. Stops early once past the
    /// last touched day and `Q` equals its stored value (every later day is then unchanged).
    /// Returns the first and last day index whose cumulative amount changed.
    private func recompute(
        _ item: inout LineItemState, from: Int, lastTouched: Int, rate: ContractPlan.UsageRate,
        decimals: Int
    ) -> (first: Int, last: Int)? {
        let result = CumulativeRecompute.run(
            daily: item.daily, cumQuantity: &item.cumQuantity, cumAmount: &item.cumAmount, from: from,
            lastTouched: lastTouched, isMax: rate.metric.aggregation == .max, price: rate.price, decimals: decimals)
        counters.lineItemDaysEvaluated += UInt64(result.daysEvaluated)
        return result.changedAmounts.map { ($0.lowerBound, $0.upperBound) }
    }

    /// Re-runs the day-by-day draw-down from `from`, across periods, until past `through` the
    /// opening balances equal what was stored (early cutoff), or the materialized days end.
    private func sweep(_ contract: ContractPlan, from: Day, through: Day, _ txn: borrowing Transaction) throws {
        var sweeper = DrawDownSweep(
            balances: contract.balances, from: from, through: through, opening: try opening(contract, on: from, txn))
        var entry: InvoiceEntry?
        while !sweeper.isConverged, let period = contract.contract.period(containing: sweeper.day) {
            if entry?.state.period != period {
                guard let next = try invoice(contract: contract, start: period.start, txn) else { break }
                entry = next
            }
            guard let e = entry else { break }
            let k = Int(sweeper.day.number - period.start.number)
            let step = sweeper.step(
                charges: e.state.lineItems.map { (product: $0.productID, subtotal: $0.subtotal(k)) },
                storedClosing: e.state.closing[k])
            for i in step.applied.indices {
                e.state.lineItems[i].credits[k] = step.applied[i].credits
                e.state.lineItems[i].commits[k] = step.applied[i].commits
            }
            e.state.closing[k] = step.closing
        }
        counters.drawDownDaysEvaluated += UInt64(sweeper.daysEvaluated)
    }

    /// Remaining balances at the start of `day`: the stored closing of the day before, or the
    /// full amounts on the contract's first day.
    private func opening(_ contract: ContractPlan, on day: Day, _ txn: borrowing Transaction) throws -> [FixedDecimal] {
        let before = day.adding(days: -1)
        guard day > contract.contract.starts, let period = contract.contract.period(containing: before),
            let e = try invoice(contract: contract, start: period.start, txn)
        else { return DrawDownSweep.startingAmounts(contract.balances) }
        return e.state.closing[Int(before.number - period.start.number)]
    }

    // MARK: Writing back

    /// Settles, counts changed rows, and writes back every invoice that changed.
    func flush(_ txn: borrowing Transaction, seq: UInt64) throws {
        precondition(!overlay, "a read overlay is never written")
        try settle(txn)
        // One `causes` record per invoice and transaction, keyed by its last seq (the full list, read
        // only by `discrepancies --invoice ID --causes`), and the invoice's summary (count, first
        // 100, what reports read), before drift is compared below (a resolution keeps the summary).
        for (key, events) in lateEvents {
            var w = ByteWriter(capacity: events.count * 24)
            w.uvarint(events.count)
            for (seq, tid) in events {
                w.uvarint(seq)
                w.string(tid)
            }
            try txn.put(Keys.lateEvent(invoice: key, seq: events.last!.0), w.bytes, in: store.causes)
            var summary = try CauseSummary.load(invoice: key, store, txn)
            summary.addLateEvents(events)
            try summary.save(invoice: key, store, txn)
        }
        lateEvents.removeAll()
        for entry in entries.values {
            let (before, after) = stampRows(entry)
            if let original = entry.original, original == entry.state { continue }
            try reindexChanged(entry.key, before: before, after: after, txn)
            counters.lineItemDaysChanged += changedRows(entry)
            entry.state.lastChangedSeq = seq
            try txn.put(entry.key, entry.state.encoded(), in: store.invoices)
            if let drift, let snapshot = try entry.snapshot(store, txn) {
                if let version = drift.catalogVersion, entry.original == nil {
                    try recordCatalogCause(invoice: entry.key, version: version, txn)
                }
                try updateDrift(key: entry.key, state: entry.state, snapshot: snapshot, drift, txn)
            }
        }
        // Later transactions load fresh copies.
        entries.removeAll()
        lastApplied = nil
    }

    /// Rows of `entry` whose visible values differ from the stored ones (an absent row is zeros).
    private func changedRows(_ entry: InvoiceEntry) -> UInt64 {
        var n: UInt64 = 0
        for item in entry.state.lineItems {
            let before =
                entry.original.flatMap { o in o.index(ofLineItem: item.id).map { o.lineItems[$0] } }
                ?? LineItemState(id: item.id, productID: item.productID, group: item.group, days: item.daily.count)
            for k in item.daily.indices where !item.sameRow(k, as: before) { n += 1 }
        }
        return n
    }
}
