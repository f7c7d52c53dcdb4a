import DaybookCore
import DaybookStore
import LMDB

/// What a row of the export shows besides the invoice's numbers, under one catalog version.
struct RowLabels {
    let plan: PricingPlan
    let contract: ContractPlan

    func productName(_ id: String) -> String { plan.catalog.products[id]?.name ?? id }

    /// The `unit_price` column (SPEC §5): the fee, the flat price, or the tier price at `Q(d)`.
    func unitPrice(_ item: LineItemState, _ k: Int) -> FixedDecimal {
        contract.fixed[item.productID]?.fee ?? contract.usage[item.productID]?.price.unitPrice(at: item.cumQuantity[k])
            ?? .zero
    }

    func samePricing(_ productID: String, as other: RowLabels) -> Bool {
        contract.fixed[productID]?.fee == other.contract.fixed[productID]?.fee
            && contract.usage[productID]?.price == other.contract.usage[productID]?.price
    }
}

extension InvoiceState {
    /// Per day: the `invoices` row's subtotal, credits and commits (sums over the line items).
    func daySums() -> [Totals] {
        var sums = Array(repeating: Totals(), count: dayCount)
        for item in lineItems {
            for k in 0..<dayCount {
                sums[k].subtotal = sums[k].subtotal + item.subtotal(k)
                sums[k].credits = sums[k].credits + item.credits[k]
                sums[k].commits = sums[k].commits + item.commits[k]
            }
        }
        return sums
    }

    /// Every row stamped at `position` (an invoice with no earlier version to compare with).
    mutating func stampAll(_ position: UInt64) {
        stamps = RowStamps(days: dayCount, balances: closing.first?.count ?? 0)
        stamps.invoice = stamps.invoice.map { _ in position }
        stamps.balances = stamps.balances.map { $0.map { _ in position } }
        stamps.head = stamps.head.map { _ in position }
        stamps.tail = stamps.head
        stamps.last = position
        for i in lineItems.indices { lineItems[i].stamps = Array(repeating: position, count: dayCount) }
    }
}

extension WorkingSet {
    /// Stamps the rows of `entry` whose visible values differ from its version before this write
    /// (the stored one, or for an invoice a catalog change rebuilt, the one it dropped) with this
    /// write's position, keeping the other rows' stamps. Returns the invoice's `changed_invoices`
    /// position before and after: equal when no row changed.
    ///
    /// Costs one pass over the invoice's rows, like encoding it (which the write does anyway).
    func stampRows(_ entry: InvoiceEntry) -> (before: UInt64?, after: UInt64) {
        let last = entry.state.stamps.last
        guard let contract = plan.contracts[entry.state.contractID] else { return (last, last) }
        if let original = entry.original, original == entry.state, !entry.finalizedNow, previousPlan == nil,
            !previousInvoiceChanged(entry, contract)
        {
            return (last, last)  // loaded but untouched (e.g. for the opening balances of the next period)
        }
        let oldPlan = previousPlan ?? plan
        guard let old = entry.original ?? carryOver[entry.key], let oldContract = oldPlan.contracts[old.contractID]
        else {
            entry.state.stampAll(position)
            return (nil, position)
        }
        let labels = RowLabels(plan: plan, contract: contract)
        let oldLabels = RowLabels(plan: oldPlan, contract: oldContract)
        var state = entry.state
        var changed = false
        func stamp(_ same: Bool, _ before: UInt64) -> UInt64 {
            if same { return before }
            changed = true
            return position
        }
        let days = state.dayCount, oldDays = old.dayCount
        let c = contract.contract, oc = oldContract.contract
        let sameCommon =
            c.customerID == oc.customerID && plan.currencyDecimals == oldPlan.currencyDecimals
            && state.period.start == old.period.start

        // invoices rows: status changes on finalization; period_end and currency are columns too.
        let sameInvoice =
            sameCommon && !entry.finalizedNow && state.period.end == old.period.end
            && plan.catalog.currency == oldPlan.catalog.currency
        let sums = state.daySums(), oldSums = old.daySums()
        for k in 0..<days {
            state.stamps.invoice[k] = stamp(
                sameInvoice && k < oldDays && sums[k] == oldSums[k], k < oldDays ? old.stamps.invoice[k] : 0)
        }

        // line_items rows.
        for i in state.lineItems.indices {
            let item = state.lineItems[i]
            guard let j = old.index(ofLineItem: item.id) else {
                state.lineItems[i].stamps = Array(repeating: position, count: days)
                changed = true
                continue
            }
            let o = old.lineItems[j]
            let sameItem =
                sameCommon && item.productID == o.productID && item.group == o.group
                && labels.productName(item.productID) == oldLabels.productName(o.productID)
            let samePricing = labels.samePricing(item.productID, as: oldLabels)
            if sameItem && samePricing && item == o { continue }  // stamps carried with the values
            var stamps = item.stamps
            for k in 0..<days {
                let same =
                    sameItem && k < oldDays && item.sameRow(k, as: o)
                    && ((samePricing && item.cumQuantity[k] == o.cumQuantity[k])
                        || labels.unitPrice(item, k) == oldLabels.unitPrice(o, k))
                stamps[k] = stamp(same, k < oldDays ? o.stamps[k] : 0)
            }
            state.lineItems[i].stamps = stamps
        }

        // balances rows: opening (the day before's closing, maybe in the previous invoice) and closing.
        let isFirst = state.period.start == c.starts, wasFirst = old.period.start == oc.starts
        let isLast = c.ends == state.period.end, wasLast = oc.ends == old.period.end
        let previous: InvoiceEntry? =
            isFirst || wasFirst
            ? nil
            : c.period(containing: state.period.start.adding(days: -1)).flatMap {
                entries[Keys.invoice(contract: c.id, start: $0.start)]
            }
        let previousOld = previous.flatMap { $0.original ?? carryOver[$0.key] }
        for (b, balance) in contract.balances.enumerated() {
            let ob = oldContract.balances.firstIndex { $0.id == balance.id }
            let oldBalance = ob.map { oldContract.balances[$0] }
            let sameBalance = sameCommon && oldBalance?.kind == balance.kind
            // Opening of day 0: the full amount on the contract's first day; else the previous
            // invoice's last closing, unchanged (nil on both sides) when this write did not load it.
            let opening0: FixedDecimal? =
                isFirst ? balance.amount : previous.map { $0.state.closing[$0.state.dayCount - 1][b] }
            let oldOpening0: FixedDecimal? =
                if let ob, let oldBalance {
                    wasFirst
                        ? oldBalance.amount
                        : previous == nil ? nil : previousOld.map { $0.closing[$0.dayCount - 1][ob] }
                } else { nil }
            let sameOpening0 = isFirst == wasFirst && opening0 == oldOpening0
            for k in 0..<days {
                let day = state.period.start.adding(days: k)
                guard balance.isActive(on: day) else {
                    state.stamps.balances[k][b] = 0
                    continue
                }
                guard let ob, let oldBalance, sameBalance, k < oldDays, oldBalance.isActive(on: day) else {
                    state.stamps.balances[k][b] = stamp(false, 0)
                    continue
                }
                let sameOpening = k == 0 ? sameOpening0 : state.closing[k - 1][b] == old.closing[k - 1][ob]
                state.stamps.balances[k][b] = stamp(
                    sameOpening && state.closing[k][b] == old.closing[k][ob], old.stamps.balances[k][ob])
            }
            // Rows before the contract starts (full amount) and after it ends (the last closing).
            let sameRange = oldBalance?.starts == balance.starts && oldBalance?.ends == balance.ends
            if isFirst && balance.starts < min(c.starts, balance.ends), let ob {
                state.stamps.head[b] = stamp(
                    sameBalance && sameRange && wasFirst && oldBalance?.amount == balance.amount, old.stamps.head[ob])
            } else if isFirst && balance.starts < min(c.starts, balance.ends) {
                state.stamps.head[b] = stamp(false, 0)
            } else {
                state.stamps.head[b] = 0
            }
            if isLast, let ends = c.ends, balance.ends > max(ends, balance.starts) {
                let same =
                    sameBalance && sameRange && wasLast && old.period.end == state.period.end && ob != nil
                    && state.closing[days - 1][b] == old.closing[oldDays - 1][ob!]
                state.stamps.tail[b] = stamp(same, ob.map { old.stamps.tail[$0] } ?? 0)
            } else {
                state.stamps.tail[b] = 0
            }
        }
        let before: UInt64? = entry.original == nil ? nil : old.stamps.last
        state.stamps.last = changed ? position : old.stamps.last
        entry.state = state
        return (before, state.stamps.last)
    }

    /// Whether the invoice of the period before `entry`'s was changed by this write (its last
    /// closing is the opening of `entry`'s first balance rows).
    private func previousInvoiceChanged(_ entry: InvoiceEntry, _ contract: ContractPlan) -> Bool {
        let c = contract.contract
        guard entry.state.period.start != c.starts,
            let period = c.period(containing: entry.state.period.start.adding(days: -1)),
            let previous = entries[Keys.invoice(contract: c.id, start: period.start)]
        else { return false }
        return previous.original.map { $0.closing != previous.state.closing } ?? true
    }

    /// Moves the invoice's `changed_invoices` entry to `after` (one entry per invoice).
    func reindexChanged(_ key: [UInt8], before: UInt64?, after: UInt64, _ txn: borrowing Transaction) throws {
        if before == after { return }
        if let before { try txn.delete(Keys.changedInvoice(position: before, invoice: key), in: store.changedInvoices) }
        try txn.put(Keys.changedInvoice(position: after, invoice: key), [], in: store.changedInvoices)
    }
}

extension WorkingSet {
    /// Loads every stored invoice of `contract` (a catalog change that changes a column of all their rows).
    func loadInvoices(of contract: ContractPlan, _ txn: borrowing Transaction) throws {
        var starts: [Day] = []
        try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: contract.contract.id)) { key, _ in
            if let parts = Keys.invoiceParts(key) { starts.append(parts.start) }
            return true
        }
        for start in starts { _ = try invoice(contract: contract, start: start, txn) }
    }
}
