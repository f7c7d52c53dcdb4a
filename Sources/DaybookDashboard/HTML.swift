import DaybookCore

/// HTML text helpers: escaping, URL paths and the page frame every page shares.
enum HTML {
    /// `text` safe as element content and as a double- or single-quoted attribute value.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `text` as one percent-encoded path segment or query value: everything but the unreserved
    /// characters of RFC 3986 is encoded, `/` included (so an invoice id stays one segment).
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 15)])
            }
        }
        return out
    }

    /// A path with its query, ready for an `href` (escaped): `path?k=v&…`, values percent-encoded.
    static func href(_ path: String, _ query: [(String, String)] = []) -> String {
        let q = query.map { "\($0.0)=\(percentEncode($0.1))" }.joined(separator: "&")
        return escape(q.isEmpty ? path : "\(path)?\(q)")
    }

    static func customerPath(_ id: String) -> String { "/customers/" + percentEncode(id) }
    static func invoicePath(_ id: String) -> String { "/invoices/" + percentEncode(id) }

    /// A link to a customer's page.
    static func customerLink(_ id: String) -> String {
        "<a href=\"\(href(customerPath(id)))\">\(escape(id))</a>"
    }

    /// A link to an invoice's page.
    static func invoiceLink(_ id: String) -> String {
        "<a href=\"\(href(invoicePath(id)))\">\(escape(id))</a>"
    }

    /// The pages of the navigation bar: path and name.
    static let navigation = [("/", "Revenue"), ("/customers", "Customers"), ("/discrepancies", "Discrepancies")]

    /// A whole document: head (title, stylesheet, no favicon fetch), the header with the
    /// navigation (`current` marked), then `main`.
    static func page(title: String, current: String?, subtitle: String = "", main: String) -> String {
        var nav = ""
        for (path, name) in navigation {
            let mark = path == current ? " aria-current=\"page\"" : ""
            nav += "<li><a href=\"\(path)\"\(mark)>\(name)</a></li>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · Daybook</title>
            <link rel="icon" href="data:,">
            <link rel="stylesheet" href="/dashboard.css">
            </head>
            <body>
            <header class="top"><a class="brand" href="/">Daybook</a><nav aria-label="Dashboard"><ul>\(nav)</ul></nav></header>
            <main>
            <h1>\(escape(title))</h1>
            \(subtitle.isEmpty ? "" : "<p class=\"sub\">\(subtitle)</p>")
            \(main)
            </main>
            </body>
            </html>

            """
    }

    /// An error page: what is wrong and what to write instead.
    static func error(status: Int, _ message: String) -> DashboardPage {
        let title = status == 404 ? "Not found" : status == 400 ? "Bad request" : "Error"
        return DashboardPage(
            status: status,
            body: page(
                title: title, current: nil,
                main: "<section class=\"error\" role=\"alert\"><p>\(escape(message))</p></section>"))
    }

    /// A table inside a horizontally scrolling wrapper (narrow screens scroll the table, not the page).
    static func table(
        caption: String, head: [String], rows: [String], numeric: Set<Int> = [], foot: [String] = [],
        className: String? = nil
    ) -> String {
        var out =
            "<div class=\"scroll\"><table\(className.map { " class=\"\($0)\"" } ?? "")>\n<caption>\(caption)</caption>\n<thead><tr>"
        for (i, h) in head.enumerated() {
            out += "<th scope=\"col\"\(numeric.contains(i) ? " class=\"num\"" : "")>\(h)</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for r in rows { out += r + "\n" }
        out += "</tbody>\n"
        if !foot.isEmpty { out += "<tfoot>\n" + foot.joined(separator: "\n") + "\n</tfoot>\n" }
        return out + "</table></div>\n"
    }

    /// A table cell holding a number: right-aligned, the value also in `data-value`.
    static func numberCell(_ text: String, extra: String = "") -> String {
        "<td class=\"num\" data-value=\"\(escape(text))\"\(extra)>\(escape(text))</td>"
    }
}

extension FixedDecimal {
    /// `self / other × 100` rounded half-even to one decimal, as text (`12.5`); nil when `other` is 0.
    func percent(of other: FixedDecimal) -> String? {
        guard !other.isZero else { return nil }
        // Exact integer arithmetic on the raw values: (self × 1000 / other) in tenths of a percent.
        let tenths = FixedDecimal(raw: raw * 1000 * FixedDecimal.unit / other.raw).rounded(decimals: 0)
        return FixedDecimal(raw: tenths.raw / 10).formatted(decimals: 1)
    }
}
