import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// Export rows (the tables of ``BreakdownExport``), each with the journal position of its last
/// visible change, aligned by index.
struct StampedRows {
    var tables = BreakdownExport()
    var invoiceStamps: [UInt64] = []
    var lineItemStamps: [UInt64] = []
    var balanceStamps: [UInt64] = []

    /// Sorts every table into the export's row order (SPEC §5: invoices by (invoice_id, day),
    /// line_items by (invoice_id, line_item_id, day), balances by (balance_id, day); strings as
    /// UTF-8 bytes), keeping the stamps aligned. `onlyBalances`: the other tables are written in
    /// order already (the full export, invoice by invoice).
    mutating func sort(onlyBalances: Bool = false) {
        func sorted(_ table: inout Table, _ stamps: inout [UInt64], by columns: [Int]) {
            let order = table.rows.indices.sorted { a, b in
                for c in columns where table.rows[a][c] != table.rows[b][c] {
                    return table.rows[a][c].utf8Precedes(table.rows[b][c])
                }
                return false
            }
            table.rows = order.map { table.rows[$0] }
            stamps = order.map { stamps[$0] }
        }
        if !onlyBalances {
            sorted(&tables.invoices, &invoiceStamps, by: [0, 5])
            sorted(&tables.lineItems, &lineItemStamps, by: [0, 2, 6])
        }
        sorted(&tables.balances, &balanceStamps, by: [0, 4])
    }
}

/// Writes the rows of one invoice, or of a contract's balances outside its periods, into
/// ``StampedRows``: the code the full and the incremental exports share, so both show the same
/// values for a row.
struct RowEmitter {
    let plan: PricingPlan
    /// Days of the rows to write: `days.lowerBound ..< days.upperBound`.
    let days: Range<Day>
    /// Which rows to write, by day and stamp (the full export: all).
    let include: (Day, UInt64) -> Bool
    var rows = StampedRows()

    private func money(_ v: FixedDecimal) -> String { v.formatted(decimals: plan.currencyDecimals) }

    /// Writes the rows of `state` (an invoice of `contract`): its invoices and line_items rows, the
    /// balances rows of its days, and in the contract's first period the balance rows before the
    /// contract starts, in its last the rows after it ends.
    ///
    /// - Parameters:
    ///   - previousClosing: the closing balances of the day before the period (nil in the first period).
    ///   - position: when set, every row's stamp (an invoice computed in memory, never stamped).
    mutating func invoice(
        _ state: InvoiceState, of contract: ContractPlan, finalized: Bool, previousClosing: [FixedDecimal]?,
        position: UInt64?
    ) {
        let c = contract.contract
        let id = c.invoiceID(state.period)
        let start = state.period.start
        let status = finalized ? "finalized" : "draft"
        var dayIndices: [(day: Day, k: Int)] = []
        var d = max(days.lowerBound, start)
        while d < min(days.upperBound, state.period.end) {
            dayIndices.append((d, Int(d.number - start.number)))
            d = d.adding(days: 1)
        }
        for (day, k) in dayIndices {
            let stamp = position ?? state.stamps.invoice[k]
            guard include(day, stamp) else { continue }
            var t = Totals()
            for item in state.lineItems {
                t.subtotal = t.subtotal + item.subtotal(k)
                t.credits = t.credits + item.credits[k]
                t.commits = t.commits + item.commits[k]
            }
            rows.tables.invoices.rows.append([
                id, c.customerID, c.id, "\(start)", "\(state.period.end)", "\(day)", status, plan.catalog.currency,
                money(t.subtotal), money(t.credits), money(t.commits), money(t.total),
            ])
            rows.invoiceStamps.append(stamp)
        }
        for item in state.lineItems {
            let labels = RowLabels(plan: plan, contract: contract)
            let name = labels.productName(item.productID)
            for (day, k) in dayIndices {
                let stamp = position ?? item.stamps[k]
                guard include(day, stamp) else { continue }
                rows.tables.lineItems.rows.append([
                    id, c.customerID, item.id, item.productID, name, item.group, "\(day)",
                    item.quantity(k).canonical, labels.unitPrice(item, k).canonical,
                    money(item.subtotal(k)), money(item.credits[k]), money(item.commits[k]), money(item.total(k)),
                ])
                rows.lineItemStamps.append(stamp)
            }
        }
        for (b, balance) in contract.balances.enumerated() {
            for (day, k) in dayIndices where balance.isActive(on: day) {
                let stamp = position ?? state.stamps.balances[k][b]
                guard include(day, stamp) else { continue }
                let opening = k > 0 ? state.closing[k - 1][b] : previousClosing?[b] ?? balance.amount
                self.balance(balance, of: contract, day: day, opening: opening, closing: state.closing[k][b], stamp)
            }
            if start == c.starts {
                outside(balance, of: contract, from: balance.starts, to: c.starts, amount: balance.amount) {
                    position ?? state.stamps.head[b]
                }
            }
            if let ends = c.ends, ends == state.period.end {
                outside(balance, of: contract, from: ends, to: balance.ends, amount: state.closing[state.dayCount - 1][b]) {
                    position ?? state.stamps.tail[b]
                }
            }
        }
    }

    /// The rows of a contract's balances before it starts, when its first invoice is not in the
    /// view (the contract starts after the horizon): stamped `position`.
    mutating func balancesBeforeStart(of contract: ContractPlan, position: UInt64) {
        for balance in contract.balances {
            outside(balance, of: contract, from: balance.starts, to: contract.contract.starts, amount: balance.amount) {
                position
            }
        }
    }

    /// Rows of `balance` on the days `from ..< to` where it is active and nothing draws from it.
    private mutating func outside(
        _ balance: Balance, of contract: ContractPlan, from: Day, to: Day, amount: FixedDecimal, stamp: () -> UInt64
    ) {
        var day = max(from, balance.starts, days.lowerBound)
        let end = min(to, balance.ends, days.upperBound)
        guard day < end else { return }
        let s = stamp()
        while day < end {
            if include(day, s) { self.balance(balance, of: contract, day: day, opening: amount, closing: amount, s) }
            day = day.adding(days: 1)
        }
    }

    private mutating func balance(
        _ balance: Balance, of contract: ContractPlan, day: Day, opening: FixedDecimal, closing: FixedDecimal,
        _ stamp: UInt64
    ) {
        rows.tables.balances.rows.append([
            balance.id, contract.contract.customerID, contract.contract.id, balance.kind.rawValue, "\(day)",
            money(opening), money(opening - closing), money(closing),
        ])
        rows.balanceStamps.append(stamp)
    }
}

extension Engine {
    /// Every row of the export as of `date` with its stamp, in the view (SPEC §5 order), or only
    /// one customer's rows.
    func allRows(asOf date: Day, customer: String? = nil, _ txn: borrowing Transaction, _ view: LiveView) throws
        -> StampedRows
    {
        var emitter = RowEmitter(plan: view.plan, days: Day(number: .min)..<date, include: { _, _ in true })
        let invoices = try loadInvoices(txn, view, customer: customer)
        var byKey: [[UInt8]: InvoiceState] = [:]
        for invoice in invoices { byKey[invoice.key] = invoice.state }
        for invoice in invoices {
            let c = invoice.contract.contract
            let previous = c.period(containing: invoice.state.period.start.adding(days: -1)).flatMap {
                invoice.state.period.start == c.starts ? nil : byKey[Keys.invoice(contract: c.id, start: $0.start)]
            }
            emitter.invoice(
                invoice.state, of: invoice.contract, finalized: try txn.contains(invoice.key, in: store.snapshots),
                previousClosing: previous.map { $0.closing[$0.dayCount - 1] },
                position: view.isComputed(invoice.key) ? view.state.journalPosition : nil)
        }
        for contract in customer.map({ view.plan.byCustomer[$0] ?? [] }) ?? Array(view.plan.contracts.values)
        where byKey[Keys.invoice(contract: contract.contract.id, start: contract.contract.starts)] == nil {
            emitter.balancesBeforeStart(of: contract, position: view.state.journalPosition)
        }
        emitter.rows.sort(onlyBalances: true)
        return emitter.rows
    }
}
