import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore

/// `/invoices/{id}`: status, the breakdown as a heat map (line items × days), totals, and for a
/// finalized invoice its drift against the snapshot with links to `explain`.
enum InvoicePage {
    static func render(id: String, engine: Engine, now: Timestamp) throws -> DashboardPage {
        let table = try engine.breakdown(invoiceID: id, now: now)  // notFound → 404
        // Only the contract's customer's invoices are read (not the store's).
        let contractID = String(id[..<(id.lastIndex(of: "/") ?? id.endIndex)])
        let customer = engine.catalog?.contracts.first { $0.id == contractID }?.customerID
        func find(_ at: Timestamp) throws -> InvoiceSummary? {
            try customer.flatMap { try engine.invoices(now: at, customer: $0).first { $0.invoiceID == id } }
        }
        // A period that begins after `now` is listed as of its first day.
        guard let summary = try find(now) ?? find(Timestamp(day: try periodStart(id))) else {
            throw PageError(status: 404, "no invoice \"\(id)\": see /customers for the invoices")
        }
        let decimals = engine.catalog?.currencyDecimals ?? 2
        let currency = HTML.escape(engine.catalog?.currency ?? "")
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
        let grid = Grid(table)

        var main =
            "<section aria-labelledby=\"status-h\"><h2 id=\"status-h\" class=\"visually-hidden\">Status</h2><div class=\"cards\"><article class=\"card\"><dl>"
        let status = summary.finalizedAt == nil ? "draft" : "finalized"
        main +=
            "<dt>status</dt><dd><span class=\"status \(status)\" id=\"invoice-status\" data-value=\"\(status)\">\(status)</span></dd>"
        if let at = summary.finalizedAt { main += "<dt>finalized at</dt><dd id=\"finalized-at\">\(at)</dd>" }
        main += "<dt>customer</dt><dd>\(HTML.customerLink(summary.customerID))</dd>"
        main +=
            "<dt>period</dt><dd>\(summary.period.start) to \(summary.period.end.adding(days: -1))</dd></dl></article>"
        main += "<article class=\"card\"><dl>"
        for (name, key, v) in [
            ("subtotal", "subtotal", summary.totals.subtotal), ("credits", "credits_applied", summary.totals.credits),
            ("commits", "commits_applied", summary.totals.commits), ("total", "total", summary.totals.total),
        ] {
            main += "<dt>\(name)</dt><dd data-total=\"\(key)\" data-value=\"\(money(v))\">\(money(v)) \(currency)</dd>"
        }
        main += "</dl></article></div></section>\n"

        main += "<section aria-labelledby=\"heat-h\"><h2 id=\"heat-h\">Breakdown: subtotal per line item per day</h2>"
        main += heatMap(grid, id: id, currency: currency, decimals: decimals)
        main += "</section>\n"

        if summary.finalizedAt != nil {
            main += try driftSection(id: id, engine: engine, lineItems: Set(grid.lineItems), money: money)
        }
        return DashboardPage(
            body: HTML.page(
                title: "Invoice \(id)", current: nil,
                subtitle: "\(HTML.escape(summary.contractID)), \(summary.lineItems) line items, as of \(now)",
                main: main))
    }

    static func periodStart(_ id: String) throws -> Day {
        guard let slash = id.lastIndex(of: "/"), let d = Day(parsing: String(id[id.index(after: slash)...])) else {
            throw PageError(status: 404, "no invoice \"\(id)\": ids look like CONTRACT/YYYY-MM-DD")
        }
        return d
    }

    /// The breakdown table as line items × days.
    struct Grid {
        var days: [String] = []
        var lineItems: [String] = []
        /// line item → day index → subtotal text.
        var cells: [String: [String]] = [:]
        /// Per day: the `*` row's subtotal, credits, commits, total.
        var dayTotals: [[String]] = []

        init(_ table: Table) {
            let column = Dictionary(uniqueKeysWithValues: table.columns.enumerated().map { ($1, $0) })
            let day = column["day"]!, item = column["line_item_id"]!, subtotal = column["subtotal"]!
            for row in table.rows {
                if days.last != row[day] { days.append(row[day]) }
                if row[item] == "*" {
                    dayTotals.append(
                        [
                            row[subtotal], row[column["credits_applied"]!], row[column["commits_applied"]!],
                            row[column["total"]!],
                        ])
                    continue
                }
                if cells[row[item]] == nil {
                    lineItems.append(row[item])
                    cells[row[item]] = []
                }
                cells[row[item]]!.append(row[subtotal])
            }
        }
    }

    /// The heat map: a cell's shade grows with its subtotal (against the largest cell), the
    /// value in the cell's text and in `data-value`.
    static func heatMap(_ grid: Grid, id: String, currency: String, decimals: Int) -> String {
        var head = ["line item"]
        for d in grid.days { head.append("<abbr title=\"\(d)\">\(d.suffix(5))</abbr>") }
        head.append("total")
        var rows: [String] = []
        for item in grid.lineItems {
            var sum = FixedDecimal.zero
            // Each row against its own largest day: one big fixed fee does not wash out the usage rows.
            let maximum = grid.cells[item]!.compactMap { FixedDecimal($0) }.max() ?? .zero
            var r =
                "<tr data-line-item=\"\(HTML.escape(item))\"><th scope=\"row\" title=\"\(HTML.escape(item))\">\(HTML.escape(item))</th>"
            for (k, text) in grid.cells[item]!.enumerated() {
                let v = FixedDecimal(text) ?? .zero
                sum = sum + v
                r +=
                    "<td class=\"num\" data-day=\"\(grid.days[k])\" data-value=\"\(HTML.escape(text))\"\(shade(v, maximum))>\(HTML.escape(text))</td>"
            }
            r += HTML.numberCell(sum.formatted(decimals: decimals), extra: " data-total") + "</tr>"
            rows.append(r)
        }
        var foot: [String] = []
        for (n, name) in ["subtotal", "credits", "commits", "total"].enumerated() {
            var r = "<tr data-day-total=\"\(name)\"><th scope=\"row\">day \(name)</th>"
            for (k, t) in grid.dayTotals.enumerated() {
                r += "<td class=\"num\" data-day=\"\(grid.days[k])\" data-value=\"\(t[n])\">\(t[n])</td>"
            }
            foot.append(r + "<td></td></tr>")
        }
        return "<div class=\"heat-wrap\">"
            + HTML.table(
                caption:
                    "Subtotal (\(currency)) of each line item each day; the darker, the nearer the line item's largest day",
                head: head, rows: rows, numeric: Set(1..<head.count), foot: foot, className: "heat") + "</div>"
    }

    /// A cell's background: eight steps of blue by the share of the largest value (integer
    /// arithmetic on the raw amounts), white text on the darkest ones.
    static func shade(_ v: FixedDecimal, _ maximum: FixedDecimal) -> String {
        guard v.raw > 0, maximum.raw > 0 else { return "" }
        let step = Int(min(8, (v.raw * 8 + maximum.raw - 1) / maximum.raw))
        let colours = [
            "#f2f7fc", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b",
        ]
        let fg = step >= 6 ? ";color:#fff" : ""
        return " style=\"background:\(colours[step])\(fg)\""
    }

    /// Drift against the snapshot: a row per drifted line item, linking to `explain` for the days
    /// of the invoice's late events (the rows whose events changed), when explain has the row.
    static func driftSection(id: String, engine: Engine, lineItems: Set<String>, money: (FixedDecimal) -> String)
        throws -> String
    {
        let records = try engine.discrepancies(invoice: id)
        var out = "<section aria-labelledby=\"drift-h\"><h2 id=\"drift-h\">Drift against the finalization snapshot</h2>"
        guard !records.isEmpty else {
            return out + "<p id=\"no-drift\">None: the live breakdown matches the snapshot.</p></section>\n"
        }
        let period = try periodStart(id)
        let lateDays = try lateEventDays(id, engine: engine, from: period)
        var rows: [String] = []
        for r in records {
            var links: [String] = []
            // explain needs the line item in the live breakdown (a catalog change may have removed it).
            if lineItems.contains(r.lineItemID) {
                for day in lateDays.prefix(8) {
                    let href = HTML.href(
                        HTML.invoicePath(id) + "/explain", [("line_item", r.lineItemID), ("day", "\(day)")])
                    links.append(
                        "<a class=\"explain\" href=\"\(href)\" data-day=\"\(day)\" title=\"explain \(HTML.escape(r.lineItemID)) on \(day)\">\("\(day)".suffix(5))</a>"
                    )
                }
            }
            let explain =
                links.isEmpty
                ? (lineItems.contains(r.lineItemID) ? "—" : "not in the live breakdown") : links.joined(separator: " ")
            rows.append(
                "<tr data-line-item=\"\(HTML.escape(r.lineItemID))\"><th scope=\"row\" class=\"id\">\(HTML.escape(r.lineItemID))</th>"
                    + DiscrepanciesPage.deltaCells(r, money)
                    + "<td class=\"num\">\(r.lateEventCount)</td><td class=\"links\">\(explain)</td></tr>")
        }
        out += HTML.table(
            caption: "Finalized and live totals of each drifted line item; explain the days late events landed on",
            head: ["line item"] + DiscrepanciesPage.deltaHead
                + ["<abbr title=\"late events of the whole invoice\">late events</abbr>", "explain (MM-DD)"],
            rows: rows,
            numeric: Set(1...DiscrepanciesPage.deltaHead.count + 1))
        return out + "</section>\n"
    }

    /// The distinct days (in order) of the invoice's first late events, at most 200 read.
    static func lateEventDays(_ id: String, engine: Engine, from start: Day) throws -> [Day] {
        struct Enough: Error {}
        var days = Set<Day>()
        var read = 0
        do {
            try engine.lateEvents(invoice: id) { event in
                days.insert(event.timestamp.day)
                read += 1
                if read >= 200 { throw Enough() }
            }
        } catch is Enough {}
        return days.filter { $0 >= start }.sorted()
    }
}
