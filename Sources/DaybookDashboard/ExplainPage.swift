import DaybookCore
import DaybookEngine

/// `/invoices/{id}/explain?line_item=…&day=…`: one breakdown row's events and arithmetic (`daybook explain`).
enum ExplainPage {
    static func render(invoice: String, engine: Engine, _ q: Parameters) throws -> DashboardPage {
        guard let item = q["line_item"], let dayText = q["day"] else {
            throw PageError(status: 400, "explain needs ?line_item=LINE_ITEM_ID&day=YYYY-MM-DD")
        }
        guard let day = Day(parsing: dayText) else {
            throw PageError(status: 400, "?day=\(dayText) is not a date: write YYYY-MM-DD")
        }
        let e = try engine.explain(invoiceID: invoice, lineItemID: item, day: day)
        let d = e.currencyDecimals
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: d) }
        var main =
            "<p>Invoice \(HTML.invoiceLink(invoice)) of \(HTML.customerLink(e.customerID)), \(e.status.rawValue).</p>"
        var rows: [String] = []
        for (name, c, s, text) in [
            ("quantity", e.computed.quantity, e.stored.quantity, { (v: FixedDecimal) in v.canonical }),
            ("subtotal", e.computed.subtotal, e.stored.subtotal, money),
            ("credits", e.computed.credits, e.stored.credits, money),
            ("commits", e.computed.commits, e.stored.commits, money),
            ("total", e.computed.total, e.stored.total, money),
        ] {
            rows.append(
                "<tr data-field=\"\(name)\"><th scope=\"row\">\(name)</th>"
                    + HTML.numberCell(text(c), extra: " data-column=\"computed\"")
                    + HTML.numberCell(text(s), extra: " data-column=\"stored\"")
                    + "<td>\(c == s ? "✓" : "differs")</td></tr>")
        }
        main += "<section><h2>The row</h2>"
        main += HTML.table(
            caption: "Computed from the day's events against the stored row", head: ["", "computed", "stored", ""],
            rows: rows, numeric: [1, 2])
        main += "</section>"
        func eventRows(_ events: [Explanation.Event]) -> [String] {
            events.map { ev in
                "<tr data-seq=\"\(ev.seq)\"><td class=\"num\">\(ev.seq)</td><td><code>\(HTML.escape(ev.transactionID))</code></td><td>\(ev.timestamp)</td><td>\(ev.ingestTime)</td><td>\(ev.late ? "<span class=\"status running_out\">late</span>" : "")</td><td>\(ev.effect.code)</td><td class=\"num\">\(HTML.escape(ev.effect.value ?? ""))</td></tr>"
            }
        }
        let head = ["seq", "transaction id", "timestamp", "ingested", "", "effect", "value"]
        // The late events first: they are what a drifted row is explained by.
        if !e.lateEvents.isEmpty {
            main += "<section><h2>Late events</h2>"
            main += HTML.table(
                caption: "\(e.lateEvents.count) events ingested after the finalization, in log order", head: head,
                rows: eventRows(e.lateEvents), numeric: [0, 6])
            main += "</section>"
        }
        main += "<section><h2>Events</h2>"
        main +=
            e.events.isEmpty
            ? "<p>No event of this customer and day counts for this line item.</p>"
            : "<details class=\"alt\"\(e.events.count <= 20 ? " open" : "")><summary>All \(e.events.count) events of \(HTML.escape(e.customerID)) on \(day) behind the row</summary>"
                + HTML.table(
                    caption: "\(e.events.count) events, in log order", head: head, rows: eventRows(e.events),
                    numeric: [0, 6])
                + "</details>"
        main += "</section><section><h2>The arithmetic</h2>"
        main += "<p>As <code>daybook explain</code> prints it.</p><pre>\(HTML.escape(e.text))</pre></section>"
        return DashboardPage(
            body: HTML.page(
                title: "Explain \(item) on \(day)", current: nil, subtitle: "Invoice \(HTML.escape(invoice))",
                main: main))
    }
}
