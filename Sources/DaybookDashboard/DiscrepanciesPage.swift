import DaybookCore
import DaybookEngine
import DaybookStore

/// `/discrepancies`: open drift across customers, sortable, with causes and the correction of each
/// row's invoice (SPEC §4 "Corrections").
enum DiscrepanciesPage {
    static let sorts = ["total_delta", "invoice", "customer"]
    /// Rows shown at most: the page ranks every record, and reads the causes of these.
    static let maxRows = 500

    /// The heads of ``deltaCells(_:_:)``.
    static let deltaHead = [
        "<abbr title=\"subtotal in the finalization snapshot\">finalized</abbr>",
        "<abbr title=\"live subtotal\">live</abbr>",
        "<abbr title=\"change in credits and commits applied\">Δ balances</abbr>", "Δ total",
    ]

    /// A drift record's subtotals and changes: the total moves by the subtotal's change less what
    /// the balances absorbed (a late event inside a commit changes the subtotal, not the total).
    /// With `applied: false` the balances' column is left out (Δ total = Δ subtotal − it).
    static func deltaCells(_ r: DriftRecord, _ money: (FixedDecimal) -> String, applied: Bool = true) -> String {
        let absorbed = (r.current.credits + r.current.commits) - (r.finalized.credits + r.finalized.commits)
        return HTML.numberCell(money(r.finalized.subtotal), extra: " data-column=\"finalized_subtotal\"")
            + HTML.numberCell(money(r.current.subtotal), extra: " data-column=\"current_subtotal\"")
            + (applied ? HTML.numberCell(money(absorbed), extra: " data-column=\"applied_delta\"") : "")
            + HTML.numberCell(money(r.deltaTotal), extra: " data-column=\"delta_total\"")
    }

    /// The correction the page shows for each of `invoices`: its open proposal, else the last one
    /// acted on (issued or rejected: why open drift has no proposal); none when it has none.
    static func shownCorrections(_ engine: Engine, invoices: Set<String>) throws -> [String: Correction] {
        var shown: [String: Correction] = [:]
        // The open proposal is numbered after every acted-on correction of its invoice.
        for c in try engine.corrections() where invoices.contains(c.invoiceID) {
            if (shown[c.invoiceID]?.number ?? 0) < c.number { shown[c.invoiceID] = c }
        }
        return shown
    }

    /// The correction column: id, kind and summed `total_delta` (in `data-value`), and for one
    /// acted on, its status and day; "—" when the invoice has none.
    static func correctionCell(_ c: Correction?, _ money: (FixedDecimal) -> String) -> String {
        guard let c else { return "<td data-column=\"correction\">—</td>" }
        let total = money(c.totals.total)
        let kind = c.kind == .creditNote ? "credit note" : "true-up"
        let acted = c.actedAt.map { " (\(c.status.rawValue) \($0.day))" } ?? ""
        return "<td class=\"ids\" data-column=\"correction\" data-correction=\"\(HTML.escape(c.id))\" "
            + "data-kind=\"\(c.kind.rawValue)\" data-status=\"\(c.status.rawValue)\" data-value=\"\(total)\">"
            + "<code>\(HTML.escape(c.id))</code> \(kind) \(total)\(acted)</td>"
    }

    static func render(engine: Engine, now: Timestamp, _ q: Parameters) throws -> DashboardPage {
        let sort = q["sort"] ?? "total_delta"
        guard sorts.contains(sort) else {
            throw PageError(status: 400, "?sort=\(sort): write sort=total_delta, sort=invoice or sort=customer")
        }
        let decimals = engine.catalog?.currencyDecimals ?? 2
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
        // Every record ranked without its causes; the causes read for the rows shown only.
        var records = try engine.discrepancies(causes: false)
        // Engine order (invoice, line item) breaks every tie: the sort is stable.
        switch sort {
        case "invoice": break
        case "customer":
            records = records.enumerated().sorted {
                $0.element.customerID != $1.element.customerID
                    ? $0.element.customerID.utf8Precedes($1.element.customerID) : $0.offset < $1.offset
            }.map(\.element)
        default:
            records = records.enumerated().sorted {
                let a = abs($0.element.deltaTotal.raw), b = abs($1.element.deltaTotal.raw)
                return a != b ? a > b : $0.offset < $1.offset
            }.map(\.element)
        }
        let count = records.count
        let invoiceCount = Set(records.map(\.invoiceID)).count
        records = Array(records.prefix(Self.maxRows))
        var withCauses: [String: [String: DriftRecord]] = [:]
        for id in Set(records.map(\.invoiceID)) {
            withCauses[id] = Dictionary(
                try engine.discrepancies(invoice: id).map { ($0.lineItemID, $0) }, uniquingKeysWith: { a, _ in a })
        }
        records = records.map { withCauses[$0.invoiceID]?[$0.lineItemID] ?? $0 }
        let corrections = try Self.shownCorrections(engine, invoices: Set(withCauses.keys))
        func header(_ key: String, _ name: String) -> String {
            key == sort
                ? "\(name) <span aria-hidden=\"true\">▾</span><span class=\"visually-hidden\"> (sorted \(key == "total_delta" ? "largest first" : "A to Z"))</span>"
                : "<a href=\"\(HTML.href("/discrepancies", [("sort", key)]))\">\(name)</a>"
        }
        var rows: [String] = []
        var total = FixedDecimal.zero
        for r in records {
            total = total + r.deltaTotal
            let ids = r.lateTransactionIDs.prefix(2).map { "<code>\(HTML.escape($0))</code>" }.joined(separator: ", ")
            let more = r.lateEventCount > 2 ? ", …" : ""
            var causes =
                "<td class=\"ids\" data-column=\"late_event_count\" data-value=\"\(r.lateEventCount)\"><strong>\(r.lateEventCount)</strong>\(ids.isEmpty ? "" : ": \(ids)\(more)")</td>"
            let versions = r.catalogVersions.map { "v\($0)" }.joined(separator: ", ")
            let via = r.viaInvoices.map(HTML.invoiceLink).joined(separator: ", ")
            causes += "<td>\(versions.isEmpty ? "—" : versions)\(via.isEmpty ? "" : "; via \(via)")</td>"
            rows.append(
                "<tr data-invoice=\"\(HTML.escape(r.invoiceID))\" data-line-item=\"\(HTML.escape(r.lineItemID))\">"
                    + "<th scope=\"row\" class=\"id\">\(HTML.invoiceLink(r.invoiceID))</th><td class=\"id\">\(HTML.customerLink(r.customerID))</td>"
                    + "<td class=\"id\">\(HTML.escape(r.lineItemID))</td>"
                    + deltaCells(r, money, applied: false) + causes
                    + correctionCell(corrections[r.invoiceID], money) + "</tr>")
        }
        var main = "<section>"
        if records.isEmpty {
            main += "<p id=\"no-drift\">No open drift: every finalized invoice matches the live breakdown.</p>"
        } else {
            main += HTML.table(
                caption:
                    "\(count) drifted line items of \(invoiceCount) invoices (\(HTML.escape(engine.catalog?.currency ?? "")))"
                    + (count > records.count ? ", the first \(records.count) shown" : ""),
                head: [
                    header("invoice", "invoice"), header("customer", "customer"), "line item",
                    "<abbr title=\"subtotal in the finalization snapshot\">finalized</abbr>",
                    "<abbr title=\"live subtotal\">live</abbr>", header("total_delta", "Δ total"),
                    "<abbr title=\"late events: their count and first transaction ids\">late events</abbr>",
                    "<abbr title=\"catalog versions that rebuilt the invoice since\">catalog</abbr>",
                    "<abbr title=\"the invoice's open proposal, else its last issued or rejected correction: id, kind, total\">correction</abbr>",
                ], rows: rows, numeric: [3, 4, 5],
                foot: [
                    "<tr><th scope=\"row\" colspan=\"5\">\(count > records.count ? "The rows shown" : "All open drift")</th>"
                        + HTML.numberCell(money(total), extra: " data-column=\"delta_total\"")
                        + "<td colspan=\"3\"></td></tr>"
                ])
        }
        main += "</section>"
        if !corrections.isEmpty {
            main +=
                "<p>A proposal is issued with <code>daybook corrections issue ID</code> or dismissed with "
                + "<code>daybook corrections reject ID --reason TEXT</code>.</p>"
        }
        return DashboardPage(
            body: HTML.page(
                title: "Discrepancies", current: "/discrepancies",
                subtitle: "Finalized invoices whose live breakdown no longer matches their snapshot, as of \(now)",
                main: main))
    }
}
