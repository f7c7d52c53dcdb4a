import DaybookCore
import DaybookEngine

/// `/`: revenue by product per day across every customer, and the change against the previous period.
enum RevenuePage {
    static func render(engine: Engine, now: Timestamp, _ q: Parameters) throws -> DashboardPage {
        let metric = q["metric"] ?? "subtotal"
        guard metric == "subtotal" || metric == "quantity" else {
            throw PageError(status: 400, "?metric=\(metric): write metric=subtotal or metric=quantity")
        }
        let (from, to) = try q.range(today: now.day)
        let report = try engine.revenue(from: from, to: to, now: now)
        let days = report.days
        let d = report.decimals
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: d) }
        var main = rangeForm(action: "/", from: from, to: to, metric: metric)

        let series = report.products.enumerated().map { n, p in
            ChartSeries(
                id: p.productID, name: p.productName, values: (metric == "quantity" ? p.quantity : p.subtotal),
                color: Chart.palette[n % Chart.palette.count])
        }
        let link = { (m: String) in
            HTML.href("/", [("from", "\(from)"), ("to", "\(to)"), ("metric", m)])
        }
        main +=
            "<p class=\"toggle\">Show: "
            + (metric == "subtotal"
                ? "<strong>revenue</strong><a href=\"\(link("quantity"))\">quantity</a>"
                : "<a href=\"\(link("subtotal"))\">revenue</a><strong>quantity</strong>") + "</p>\n"
        main += "<section aria-labelledby=\"chart-h\">"
        if series.isEmpty {
            main += "<h2 id=\"chart-h\">Daily \(metric == "quantity" ? "quantity" : "revenue") by product</h2>"
            main += "<p>Nothing was billed from \(from) to \(to).</p>"
        } else if metric == "subtotal" {
            let chart = Chart(days: days, unit: report.currency, decimals: d, rightAxis: false)
            main += "<h2 id=\"chart-h\">Daily revenue by product (\(HTML.escape(report.currency)), stacked)</h2>"
            main += Chart.legend(series)
            main += "<div class=\"chart-box\">"
            main += chart.stackedArea(
                series, title: "Daily revenue by product, \(from) to \(to), stacked", id: "revenue",
                axisLabel: report.currency)
            main += "</div>"
            main += chart.valuesTable(series, caption: "Daily revenue by product (\(report.currency))", total: true)
        } else {
            // Products count different things (tokens, hours, seats): one chart each, own axis.
            let chart = Chart(days: days, unit: "", decimals: nil, rightAxis: false)
            main += "<h2 id=\"chart-h\">Daily quantity by product</h2><div class=\"multiples\">"
            for (n, s) in series.enumerated() {
                main += "<div><h3>\(HTML.escape(s.name))</h3><div class=\"chart-box\">"
                main += chart.line(
                    s, title: "Daily quantity of \(s.name), \(from) to \(to)", id: "quantity-\(n)", axisLabel: "")
                main += "</div></div>"
            }
            main += "</div>"
            main += chart.valuesTable(series, caption: "Daily quantity by product", total: false)
        }
        main += "</section>\n"

        // Totals and change against the previous period of the same length.
        var rows: [String] = []
        var total = FixedDecimal.zero, previousTotal = FixedDecimal.zero
        for p in report.products {
            let previous = report.previous[p.productID] ?? PeriodSums()
            total = total + p.totalSubtotal
            previousTotal = previousTotal + previous.subtotal
            rows.append(
                "<tr data-product=\"\(HTML.escape(p.productID))\"><th scope=\"row\">\(HTML.escape(p.productName)) <span class=\"sub\">\(HTML.escape(p.productID))</span></th>"
                    + HTML.numberCell(money(p.totalSubtotal), extra: " data-column=\"subtotal\"")
                    + HTML.numberCell(money(previous.subtotal), extra: " data-column=\"previous_subtotal\"")
                    + change(p.totalSubtotal, previous.subtotal, money)
                    + HTML.numberCell(p.totalQuantity.canonical, extra: " data-column=\"quantity\"")
                    + HTML.numberCell(previous.quantity.canonical, extra: " data-column=\"previous_quantity\"")
                    + change(p.totalQuantity, previous.quantity, { $0.canonical }) + "</tr>")
        }
        let foot =
            "<tr data-product=\"*\"><th scope=\"row\">All products</th>"
            + HTML.numberCell(money(total), extra: " data-column=\"subtotal\"")
            + HTML.numberCell(money(previousTotal), extra: " data-column=\"previous_subtotal\"")
            + change(total, previousTotal, money) + "<td></td><td></td><td></td><td></td></tr>"
        main += "<section aria-labelledby=\"totals-h\"><h2 id=\"totals-h\">Totals by product</h2>"
        main += HTML.table(
            caption:
                "\(from) to \(to) against the previous \(days.count) days, \(report.previousFrom) to \(report.previousTo)",
            head: [
                "product", "revenue (\(HTML.escape(report.currency)))", "previous", "change", "change %", "quantity",
                "previous", "change", "change %",
            ], rows: rows, numeric: Set(1...8), foot: [foot])
        main += "</section>\n"
        main +=
            "<p>Per customer: see <a href=\"/customers\">the customers</a>; open drift: <a href=\"/discrepancies\">discrepancies</a>.</p>"
        return DashboardPage(
            body: HTML.page(
                title: "Revenue by product", current: "/",
                subtitle: "\(from) to \(to) (\(days.count) days), every customer, as billed now (\(now))", main: main))
    }

    /// Two cells: the absolute change and the change in percent ("new" when the previous value is zero).
    static func change(_ current: FixedDecimal, _ previous: FixedDecimal, _ text: (FixedDecimal) -> String) -> String {
        let delta = current - previous
        let sign = delta.isNegative ? "" : "+"
        let cls = delta.isZero ? "" : delta.isNegative ? " class=\"num down\"" : " class=\"num up\""
        let abs = "<td\(cls.isEmpty ? " class=\"num\"" : cls) data-value=\"\(text(delta))\">\(sign)\(text(delta))</td>"
        let pct: String
        if previous.isZero {
            pct =
                current.isZero
                ? "<td class=\"num\" data-value=\"0\">—</td>" : "<td class=\"num\" data-value=\"new\">new</td>"
        } else {
            let p = delta.percent(of: previous) ?? "0"
            pct =
                "<td\(cls.isEmpty ? " class=\"num\"" : cls) data-value=\"\(p)\">\(delta.isNegative ? "" : "+")\(p)%</td>"
        }
        return abs + pct
    }

    /// The range form: plain GET, no script.
    static func rangeForm(action: String, from: Day, to: Day, metric: String?) -> String {
        var out =
            "<form class=\"range\" method=\"get\" action=\"\(HTML.escape(action))\"><label>From<input type=\"date\" name=\"from\" value=\"\(from)\"></label><label>To<input type=\"date\" name=\"to\" value=\"\(to)\"></label>"
        if let metric { out += "<input type=\"hidden\" name=\"metric\" value=\"\(HTML.escape(metric))\">" }
        return out + "<button type=\"submit\">Show</button></form>\n"
    }
}
