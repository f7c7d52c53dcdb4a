import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// The three warehouse tables of SPEC §5 (`invoice_breakdown.invoices`, `.line_items`, `.balances`).
public struct BreakdownExport: Sendable, Hashable {
    public static let invoiceColumns = [
        "invoice_id", "customer_id", "contract_id", "period_start", "period_end", "day",
        "status", "currency", "subtotal", "credits_applied", "commits_applied", "total",
    ]
    public static let lineItemColumns = [
        "invoice_id", "customer_id", "line_item_id", "product_id", "product_name",
        "group_values", "day", "quantity", "unit_price", "subtotal", "credits_applied",
        "commits_applied", "total",
    ]
    public static let balanceColumns = [
        "balance_id", "customer_id", "contract_id", "type", "day", "opening", "drawn", "closing",
    ]

    public var invoices = Table(columns: invoiceColumns)
    public var lineItems = Table(columns: lineItemColumns)
    public var balances = Table(columns: balanceColumns)

    public init() {}

    /// `(file name without extension, table)` in the order they are written.
    public var files: [(name: String, table: Table)] {
        [("invoices", invoices), ("line_items", lineItems), ("balances", balances)]
    }
}

extension Engine {
    /// The breakdown as a warehouse receives it on `asOf` (SPEC §5): every invoice whose period
    /// began before that date, a dense row per day strictly before it; balance rows for every
    /// active day before it. Rows carry live values; `status` is the invoice's state now.
    public func export(asOf date: Day) throws -> BreakdownExport {
        let lastDay = date.adding(days: -1)
        return try withLiveView(through: lastDay) { txn, view in
            var out = BreakdownExport()
            let decimals = plan.currencyDecimals
            let currency = plan.catalog.currency
            func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
            var byContract: [String: [Day: InvoiceState]] = [:]
            for invoice in try loadInvoices(txn, view) {
                byContract[invoice.contract.contract.id, default: [:]][invoice.state.period.start] = invoice.state
                let state = invoice.state
                guard state.period.start < date else { continue }
                let c = invoice.contract.contract
                let status = try txn.contains(invoice.key, in: store.snapshots) ? "finalized" : "draft"
                let days = Int(min(state.period.end, date).number - state.period.start.number)
                for k in 0..<days {
                    var t = Totals()
                    for item in state.lineItems {
                        t.subtotal = t.subtotal + item.subtotal(k)
                        t.credits = t.credits + item.credits[k]
                        t.commits = t.commits + item.commits[k]
                    }
                    out.invoices.rows.append([
                        invoice.id, c.customerID, c.id, "\(state.period.start)", "\(state.period.end)",
                        "\(state.period.start.adding(days: k))", status, currency,
                        money(t.subtotal), money(t.credits), money(t.commits), money(t.total),
                    ])
                }
                for item in state.lineItems {
                    let product = plan.catalog.products[item.productID]
                    let price = invoice.contract.usage[item.productID]?.price
                    let fee = invoice.contract.fixed[item.productID]?.fee
                    for k in 0..<days {
                        let unitPrice = fee ?? price?.unitPrice(at: item.cumQuantity[k]) ?? .zero
                        out.lineItems.rows.append([
                            invoice.id, c.customerID, item.id, item.productID, product?.name ?? item.productID,
                            item.group,
                            "\(state.period.start.adding(days: k))", item.quantity(k).canonical, unitPrice.canonical,
                            money(item.subtotal(k)), money(item.credits[k]), money(item.commits[k]),
                            money(item.total(k)),
                        ])
                    }
                }
            }
            // Invoices come sorted by id and their rows by day / line item then day.
            for contract in plan.contracts.values {
                let invoices = byContract[contract.contract.id] ?? [:]
                for (b, balance) in contract.balances.enumerated() {
                    var remaining = balance.amount
                    var day = min(balance.starts, contract.contract.starts)
                    while day < balance.ends && day < date {
                        let opening = remaining
                        if let period = contract.contract.period(containing: day), let state = invoices[period.start] {
                            remaining = state.closing[Int(day.number - period.start.number)][b]
                        }
                        if day >= balance.starts {
                            out.balances.rows.append([
                                balance.id, contract.contract.customerID, contract.contract.id,
                                balance.kind.rawValue, "\(day)", money(opening),
                                money(opening - remaining), money(remaining),
                            ])
                        }
                        day = day.adding(days: 1)
                    }
                }
            }
            out.balances.rows.sort { a, b in a[0] == b[0] ? a[4] < b[4] : a[0].utf8Precedes(b[0]) }
            return out
        }
    }
}

