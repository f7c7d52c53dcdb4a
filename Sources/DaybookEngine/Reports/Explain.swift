import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// Everything behind one row of an invoice breakdown (SPEC §6 `daybook explain`): the events of
/// the row's customer and day that feed its line item, and the arithmetic from them to the row's
/// quantity, subtotal, credits, commits and total, checked against the stored row.
///
/// The day's contribution `c(d)` is recomputed from the day's events; `Q(d−1)` (and so `A(d−1)`)
/// is the stored cumulative of the day before (the events of earlier days are not read), and for
/// `unique_count` whether a value was seen before comes from the stored first day of each value.
/// The draw-down of the day is recomputed from the stored opening balances and the day's
/// subtotals of the other line items. Any value that does not come out as stored is listed in
/// ``mismatches`` (never silently replaced by the stored one).
public struct Explanation: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable { case draft, finalized }

    /// Where the line item's quantity comes from.
    public enum Basis: Sendable, Hashable {
        /// A usage product metered by a metric.
        case usage(metric: String, aggregation: Aggregation, property: String?)
        /// A fixed product: quantity 1 and the fee on the period's first day, nothing after.
        case fixed(fee: FixedDecimal)
    }

    /// One event of the row's customer and day that the line item's metric counts.
    public struct Event: Sendable, Hashable {
        /// What the event did to the day's contribution `c(d)`.
        public enum Effect: Sendable, Hashable {
            /// `count`: +1.
            case counted
            /// `sum`: + the value.
            case added(FixedDecimal)
            /// `max`: the day's maximum (the first event, in log order, with that value).
            case dayMaximum(FixedDecimal)
            /// `max`: not above the day's maximum; adds nothing.
            case belowDayMaximum(FixedDecimal)
            /// `unique_count`: the value's first appearance in the period: +1.
            case firstSeen(String)
            /// `unique_count`: the value came earlier the same day: adds nothing.
            case repeatedToday(String)
            /// `unique_count`: the value was first seen on an earlier day of the period: adds nothing.
            case seenBefore(String, firstDay: Day)
        }
        public var seq: UInt64
        public var transactionID: String
        public var timestamp: Timestamp
        public var ingestTime: Timestamp
        /// Ingested after the invoice was finalized (its seq is past the snapshot's).
        public var late: Bool
        public var effect: Effect
    }

    /// One balance that could cover the row (active on the day, applying to the product), in draw order.
    public struct BalanceDraw: Sendable, Hashable {
        public var balanceID: String
        public var kind: Balance.Kind
        public var priority: Int
        public var ends: Day
        /// Remaining at the start of the day (the stored closing of the day before).
        public var opening: FixedDecimal
        /// Remaining when this line item's turn came (after the line items before it in byte order).
        public var beforeLineItem: FixedDecimal
        /// What this line item took from it.
        public var drawn: FixedDecimal
        /// Remaining after this line item.
        public var afterLineItem: FixedDecimal
        /// Remaining after the day (every line item of the day).
        public var closing: FixedDecimal
    }

    /// The values of one row: recomputed (``computed``) or as stored (``stored``).
    public struct Row: Sendable, Hashable {
        /// `c(d)`: the day's own contribution (sum, count, daily maximum, values first seen).
        public var contribution = FixedDecimal.zero
        /// `Q(d−1)` (0 on the period's first day).
        public var previousCumulative = FixedDecimal.zero
        /// `Q(d)`.
        public var cumulative = FixedDecimal.zero
        /// `A(d−1)` (0 on the period's first day).
        public var previousAmount = FixedDecimal.zero
        /// `A(d)`.
        public var amount = FixedDecimal.zero
        public var credits = FixedDecimal.zero
        public var commits = FixedDecimal.zero

        /// The row's quantity `Q(d) − Q(d−1)`.
        public var quantity: FixedDecimal { cumulative - previousCumulative }
        /// The row's subtotal `A(d) − A(d−1)`.
        public var subtotal: FixedDecimal { amount - previousAmount }
        public var total: FixedDecimal { subtotal - credits - commits }
    }

    /// A value the events and arithmetic give differently from the stored row.
    public struct Mismatch: Sendable, Hashable {
        /// What differs: `c(d)`, `Q(d)`, `A(d−1)`, `A(d)`, `credits_applied`, `commits_applied`,
        /// `closing of BALANCE`, `first day of VALUE`.
        public var what: String
        public var computed: String
        public var stored: String

        public init(what: String, computed: String, stored: String) {
            self.what = what
            self.computed = computed
            self.stored = stored
        }
    }

    /// The finalization snapshot of the invoice and what happened to it since.
    public struct Finalization: Sendable, Hashable {
        public var finalizedAt: Timestamp
        /// The log position the snapshot reflects.
        public var seq: UInt64
        /// The snapshot's period values of the line item (zeros when it had none).
        public var snapshot: Totals
        /// The live period values of the line item.
        public var current: Totals
        /// Late events of the whole invoice (accepted after finalization, billed to it).
        public var lateEventCount: UInt64
    }

    public var invoiceID: String
    public var customerID: String
    public var contractID: String
    public var period: BillingPeriod
    public var lineItemID: String
    public var productID: String
    public var productName: String
    /// The `{prop=value,…}` part of the line-item id ("" when ungrouped).
    public var group: String
    public var day: Day
    public var status: Status
    public var currency: String
    public var currencyDecimals: Int
    public var basis: Basis
    /// Entries of the customer's day in the `by_day` index: the events read (of every type).
    public var indexEntriesRead: Int
    /// The events behind the row, in log order.
    public var events: [Event]
    /// `P(Q(d−1))` tier by tier and `A(d−1)`.
    public var previousPrice: PriceSplit
    /// `P(Q(d))` tier by tier and `A(d)`.
    public var price: PriceSplit
    /// The row's `unit_price` as the breakdown shows it.
    public var unitPrice: FixedDecimal
    public var balances: [BalanceDraw]
    public var computed: Row
    public var stored: Row
    public var mismatches: [Mismatch]
    public var finalization: Finalization?

    /// The index of the day in the period (0 for its first day).
    public var dayIndex: Int { period.start.distance(to: day) }
    /// The late events among ``events``.
    public var lateEvents: [Event] { events.filter(\.late) }
}

extension Engine {
    /// Explains one row of an invoice's breakdown (SPEC §6), in one read transaction over the live
    /// state (as `breakdown` sees it). Reads the `by_day` index entries of the invoice's customer
    /// and `day` and their log entries, nothing else of the log.
    ///
    /// - Throws: ``EngineError`` `.notFound` for an unknown invoice, a line item the invoice does
    ///   not have (the message lists those it has) or a day outside its period (the message says
    ///   the period).
    public func explain(invoiceID: String, lineItemID: String, day: Day) throws -> Explanation {
        let (contractID, start) = try Self.invoiceParts(invoiceID)
        let key = Keys.invoice(contract: contractID, start: start)
        // Through the period's start: the invoice and every earlier one are in the view, which is
        // all that the day's draw-down depends on.
        return try withLiveView(through: start) { txn, view in
            guard let contract = view.plan.contracts[contractID] else {
                let ids = view.plan.contracts.keys.sorted { $0.utf8Precedes($1) }
                throw EngineError(
                    code: .notFound,
                    message:
                        "no invoice \"\(invoiceID)\": no contract \"\(contractID)\" in the catalog in force (contracts: \(ids.prefix(50).joined(separator: ", "))\(ids.count > 50 ? ", …" : ""); see `daybook invoices`)"
                )
            }
            guard let state = try view.invoice(key, contract: contract, txn) else {
                let c = contract.contract
                let hint =
                    c.period(containing: start).map { "the invoice of \(start) is \(c.invoiceID($0))" }
                    ?? "contract \(c.id) runs from \(c.starts) \(c.ends.map { "to \($0.adding(days: -1))" } ?? "on")"
                throw EngineError(
                    code: .notFound, message: "no invoice \"\(invoiceID)\": \(hint) (see `daybook invoices`)")
            }
            guard state.period.contains(day) else {
                throw EngineError(
                    code: .notFound,
                    message:
                        "\(day) is not a day of invoice \(invoiceID): its period is \(state.period.start) to \(state.period.end.adding(days: -1)) (\(state.dayCount) days)"
                )
            }
            guard let index = state.index(ofLineItem: lineItemID) else {
                let ids = state.lineItems.map(\.id)
                let shown = ids.prefix(50).joined(separator: ", ")
                let more = ids.count > 50 ? ", and \(ids.count - 50) more" : ""
                throw EngineError(
                    code: .notFound,
                    message: ids.isEmpty
                        ? "invoice \(invoiceID) has no line items"
                        : "invoice \(invoiceID) has no line item \"\(lineItemID)\"; its line items: \(shown)\(more)")
            }
            let snapshot = try txn.get(key, in: store.snapshots).map { try Snapshot(decoding: $0) }
            var builder = ExplanationBuilder(
                store: store, view: view, contract: contract, invoiceKey: key, state: state, index: index,
                day: day, snapshot: snapshot)
            return try builder.build(invoiceID: invoiceID, txn)
        }
    }
}

/// The work of ``Engine/explain(invoiceID:lineItemID:day:)`` inside its read transaction.
private struct ExplanationBuilder {
    let store: Store
    let view: LiveView
    let contract: ContractPlan
    let invoiceKey: [UInt8]
    let state: InvoiceState
    let index: Int
    let day: Day
    let snapshot: Snapshot?
    var mismatches: [Explanation.Mismatch] = []

    init(
        store: Store, view: LiveView, contract: ContractPlan, invoiceKey: [UInt8], state: InvoiceState, index: Int,
        day: Day, snapshot: Snapshot?
    ) {
        self.store = store
        self.view = view
        self.contract = contract
        self.invoiceKey = invoiceKey
        self.state = state
        self.index = index
        self.day = day
        self.snapshot = snapshot
    }

    var item: LineItemState { state.lineItems[index] }
    var k: Int { state.period.start.distance(to: day) }
    var decimals: Int { view.plan.currencyDecimals }

    mutating func build(invoiceID: String, _ txn: borrowing Transaction) throws -> Explanation {
        let item = self.item, k = self.k, decimals = self.decimals
        var stored = Explanation.Row()
        stored.contribution = item.daily[k]
        stored.cumulative = item.cumQuantity[k]
        stored.previousCumulative = k > 0 ? item.cumQuantity[k - 1] : .zero
        stored.amount = item.cumAmount[k]
        stored.previousAmount = k > 0 ? item.cumAmount[k - 1] : .zero
        stored.credits = item.credits[k]
        stored.commits = item.commits[k]

        let price: Price
        let basis: Explanation.Basis
        var events: [Explanation.Event] = []
        var entriesRead = 0
        var computed = Explanation.Row()
        // Q(d−1) is the stored one: the events of earlier days are not read.
        computed.previousCumulative = stored.previousCumulative
        if let fixed = contract.fixed[item.productID] {
            price = .flat(fixed.fee)
            basis = .fixed(fee: fixed.fee)
            computed.contribution = k == 0 ? FixedDecimal(1) : .zero
            computed.cumulative = computed.previousCumulative + computed.contribution
        } else if let rate = contract.usage[item.productID] {
            price = rate.price
            basis = .usage(metric: rate.metric.id, aggregation: rate.metric.aggregation, property: rate.metric.property)
            (events, entriesRead, computed.contribution) = try dayEvents(rate.metric, txn)
            computed.cumulative =
                rate.metric.aggregation == .max
                ? max(computed.previousCumulative, computed.contribution)
                : computed.previousCumulative + computed.contribution
        } else {
            throw EngineError(
                code: .notFound,
                message:
                    "line item \(item.id) of \(invoiceID) has no price: product \(item.productID) is not on rate card \(contract.contract.rateCard)"
            )
        }
        let previousPrice = price.split(for: computed.previousCumulative, decimals: decimals)
        let currentPrice = price.split(for: computed.cumulative, decimals: decimals)
        // Before the period A is 0 (the first day's subtotal is all of A(d)).
        computed.previousAmount = k > 0 ? previousPrice.amount : .zero
        computed.amount = currentPrice.amount

        let balances = try drawDown(subtotal: computed.subtotal, into: &computed, txn)

        check("c(d)", computed.contribution, stored.contribution, money: false)
        check("Q(d)", computed.cumulative, stored.cumulative, money: false)
        check("A(d−1)", computed.previousAmount, stored.previousAmount, money: true)
        check("A(d)", computed.amount, stored.amount, money: true)
        check("credits_applied", computed.credits, stored.credits, money: true)
        check("commits_applied", computed.commits, stored.commits, money: true)

        let c = contract.contract
        var finalization: Explanation.Finalization?
        if let snapshot {
            let summary = try CauseSummary.load(invoice: invoiceKey, store, txn)
            finalization = Explanation.Finalization(
                finalizedAt: snapshot.finalizedAt, seq: snapshot.seq, snapshot: snapshot.totals(of: item.id),
                current: item.periodTotals, lateEventCount: summary.lateEventCount)
        }
        let unitPrice = contract.fixed[item.productID]?.fee ?? price.unitPrice(at: computed.cumulative)
        return Explanation(
            invoiceID: invoiceID, customerID: c.customerID, contractID: c.id, period: state.period,
            lineItemID: item.id, productID: item.productID,
            productName: view.plan.catalog.products[item.productID]?.name ?? item.productID, group: item.group,
            day: day, status: snapshot == nil ? .draft : .finalized, currency: view.plan.catalog.currency,
            currencyDecimals: decimals, basis: basis, indexEntriesRead: entriesRead, events: events,
            previousPrice: previousPrice, price: currentPrice, unitPrice: unitPrice, balances: balances,
            computed: computed, stored: stored, mismatches: mismatches, finalization: finalization)
    }

    private mutating func check(_ what: String, _ computed: FixedDecimal, _ stored: FixedDecimal, money: Bool) {
        guard computed != stored else { return }
        let decimals = self.decimals
        func text(_ v: FixedDecimal) -> String { money ? v.formatted(atLeast: decimals) : v.canonical }
        mismatches.append(Explanation.Mismatch(what: what, computed: text(computed), stored: text(stored)))
    }

    /// The events of the customer's day that the metric counts under this line item, in log
    /// order, with what each did; the number of index entries read; and `c(d)` from them.
    private mutating func dayEvents(_ metric: Metric, _ txn: borrowing Transaction) throws -> (
        [Explanation.Event], Int, FixedDecimal
    ) {
        let customer = contract.contract.customerID
        let prefix = Keys.customerDayPrefix(customer, day: day)
        var seqs: [UInt64] = []
        try txn.scan(in: store.byDay, prefix: prefix) { key, value in
            seqs += try Keys.daySeqs(key: key, prefixCount: prefix.count, value: value)
            return true
        }
        var entries: [LoggedEvent] = []
        entries.reserveCapacity(seqs.count)
        for seq in seqs {
            guard let bytes = try txn.get(Keys.seq(seq), in: store.log) else {
                throw StoreCorruption("by_day index of \(customer) on \(day) names missing log entry \(seq)")
            }
            entries.append(try LoggedEvent(seq: seq, decoding: bytes))
        }
        // Parsing and evaluating the day's events is pure: on every core (a busy day has 10,000s).
        let (day, group) = (self.day, item.group)
        let lateAfter = snapshot?.seq ?? UInt64.max
        let evaluated = parallelMap(entries) {
            logged -> Result<(Explanation.Event, MetricContribution)?, StoreCorruption> in
            let event: UsageEvent
            do throws(StoreCorruption) { event = try logged.event() } catch { return .failure(error) }
            guard event.customerID == customer, event.day == day else {
                return .failure(
                    StoreCorruption(
                        "by_day index of \(customer) on \(day) names log entry \(logged.seq), of \(event.customerID) on \(event.day)"
                    ))
            }
            guard event.eventType == metric.eventType,
                case .contributes(let contribution, let g) = metric.evaluate(event), g == group
            else { return .success(nil) }
            // The effect is set below, once the day's events are all known (max, repeats).
            let row = Explanation.Event(
                seq: logged.seq, transactionID: event.transactionID, timestamp: event.timestamp,
                ingestTime: logged.ingestTime, late: logged.seq > lateAfter, effect: .counted)
            return .success((row, contribution))
        }
        let matched = try evaluated.compactMap { try $0.get() }
        func event(_ row: Explanation.Event, _ effect: Explanation.Event.Effect) -> Explanation.Event {
            var row = row
            row.effect = effect
            return row
        }
        var events: [Explanation.Event] = []
        var contribution = FixedDecimal.zero
        switch metric.aggregation {
        case .count, .sum:
            for (logged, c) in matched {
                if case .value(let v) = c {
                    contribution = contribution + v
                    events.append(event(logged, .added(v)))
                } else {
                    contribution = contribution + FixedDecimal(1)
                    events.append(event(logged, .counted))
                }
            }
        case .max:
            for (_, c) in matched { if case .value(let v) = c { contribution = max(contribution, v) } }
            var found = false
            for (logged, c) in matched {
                guard case .value(let v) = c else { continue }
                let isMax = !found && v == contribution
                found = found || isMax
                events.append(event(logged, isMax ? .dayMaximum(v) : .belowDayMaximum(v)))
            }
        case .uniqueCount:
            var today = Set<String>()
            for (logged, c) in matched {
                guard case .distinct(let value) = c else { continue }
                guard today.insert(value).inserted else {
                    events.append(event(logged, .repeatedToday(value)))
                    continue
                }
                // The value's first day in the period, as stored (earlier days' events are not read).
                let first = try DistinctValue(store, invoice: invoiceKey, lineItem: item.id, value: value)
                    .lookup(txn).firstDay
                if let first, first < k {
                    events.append(event(logged, .seenBefore(value, firstDay: state.period.start.adding(days: first))))
                } else {
                    if first != k {
                        mismatches.append(
                            Explanation.Mismatch(
                                what: "first day of \(value)", computed: "\(day)",
                                stored: first.map { "\(state.period.start.adding(days: $0))" } ?? "none"))
                    }
                    contribution = contribution + FixedDecimal(1)
                    events.append(event(logged, .firstSeen(value)))
                }
            }
        }
        return (events, seqs.count, contribution)
    }

    /// The day's draw-down recomputed (SPEC §3): from the stored opening balances, the line items
    /// of the day in byte order with their stored subtotals, this one's replaced by `subtotal`.
    /// Sets the row's credits and commits; returns the balances that could cover it, in draw order.
    private mutating func drawDown(
        subtotal: FixedDecimal, into row: inout Explanation.Row, _ txn: borrowing Transaction
    ) throws
        -> [Explanation.BalanceDraw]
    {
        let balances = contract.balances
        let k = self.k, index = self.index
        let opening = try openingBalances(txn)
        let charges = state.lineItems.enumerated().map { j, line in
            (product: line.productID, subtotal: j == index ? subtotal : line.subtotal(k))
        }
        var remaining = opening
        _ = DrawDown.allocate(charges: Array(charges[..<index]), balances: balances, remaining: &remaining, day: day)
        let beforeLineItem = remaining
        let applied = DrawDown.allocate(charges: [charges[index]], balances: balances, remaining: &remaining, day: day)[
            0]
        let afterLineItem = remaining
        _ = DrawDown.allocate(
            charges: Array(charges[(index + 1)...]), balances: balances, remaining: &remaining, day: day)
        row.credits = applied.credits
        row.commits = applied.commits
        for (b, balance) in balances.enumerated() where remaining[b] != state.closing[k][b] {
            mismatches.append(
                Explanation.Mismatch(
                    what: "closing of \(balance.id)", computed: remaining[b].formatted(atLeast: decimals),
                    stored: state.closing[k][b].formatted(atLeast: decimals)))
        }
        return balances.indices.filter { balances[$0].isActive(on: day) && balances[$0].applies(to: item.productID) }
            .map { b in
                Explanation.BalanceDraw(
                    balanceID: balances[b].id, kind: balances[b].kind, priority: balances[b].priority,
                    ends: balances[b].ends, opening: opening[b], beforeLineItem: beforeLineItem[b],
                    drawn: beforeLineItem[b] - afterLineItem[b], afterLineItem: afterLineItem[b],
                    closing: remaining[b])
            }
    }

    /// Remaining balances at the start of the day: the stored closing of the day before (in this
    /// invoice or the contract's previous one), or the full amounts on the contract's first day.
    private func openingBalances(_ txn: borrowing Transaction) throws -> [FixedDecimal] {
        let c = contract.contract
        if k > 0 { return state.closing[k - 1] }
        let before = day.adding(days: -1)
        guard day > c.starts, let period = c.period(containing: before),
            let previous = try view.invoice(
                Keys.invoice(contract: c.id, start: period.start), contract: contract, txn)
        else { return DrawDownSweep.startingAmounts(contract.balances) }
        return previous.closing[period.start.distance(to: before)]
    }
}
