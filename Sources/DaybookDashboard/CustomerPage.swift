import DaybookCore
import DaybookEngine
import DaybookStore

/// `/customers`: every customer of the catalog with its current invoice's running total.
enum CustomersPage {
    static func render(engine: Engine, now: Timestamp) throws -> DashboardPage {
        guard let catalog = engine.catalog else {
            throw PageError(status: 404, "the store has no catalog yet: apply one with `daybook catalog apply FILE`")
        }
        let d = catalog.currencyDecimals
        let today = now.day
        // Drifted line items per contract (an invoice id is CONTRACT/YYYY-MM-DD).
        var drift: [String: Int] = [:]
        for (invoice, n) in try engine.openDriftCounts() {
            drift[String(invoice[..<(invoice.lastIndex(of: "/") ?? invoice.endIndex)]), default: 0] += n
        }
        var rows: [String] = []
        for c in try engine.customerSummaries(now: now) {
            var r =
                "<tr data-customer=\"\(HTML.escape(c.customerID))\"><th scope=\"row\">\(HTML.customerLink(c.customerID))</th><td>\(HTML.escape(c.customerName))</td>"
            if let i = c.currentInvoice {
                r += "<td>\(HTML.invoiceLink(i.invoiceID))</td>"
                r += HTML.numberCell(i.totals.subtotal.formatted(decimals: d), extra: " data-column=\"subtotal\"")
                r += HTML.numberCell(i.totals.total.formatted(decimals: d), extra: " data-column=\"total\"")
            } else {
                r += "<td>—</td><td class=\"num\">—</td><td class=\"num\">—</td>"
            }
            // The balance that needs a person first: exhausted, else the soonest to run out.
            let urgent = c.balances.filter { $0.status == .exhausted || $0.status == .runningOut }.min {
                ($0.status == .exhausted ? -1 : $0.daysLeft ?? .max)
                    < ($1.status == .exhausted ? -1 : $1.daysLeft ?? .max)
            }
            if let b = urgent {
                let when =
                    b.status == .exhausted ? "" : " in \(b.daysLeft ?? 0) days (\(b.exhaustsOn.map { "\($0)" } ?? ""))"
                r +=
                    "<td><span class=\"status \(b.status.rawValue)\">\(CustomerPage.statusText(b.status))</span> \(HTML.escape(b.balanceID))\(when)</td>"
            } else {
                r += "<td>\(c.balances.isEmpty ? "—" : "ok")</td>"
            }
            let contracts = catalog.customer(c.customerID)?.contracts ?? []
            let drifted = contracts.reduce(0) { $0 + (drift[$1.id] ?? 0) }
            r +=
                "<td class=\"num\">\(drifted == 0 ? "—" : "<a href=\"/discrepancies\">\(drifted) line items</a>")</td></tr>"
            rows.append(r)
        }
        let main =
            "<section>"
            + HTML.table(
                caption: "Customers and the invoice of \(today) (\(HTML.escape(catalog.currency)))",
                head: ["customer", "name", "current invoice", "subtotal", "total", "balances", "open drift"],
                rows: rows,
                numeric: [3, 4, 6]) + "</section>"
        return DashboardPage(
            body: HTML.page(
                title: "Customers", current: "/customers",
                subtitle: "\(catalog.customers.count) customers, as of \(now)",
                main: main))
    }
}

/// `/customers/{id}`: the customer's daily spend by product over the remaining balance of each
/// commit and credit, where the trailing run rate takes them, and the current invoice.
enum CustomerPage {
    static func render(id: String, engine: Engine, now: Timestamp, _ q: Parameters) throws -> DashboardPage {
        guard let catalog = engine.catalog, catalog.customer(id) != nil else {
            throw PageError(
                status: 404, "no customer \"\(id)\" in the catalog in force: see /customers for the customers")
        }
        let (from, to) = try q.range(today: now.day)
        let report = try engine.customerReport(id: id, from: from, to: to, now: now)
        let d = report.decimals
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: d) }
        let currency = HTML.escape(report.currency)
        var main = RevenuePage.rangeForm(action: HTML.customerPath(id), from: from, to: to, metric: nil)

        // The current invoice and the balances' projections, as cards.
        main += "<section aria-labelledby=\"now-h\"><h2 id=\"now-h\">Today, \(report.today)</h2><div class=\"cards\">"
        if let i = report.currentInvoice {
            main += "<article class=\"card invoice\"><h3>Current invoice</h3><dl>"
            main += "<dt>invoice</dt><dd>\(HTML.invoiceLink(i.invoiceID))</dd>"
            main += "<dt>period</dt><dd>\(i.period.start) to \(i.period.end.adding(days: -1))</dd>"
            main += "<dt>status</dt><dd>\(i.finalizedAt == nil ? "draft" : "finalized")</dd>"
            main +=
                "<dt>subtotal</dt><dd data-value=\"\(money(i.totals.subtotal))\">\(money(i.totals.subtotal)) \(currency)</dd>"
            main += "<dt>credits</dt><dd data-value=\"\(money(i.totals.credits))\">\(i.totals.credits.isZero ? "" : "−")\(money(i.totals.credits))</dd>"
            main += "<dt>commits</dt><dd data-value=\"\(money(i.totals.commits))\">\(i.totals.commits.isZero ? "" : "−")\(money(i.totals.commits))</dd>"
            main +=
                "<dt>running total</dt><dd id=\"running-total\" data-value=\"\(money(i.totals.total))\"><strong>\(money(i.totals.total)) \(currency)</strong></dd>"
            main += "</dl></article>"
        } else {
            main +=
                "<article class=\"card invoice\"><h3>No current invoice</h3><p>No contract covers \(report.today).</p></article>"
        }
        for b in report.balances {
            let p = b.projection
            main += "<article class=\"card \(p.status.rawValue)\" data-balance=\"\(HTML.escape(p.balanceID))\">"
            main += "<h3>\(HTML.escape(p.balanceID)) <span class=\"sub\">\(p.kind.rawValue)</span></h3><dl>"
            main +=
                "<dt>status</dt><dd><span class=\"status \(p.status.rawValue)\" data-status=\"\(p.status.rawValue)\">\(statusText(p.status))</span></dd>"
            main +=
                "<dt>remaining</dt><dd data-field=\"remaining\" data-value=\"\(money(p.remaining))\">\(money(p.remaining)) of \(money(p.amount))</dd>"
            main +=
                "<dt>run rate (\(p.runRateDays) d)</dt><dd data-field=\"run_rate\" data-value=\"\(money(p.dailyRunRate(decimals: d)))\">\(money(p.dailyRunRate(decimals: d))) / day</dd>"
            if let left = p.daysLeft {
                main += "<dt>days left</dt><dd data-field=\"days_left\" data-value=\"\(left)\">\(left)</dd>"
            }
            if let on = p.exhaustsOn {
                main += "<dt>runs out on</dt><dd data-field=\"exhausts_on\" data-value=\"\(on)\">\(on)</dd>"
            }
            if let on = p.exhaustedOn {
                main += "<dt>ran out on</dt><dd data-field=\"exhausted_on\" data-value=\"\(on)\">\(on)</dd>"
            }
            main += "<dt>active</dt><dd>\(p.starts) to \(p.ends.adding(days: -1))</dd></dl></article>"
        }
        main += "</div></section>\n"

        // The chart: spend bars stacked by product, the balances' closing amounts as lines.
        let bars = report.products.enumerated().map { n, p in
            ChartSeries(
                id: p.productID, name: p.productName, values: p.subtotal, color: Chart.palette[n % Chart.palette.count])
        }
        let lines = report.balances.enumerated().map { n, b in
            ChartSeries(
                id: b.projection.balanceID, name: "\(b.projection.balanceID) remaining", values: b.closing,
                color: Chart.linePalette[n % Chart.linePalette.count])
        }
        let chart = Chart(days: report.days, unit: report.currency, decimals: d, rightAxis: !lines.isEmpty)
        main +=
            "<section aria-labelledby=\"spend-h\"><h2 id=\"spend-h\">Daily spend by product and remaining balances</h2>"
        if bars.isEmpty && lines.isEmpty {
            main += "<p>No spend and no balances from \(from) to \(to).</p>"
        } else {
            main += Chart.legend(bars, lines: lines)
            main += "<div class=\"chart-box\">"
            main += chart.barsWithLines(
                bars, lines: lines,
                title: "Daily spend of \(id) by product with the remaining balances, \(from) to \(to)",
                id: "spend", barLabel: "spend \(report.currency)",
                lineLabel: lines.isEmpty ? "" : "remaining \(report.currency)")
            main += "</div>"
            main += chart.valuesTable(bars, caption: "Daily spend by product (\(report.currency))", total: true)
            if !lines.isEmpty {
                main += chart.valuesTable(
                    lines, caption: "Remaining balance at each day's close (\(report.currency))", total: false,
                    summary: "The balance lines as a table")
            }
        }
        main += "</section>\n"

        // The split of the range's spend by product.
        let total = report.products.reduce(FixedDecimal.zero) { $0 + $1.totalSubtotal }
        var rows: [String] = []
        for p in report.products {
            rows.append(
                "<tr data-product=\"\(HTML.escape(p.productID))\"><th scope=\"row\">\(HTML.escape(p.productName))</th>"
                    + HTML.numberCell(money(p.totalSubtotal), extra: " data-column=\"subtotal\"")
                    + HTML.numberCell((p.totalSubtotal.percent(of: total) ?? "0.0"), extra: " data-column=\"share\"")
                    + HTML.numberCell(p.totalQuantity.canonical, extra: " data-column=\"quantity\"") + "</tr>")
        }
        main += "<section aria-labelledby=\"split-h\"><h2 id=\"split-h\">Spend by product</h2>"
        main += HTML.table(
            caption: "\(from) to \(to), before credits and commits",
            head: ["product", "spend (\(currency))", "share %", "quantity"], rows: rows, numeric: [1, 2, 3],
            foot: [
                "<tr><th scope=\"row\">All products</th>"
                    + HTML.numberCell(money(total), extra: " data-column=\"subtotal\"")
                    + "<td class=\"num\">\(total.isZero ? "—" : "100.0")</td><td></td></tr>"
            ])
        main += "</section>\n"

        let invoices = try engine.invoices(now: now, customer: id).reversed()  // the newest first
        if !invoices.isEmpty {
            let rows = invoices.map { i in
                "<tr><th scope=\"row\">\(HTML.invoiceLink(i.invoiceID))</th><td>\(i.period.start) to \(i.period.end.adding(days: -1))</td><td><span class=\"status \(i.finalizedAt == nil ? "draft" : "finalized")\">\(i.finalizedAt == nil ? "draft" : "finalized")</span></td>"
                    + HTML.numberCell(money(i.totals.total)) + "</tr>"
            }
            main += "<section aria-labelledby=\"inv-h\"><h2 id=\"inv-h\">Invoices</h2>"
            main += HTML.table(
                caption: "Invoices of \(HTML.escape(id)) (\(currency))",
                head: ["invoice", "period", "status", "total"], rows: rows, numeric: [3])
            main += "</section>"
        }
        return DashboardPage(
            body: HTML.page(
                title: "\(report.customerName) (\(id))", current: nil,
                subtitle: "\(from) to \(to) (\(report.days.count) days), as of \(now)", main: main))
    }

    static func statusText(_ s: BalanceProjection.Status) -> String {
        switch s {
        case .exhausted: "exhausted"
        case .runningOut: "running out"
        case .ok: "ok"
        case .notStarted: "not started"
        case .ended: "ended"
        }
    }
}
