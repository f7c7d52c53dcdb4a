import DaybookCore
import LMDB

/// A table of string cells with named columns: what every report and export produces.
public struct Table: Sendable, Hashable {
    public var columns: [String]
    public var rows: [[String]]
    public init(columns: [String], rows: [[String]] = []) {
        self.columns = columns
        self.rows = rows
    }
}

extension Table {
    /// The named columns only, in that order; cells longer than `maxCellWidth` cut with "...".
    public func projected(_ names: [String], maxCellWidth: Int? = nil) -> Table {
        let indices = names.map { name in columns.firstIndex(of: name)! }
        return Table(
            columns: names,
            rows: rows.map { row in
                indices.map { i in
                    guard let width = maxCellWidth, row[i].count > width else { return row[i] }
                    return String(row[i].prefix(width - 3)) + "..."
                }
            })
    }
}

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
        return try withLiveView(through: lastDay) { txn, _ in
            var out = BreakdownExport()
            let decimals = plan.currencyDecimals
            let currency = plan.catalog.currency
            func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
            var byContract: [String: [Day: InvoiceState]] = [:]
            for invoice in try loadInvoices(txn) {
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

/// Writes tables as RFC 4180 CSV or NDJSON (SPEC §5).
public enum TableWriter {
    /// CSV: header row, `\n` line endings, a field quoted only when it holds `,` `"` CR or LF.
    public static func csv(_ table: Table) -> String {
        var out = ""
        out.reserveCapacity(64 * (table.rows.count + 1))
        func line(_ fields: [String]) {
            for (i, f) in fields.enumerated() {
                if i > 0 { out += "," }
                out += csvField(f)
            }
            out += "\n"
        }
        line(table.columns)
        for row in table.rows { line(row) }
        return out
    }

    public static func csvField(_ f: String) -> String {
        guard f.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else { return f }
        var quoted = "\""
        for ch in f.unicodeScalars {
            if ch == "\"" { quoted += "\"\"" } else { quoted.unicodeScalars.append(ch) }
        }
        return quoted + "\""
    }

    /// NDJSON: one object per row, keys in column order, values as JSON strings.
    public static func ndjson(_ table: Table) -> String {
        var out = ""
        for row in table.rows {
            out += "{"
            for (i, column) in table.columns.enumerated() {
                if i > 0 { out += ", " }
                out += StrictJSON.quote(column) + ": " + StrictJSON.quote(row[i])
            }
            out += "}\n"
        }
        return out
    }

    /// A JSON array of objects (for `--format json` reports); values are strings unless
    /// `rawColumns` names them (numbers, arrays written as they are).
    public static func jsonArray(_ table: Table, rawColumns: Set<String> = []) -> String {
        var out = "["
        for (r, row) in table.rows.enumerated() {
            out += r == 0 ? "\n  {" : ",\n  {"
            for (i, column) in table.columns.enumerated() {
                if i > 0 { out += ", " }
                out +=
                    StrictJSON.quote(column) + ": " + (rawColumns.contains(column) ? row[i] : StrictJSON.quote(row[i]))
            }
            out += "}"
        }
        return out + (table.rows.isEmpty ? "]\n" : "\n]\n")
    }

    /// An aligned plain-text table for people.
    public static func text(_ table: Table, rightAligned: Set<String> = []) -> String {
        var widths = table.columns.map { $0.count }
        for row in table.rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var s = ""
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let right = rightAligned.contains(table.columns[i])
                s += (i > 0 ? "  " : "") + (right ? pad + cell : cell + (i == cells.count - 1 ? "" : pad))
            }
            return s + "\n"
        }
        var out = line(table.columns)
        out += line(widths.map { String(repeating: "-", count: $0) })
        for row in table.rows { out += line(row) }
        return out
    }
}
