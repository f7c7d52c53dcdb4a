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
        try withLiveView(through: date.adding(days: -1)) { txn, view in try allRows(asOf: date, txn, view).tables }
    }

    /// The rows of ``export(asOf:)`` that belong to `customer`, read from its contracts' invoices only.
    public func export(asOf date: Day, customer: String) throws -> BreakdownExport {
        try withLiveView(through: date.adding(days: -1)) { txn, view in
            try allRows(asOf: date, customer: customer, txn, view).tables
        }
    }
}
