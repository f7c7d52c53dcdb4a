import DaybookCore

/// One plotted series: a product's daily values, or a balance's closing amounts (nil: not plotted that day).
struct ChartSeries {
    /// What the marks carry in their data attribute (`data-product` or `data-balance`).
    var id: String
    var name: String
    var values: [FixedDecimal?]
    var color: String
}

/// Server-drawn SVG charts over days. Every coordinate is computed with integer arithmetic on the
/// values' raw fixed-point form (tenths of a unit of the view box): no floating point touches an
/// amount, and the same data always draws the same bytes.
struct Chart {
    static let width = 720
    static let height = 360
    static let top = 40
    static let bottom = 44
    static let left = 78

    /// The colours of series, in order: distinct on white and for the common colour deficiencies
    /// (Tableau 10 order).
    static let palette = [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7",
        "#bab0ac",
    ]
    /// Balance lines: dark, so they stand out over the bars.
    static let linePalette = ["#1f1f1f", "#6a1b9a", "#00695c", "#b71c1c", "#0d47a1"]

    let days: [Day]
    /// The unit named in titles (`USD`, or "" for quantities).
    let unit: String
    /// Amounts in titles and tables: the currency's decimals; nil for quantities (canonical form).
    let decimals: Int?
    /// Room for a second axis on the right.
    let rightAxis: Bool

    var right: Int { rightAxis ? 78 : 18 }
    var plotWidth: Int { Self.width - Self.left - right }
    var plotHeight: Int { Self.height - Self.top - Self.bottom }

    func text(_ v: FixedDecimal) -> String { decimals.map { v.formatted(decimals: $0) } ?? v.canonical }
    func titled(_ v: FixedDecimal) -> String { unit.isEmpty ? text(v) : "\(text(v)) \(unit)" }

    /// The x of the centre of day `i` in tenths, for `count` slots across the plot.
    func x(_ i: Int) -> Int { Self.left * 10 + (2 * i + 1) * plotWidth * 10 / (2 * max(days.count, 1)) }
    var slot: Int { plotWidth * 10 / max(days.count, 1) }

    /// The y of `v` in tenths on an axis topped at `max`.
    func y(_ v: FixedDecimal, max: FixedDecimal) -> Int {
        let base = (Self.top + plotHeight) * 10
        guard max.raw > 0 else { return base }
        return base - Int(v.raw * Int128(plotHeight * 10) / max.raw)
    }

    /// Tenths as SVG text (`123.4`).
    static func c(_ tenths: Int) -> String {
        let sign = tenths < 0 ? "-" : ""
        let a = abs(tenths)
        return a % 10 == 0 ? "\(sign)\(a / 10)" : "\(sign)\(a / 10).\(a % 10)"
    }

    /// A round axis top at or above `max` and its step: 1, 2 or 5 × a power of ten, about 5 steps.
    static func axis(_ max: FixedDecimal) -> (top: FixedDecimal, step: FixedDecimal) {
        guard max.raw > 0 else { return (FixedDecimal(1), FixedDecimal(raw: FixedDecimal.unit / 5)) }
        let rough = max.raw / 5
        var power: Int128 = 1
        while power * 10 <= rough { power *= 10 }
        var step = power
        for m: Int128 in [1, 2, 5, 10] where power * m >= rough {
            step = power * m
            break
        }
        if step < rough { step = power * 10 }
        let n = (max.raw + step - 1) / step
        return (FixedDecimal(raw: n * step), FixedDecimal(raw: step))
    }

    /// `2026-10-05` as `Oct 5`.
    static func shortDay(_ d: Day) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(months[d.month - 1]) \(d.dayOfMonth)"
    }

    /// Grid lines and labels of a value axis (left, or right for the second axis), topped at `top`.
    func valueAxis(top: FixedDecimal, step: FixedDecimal, onRight: Bool = false, label: String) -> String {
        var out = "<g class=\"axis\(onRight ? " right" : "")\" aria-hidden=\"true\">"
        var v = FixedDecimal.zero
        while v <= top {
            let yy = y(v, max: top)
            if !onRight {
                out +=
                    "<line class=\"grid\" x1=\"\(Self.left)\" x2=\"\(Self.left + plotWidth)\" y1=\"\(Self.c(yy))\" y2=\"\(Self.c(yy))\"/>"
            }
            let x = onRight ? Self.left + plotWidth + 6 : Self.left - 6
            out +=
                "<text x=\"\(x)\" y=\"\(Self.c(yy + 45))\" text-anchor=\"\(onRight ? "start" : "end")\">\(HTML.escape(Self.tick(v)))</text>"
            v = v + step
        }
        if !label.isEmpty {
            let x = onRight ? Self.width - 4 : 4
            out +=
                "<text class=\"label\" x=\"\(x)\" y=\"\(Self.top - 14)\" text-anchor=\"\(onRight ? "end" : "start")\">\(HTML.escape(label))</text>"
        }
        return out + "</g>"
    }

    /// A tick value for a label: canonical, thousands grouped, large values in k/M.
    static func tick(_ v: FixedDecimal) -> String {
        let unit = FixedDecimal.unit
        if v.raw >= 1_000_000 * unit, v.raw % (100_000 * unit) == 0 {
            return FixedDecimal(raw: v.raw / 1_000_000).canonical + "M"
        }
        if v.raw >= 10_000 * unit, v.raw % (100 * unit) == 0 { return FixedDecimal(raw: v.raw / 1000).canonical + "k" }
        return v.canonical
    }

    /// Day labels under the plot: at most about 8, so they never overlap.
    func dayAxis() -> String {
        var out = "<g class=\"axis\" aria-hidden=\"true\">"
        let every = max(1, (days.count + 7) / 8)
        let base = Self.top + plotHeight
        out +=
            "<line class=\"base\" x1=\"\(Self.left)\" x2=\"\(Self.left + plotWidth)\" y1=\"\(base)\" y2=\"\(base)\"/>"
        for (i, d) in days.enumerated() where i % every == 0 {
            // Every other label is "minor": a phone, with larger text, shows half of them.
            let minor = (i / every) % 2 == 1 ? " class=\"minor\"" : ""
            out +=
                "<text\(minor) x=\"\(Self.c(x(i)))\" y=\"\(base + 24)\" text-anchor=\"middle\">\(Self.shortDay(d))</text>"
        }
        return out + "</g>"
    }

    /// The opening of the `svg`: scales through its view box, a role and a title for assistive technology.
    func open(title: String, id: String, small: Bool = false) -> String {
        "<svg id=\"\(id)\" class=\"chart\(small ? " small" : "")\" viewBox=\"0 0 \(Self.width) \(Self.height)\" role=\"img\" aria-labelledby=\"\(id)-title\"><title id=\"\(id)-title\">\(HTML.escape(title))</title>"
    }

    /// A mark's `<title>`: `series day: value unit`.
    func markTitle(_ name: String, _ day: Day, _ v: FixedDecimal) -> String {
        "<title>\(HTML.escape(name)) \(day): \(HTML.escape(titled(v)))</title>"
    }

    /// Stacked areas of `series` (all values non-nil), a point per series per day carrying the
    /// series' own value.
    func stackedArea(_ series: [ChartSeries], title: String, id: String, axisLabel: String) -> String {
        var stack = Array(repeating: FixedDecimal.zero, count: days.count)
        var tops: [[FixedDecimal]] = []
        for s in series {
            for i in days.indices { stack[i] = stack[i] + (s.values[i] ?? .zero) }
            tops.append(stack)
        }
        let (axisTop, step) = Self.axis(stack.max() ?? .zero)
        var out = open(title: title, id: id) + valueAxis(top: axisTop, step: step, label: axisLabel)
        var below = Array(repeating: FixedDecimal.zero, count: days.count)
        for (n, s) in series.enumerated() {
            var d = ""
            for i in days.indices {
                d += "\(i == 0 ? "M" : "L")\(Self.c(x(i))) \(Self.c(y(tops[n][i], max: axisTop))) "
            }
            for i in days.indices.reversed() { d += "L\(Self.c(x(i))) \(Self.c(y(below[i], max: axisTop))) " }
            out += "<path class=\"area\" d=\"\(d)Z\" fill=\"\(s.color)\" aria-hidden=\"true\"/>"
            below = tops[n]
        }
        let radius = days.count > 45 ? "2" : "3"
        for (n, s) in series.enumerated() {
            out += "<g class=\"marks\" data-series=\"\(HTML.escape(s.id))\">"
            for (i, day) in days.enumerated() {
                let v = s.values[i] ?? .zero
                out +=
                    "<circle class=\"pt\" cx=\"\(Self.c(x(i)))\" cy=\"\(Self.c(y(tops[n][i], max: axisTop)))\" r=\"\(v.isZero ? "0" : radius)\" fill=\"\(s.color)\" data-product=\"\(HTML.escape(s.id))\" data-day=\"\(day)\" data-value=\"\(text(v))\">\(markTitle(s.name, day, v))</circle>"
            }
            out += "</g>"
        }
        return out + dayAxis() + "</svg>"
    }

    /// One line of `s` (nil values break it), on its own axis: a small multiple.
    func line(_ s: ChartSeries, title: String, id: String, axisLabel: String) -> String {
        let (axisTop, step) = Self.axis(s.values.compactMap { $0 }.max() ?? .zero)
        return open(title: title, id: id, small: true) + valueAxis(top: axisTop, step: step, label: axisLabel)
            + linePath(s, top: axisTop, attribute: "data-product") + dayAxis() + "</svg>"
    }

    /// A polyline of `s` with a point per plotted day (`attribute` names the series on the marks).
    func linePath(_ s: ChartSeries, top: FixedDecimal, attribute: String, dashed: Bool = false) -> String {
        var d = ""
        var pen = false
        for i in days.indices {
            guard let v = s.values[i] else {
                pen = false
                continue
            }
            d += "\(pen ? "L" : "M")\(Self.c(x(i))) \(Self.c(y(v, max: top))) "
            pen = true
        }
        // Dense series get thinner points, so the line stays readable.
        let radius = days.count > 45 ? "2" : "3"
        var out =
            "<path class=\"line\(dashed ? " dashed" : "")\" d=\"\(d)\" stroke=\"\(s.color)\" aria-hidden=\"true\"/>"
        out += "<g class=\"marks\" data-series=\"\(HTML.escape(s.id))\">"
        for (i, day) in days.enumerated() {
            guard let v = s.values[i] else { continue }
            out +=
                "<circle class=\"pt\" cx=\"\(Self.c(x(i)))\" cy=\"\(Self.c(y(v, max: top)))\" r=\"\(radius)\" fill=\"\(s.color)\" \(attribute)=\"\(HTML.escape(s.id))\" data-day=\"\(day)\" data-value=\"\(text(v))\">\(markTitle(s.name, day, v))</circle>"
        }
        return out + "</g>"
    }

    /// Stacked bars of `bars` per day on the left axis, with `lines` over them on a right axis of their own.
    func barsWithLines(
        _ bars: [ChartSeries], lines: [ChartSeries], title: String, id: String, barLabel: String, lineLabel: String
    ) -> String {
        var stack = Array(repeating: FixedDecimal.zero, count: days.count)
        for s in bars { for i in days.indices { stack[i] = stack[i] + (s.values[i] ?? .zero) } }
        let (barTop, barStep) = Self.axis(stack.max() ?? .zero)
        var out = open(title: title, id: id) + valueAxis(top: barTop, step: barStep, label: barLabel)
        let lineMax = lines.flatMap { $0.values.compactMap { $0 } }.max()
        var lineTop = FixedDecimal.zero
        if !lines.isEmpty {
            let (t, s) = Self.axis(lineMax ?? .zero)
            lineTop = t
            out += valueAxis(top: t, step: s, onRight: true, label: lineLabel)
        }
        let width = max(slot * 7 / 10, 10)
        var below = Array(repeating: FixedDecimal.zero, count: days.count)
        for s in bars {
            out += "<g class=\"marks\" data-series=\"\(HTML.escape(s.id))\">"
            for (i, day) in days.enumerated() {
                let v = s.values[i] ?? .zero
                let y0 = y(below[i], max: barTop)
                let y1 = y(below[i] + v, max: barTop)
                below[i] = below[i] + v
                out +=
                    "<rect x=\"\(Self.c(x(i) - width / 2))\" y=\"\(Self.c(y1))\" width=\"\(Self.c(width))\" height=\"\(Self.c(y0 - y1))\" fill=\"\(s.color)\" data-product=\"\(HTML.escape(s.id))\" data-day=\"\(day)\" data-value=\"\(text(v))\">\(markTitle(s.name, day, v))</rect>"
            }
            out += "</g>"
        }
        for s in lines { out += linePath(s, top: lineTop, attribute: "data-balance") }
        return out + dayAxis() + "</svg>"
    }

    /// The chart's text alternative: a table of every plotted value, a row per day.
    func valuesTable(
        _ series: [ChartSeries], caption: String, total: Bool, summary: String = "The chart's values as a table"
    ) -> String {
        let head = ["day"] + series.map { HTML.escape($0.name) } + (total ? ["total"] : [])
        var rows: [String] = []
        for (i, day) in days.enumerated() {
            var sum = FixedDecimal.zero
            var r = "<tr><th scope=\"row\">\(day)</th>"
            for s in series {
                if let v = s.values[i] {
                    sum = sum + v
                    r += HTML.numberCell(text(v), extra: " data-series=\"\(HTML.escape(s.id))\" data-day=\"\(day)\"")
                } else {
                    r += "<td class=\"num\">—</td>"
                }
            }
            if total { r += HTML.numberCell(text(sum), extra: " data-day=\"\(day)\" data-total") }
            rows.append(r + "</tr>")
        }
        return "<details class=\"alt\"><summary>\(summary)</summary>"
            + HTML.table(caption: HTML.escape(caption), head: head, rows: rows, numeric: Set(1..<head.count)) + "</details>"
    }

    /// A legend in HTML (it wraps on a narrow screen, unlike text inside the SVG).
    static func legend(_ series: [ChartSeries], lines: [ChartSeries] = []) -> String {
        var out = "<ul class=\"legend\">"
        for s in series {
            out += "<li><span class=\"swatch\" style=\"background:\(s.color)\"></span>\(HTML.escape(s.name))</li>"
        }
        for s in lines {
            out +=
                "<li><span class=\"swatch line\" style=\"border-color:\(s.color)\"></span>\(HTML.escape(s.name))</li>"
        }
        return out + "</ul>"
    }
}
