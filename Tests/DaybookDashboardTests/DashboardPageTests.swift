import DaybookCore
import DaybookDashboard
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import Foundation
import Testing

/// The dashboard's pages rendered from stores with known data; the numbers they show are read
/// back from data attributes and `<title>`s and checked against hand-worked figures or against
/// the store through another path (`export`, `breakdown`, `discrepancies`).
@Suite("dashboard pages")
struct DashboardPageTests {
    /// `tok` at 0.01 a token, `gpu` at 2.00 per GPU (max), customer `c` (contract `k` from Oct 1, a
    /// 10.00 commit on Oct 1 … Jan 1) and a customer with a hostile id (contract `h`).
    static let hostile = "<script>alert(1)</script>&\"'"
    static let catalog = Array(
        #"""
        {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 60, "finalization_grace_hours": 24,
         "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens"},
                     {"id": "gpus", "event_type": "gpu", "aggregation": "max", "property": "gpus"}],
         "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}, {"id": "gpu", "name": "GPUs", "metric": "gpus"}],
         "rate_cards": [{"id": "r", "rates": [{"product": "tok", "unit_price": "0.01"}, {"product": "gpu", "unit_price": "2.00"}]}],
         "customers": [
           {"id": "c", "name": "Cee", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-10-01", "ends": null,
              "balances": [{"id": "commit", "type": "commit", "amount": "10.00", "starts": "2026-10-01", "ends": "2027-01-01"}]}]},
           {"id": "<script>alert(1)</script>&\"'", "name": "<b>Hostile</b>", "contracts": [{"id": "h", "rate_card": "r", "starts": "2026-10-01", "ends": null, "balances": []}]}
         ]}
        """#.utf8)

    final class Store {
        let store: TemporaryStore
        var engine: Engine { store.engine }
        var n = 0

        init() throws {
            store = try TemporaryStore()
            try store.engine.applyCatalog(DashboardPageTests.catalog, now: Timestamp(day: Day(parsing: "2026-10-01")!))
        }

        func ingest(_ events: [(customer: String, type: String, day: String, props: String)], now: String) throws {
            let records = events.map { e -> IngestRecord in
                n += 1
                let customer = String(
                    decoding: try! JSONSerialization.data(withJSONObject: [e.customer]), as: UTF8.self
                )
                .dropFirst().dropLast()
                let line =
                    "{\"transaction_id\": \"t\(n)\", \"customer_id\": \(customer), \"event_type\": \"\(e.type)\", \"timestamp\": \"\(e.day)T12:00:00Z\", \"properties\": {\(e.props)}}"
                return IngestRecord(bytes: Array(line.utf8), position: "line \(n)")
            }
            let summary = try engine.ingest(records, source: "test", now: try Timestamp(parsing: now))
            #expect(summary.accepted == events.count)
        }

        func render(_ path: String, _ query: [(String, String)] = [], now: String) throws -> DashboardPage {
            try #require(try Dashboard.render(path: path, query: query, engine: engine, now: Timestamp(parsing: now)))
        }
    }

    /// Oct 5: 100 tokens (1.00); Oct 20: 300 tokens (3.00) and 2 GPUs (4.00), ingested on Oct 25;
    /// Nov 3: 200 tokens (2.00), ingested on Nov 4 (the batch that finalizes October first).
    static func history() throws -> Store {
        let s = try Store()
        try s.ingest(
            [
                ("c", "inference", "2026-10-05", "\"tokens\": 100"),
                ("c", "inference", "2026-10-20", "\"tokens\": 300"),
                ("c", "gpu", "2026-10-20", "\"gpus\": 2"),
            ], now: "2026-10-25T00:00:00Z")
        try s.ingest([("c", "inference", "2026-11-03", "\"tokens\": 200")], now: "2026-11-04T00:00:00Z")
        #expect(try s.engine.discrepancies().isEmpty)
        return s
    }

    static let now = "2026-11-10T12:00:00Z"

    @Test func revenueDefaultsToTheSixtyDaysEndingTodayAndPlotsEachProductDay() throws {
        let s = try Self.history()
        let page = try s.render("/", now: Self.now)
        #expect(page.status == 200)
        let r = PageReader(page.body)
        let tok = r.elements("circle", where: "data-product", is: "tok")
        // Sep 12 … Nov 10: 60 days, one mark each.
        #expect(tok.count == 60)
        #expect(tok.first?["data-day"] == "2026-09-12" && tok.last?["data-day"] == "2026-11-10")
        let values = Dictionary(uniqueKeysWithValues: tok.map { ($0["data-day"]!, $0["data-value"]!) })
        #expect(values["2026-10-05"] == "1.00" && values["2026-10-20"] == "3.00" && values["2026-11-03"] == "2.00")
        #expect(values["2026-10-06"] == "0.00")
        #expect(r.titles.contains("Tokens 2026-10-20: 3.00 USD") && r.titles.contains("GPUs 2026-10-20: 4.00 USD"))
        // The chart is an image with a title, and its numbers are also a table.
        #expect(page.body.contains("role=\"img\""))
        #expect(r.elements("td", where: "data-series", is: "tok").count == 60)
        // Totals over the range: tok 6.00, gpu 4.00; nothing before Oct 1 so the change is "new".
        let totals = r.elements("td", where: "data-column", is: "subtotal")
        #expect(
            totals.map { $0["data-value"] } == ["4.00", "6.00", "10.00"]
                || totals.map { $0["data-value"] } == ["6.00", "4.00", "10.00"])
        #expect(page.body.contains("data-value=\"new\">new</td>"))
    }

    @Test func revenueChangeAgainstThePreviousPeriod() throws {
        let s = try Self.history()
        // Oct 16 … Oct 31 (16 days) against Sep 30 … Oct 15: tok 3.00 against 1.00 → +2.00, +200.0%;
        // gpu 4.00 against 0.00 → new.
        let page = try s.render("/", [("from", "2026-10-16"), ("to", "2026-10-31")], now: Self.now)
        let rows = page.body.components(separatedBy: "<tr data-product=\"tok\">")
        try #require(rows.count == 2)
        let tok = PageReader(String(rows[1].prefix { $0 != "\n" }))
        let cells = tok.elements("td").map { $0["data-value"] ?? "" }
        #expect(Array(cells.prefix(4)) == ["3.00", "1.00", "2.00", "200.0"])
        #expect(Array(cells[4...7]) == ["300", "100", "200", "200.0"])
        let gpu = PageReader(
            String(page.body.components(separatedBy: "<tr data-product=\"gpu\">")[1].prefix { $0 != "\n" }))
        #expect(gpu.elements("td").map { $0["data-value"] ?? "" }.prefix(4) == ["4.00", "0.00", "4.00", "new"])
        #expect(PageReader(page.body).elements("circle", where: "data-product", is: "tok").count == 16)
        // The quantity view: one small chart per product, quantities in canonical form.
        let quantity = try s.render(
            "/", [("from", "2026-10-16"), ("to", "2026-10-31"), ("metric", "quantity")], now: Self.now)
        let marks = PageReader(quantity.body).elements("circle", where: "data-product", is: "tok")
        #expect(marks.first { $0["data-day"] == "2026-10-20" }?["data-value"] == "300")
    }

    @Test func customerBarsAndBalanceLinesMatchTheExport() throws {
        let s = try Self.history()
        let page = try s.render("/customers/c", [("from", "2026-10-01"), ("to", "2026-11-10")], now: Self.now)
        #expect(page.status == 200)
        let r = PageReader(page.body)
        // The export through Nov 10, summed per product and day for customer c.
        let export = try s.engine.export(asOf: Day(parsing: "2026-11-11")!)
        let li = Dictionary(uniqueKeysWithValues: BreakdownExport.lineItemColumns.enumerated().map { ($1, $0) })
        var spend: [String: FixedDecimal] = [:]
        for row in export.lineItems.rows where row[li["customer_id"]!] == "c" {
            let key = "\(row[li["product_id"]!]) \(row[li["day"]!])"
            spend[key] = (spend[key] ?? .zero) + FixedDecimal(row[li["subtotal"]!])!
        }
        let bars = r.elements("rect", where: "data-product")
        #expect(bars.count == 2 * 41)
        for bar in bars {
            let key = "\(bar["data-product"]!) \(bar["data-day"]!)"
            #expect(bar["data-value"] == (spend[key] ?? .zero).formatted(decimals: 2), "\(key)")
        }
        // Hand-worked too: Oct 20 is 3.00 of tokens and 4.00 of GPUs.
        #expect(
            bars.contains {
                $0["data-product"] == "gpu" && $0["data-day"] == "2026-10-20" && $0["data-value"] == "4.00"
            })
        let b = Dictionary(uniqueKeysWithValues: BreakdownExport.balanceColumns.enumerated().map { ($1, $0) })
        var closing: [String: String] = [:]
        for row in export.balances.rows where row[b["balance_id"]!] == "commit" {
            closing[row[b["day"]!]] = row[b["closing"]!]
        }
        let points = r.elements("circle", where: "data-balance", is: "commit")
        #expect(points.count == 41)
        for p in points { #expect(p["data-value"] == closing[p["data-day"]!], "\(p["data-day"]!)") }
        // 10.00 − 1.00 (Oct 5) − 7.00 (Oct 20) − 2.00 (Nov 3) = 0: exhausted on Nov 3.
        #expect(points.last?["data-value"] == "0.00")
        #expect(page.body.contains("data-status=\"exhausted\""))
        #expect(r.elements("dd", where: "data-field", is: "exhausted_on").first?["data-value"] == "2026-11-03")
        // The current invoice (November): 2.00 subtotal, all of it from the commit, total 0.00.
        #expect(r.elements("dd", where: "id", is: "running-total").first?["data-value"] == "0.00")
        // The split: tok 6.00 of 10.00 = 60.0 %, gpu 40.0 %.
        let shares = r.elements("td", where: "data-column", is: "share").map { $0["data-value"]! }
        #expect(Set(shares) == ["60.0", "40.0"])
    }

    @Test func invoiceHeatMapCellsAreTheBreakdown() throws {
        let s = try Self.history()
        let now = try Timestamp(parsing: Self.now)
        for path in ["/invoices/k%2F2026-10-01", "/invoices/k/2026-10-01"] {
            let page = try s.render(path, now: Self.now)
            #expect(page.status == 200)
            let r = PageReader(page.body)
            let cells = r.elements("td", where: "data-day")
            var shown: [String: String] = [:]
            // Cells sit in rows named by line item: read row by row.
            for chunk in page.body.components(separatedBy: "<tr data-line-item=\"").dropFirst() {
                let item = String(chunk.prefix { $0 != "\"" })
                for cell in PageReader(String(chunk.prefix { $0 != "\n" })).elements("td", where: "data-day") {
                    shown["\(cell["data-day"]!) \(item)"] = cell["data-value"]
                }
            }
            let breakdown = try s.engine.breakdown(invoiceID: "k/2026-10-01", now: now)
            var expected: [String: String] = [:]
            for row in breakdown.rows where row[1] != "*" { expected["\(row[0]) \(row[1])"] = row[4] }
            #expect(shown == expected)
            #expect(expected["2026-10-20 gpu"] == "4.00")  // the breakdown itself, hand-checked
            #expect(cells.count >= 62)
            #expect(r.elements("span", where: "id", is: "invoice-status").first?["data-value"] == "finalized")
        }
    }

    @Test func driftedRowsLinkToExplain() throws {
        let s = try Self.history()
        // October is finalized (the Nov 4 batch). A late 50 tokens on Oct 10: +0.50 subtotal.
        try s.ingest([("c", "inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-05T00:00:00Z")
        let page = try s.render("/invoices/k%2F2026-10-01", now: Self.now)
        let r = PageReader(page.body)
        let drift = try s.engine.discrepancies(invoice: "k/2026-10-01")
        #expect(drift.map(\.lineItemID) == ["tok"])
        // Finalized 4.00 (400 tokens), live 4.50 (450), all of it from the commit: the total stays 0.00.
        #expect(r.elements("td", where: "data-column", is: "finalized_subtotal").map { $0["data-value"] } == ["4.00"])
        #expect(r.elements("td", where: "data-column", is: "current_subtotal").map { $0["data-value"] } == ["4.50"])
        #expect(r.elements("td", where: "data-column", is: "applied_delta").map { $0["data-value"] } == ["0.50"])
        let links = r.elements("a", where: "class", is: "explain")
        #expect(links.map { $0["data-day"] } == ["2026-10-10"])
        let href = try #require(links.first?["href"])
        #expect(href == "/invoices/k%2F2026-10-01/explain?line_item=tok&day=2026-10-10")
        // Follow the link: the explain page shows the row, 50 tokens, 0.50.
        let path = String(href.prefix { $0 != "?" })
        let explain = try s.render(path, [("line_item", "tok"), ("day", "2026-10-10")], now: Self.now)
        #expect(explain.status == 200)
        let rows = PageReader(explain.body).elements("td", where: "data-column", is: "stored").map { $0["data-value"]! }
        #expect(rows == ["50", "0.50", "0.00", "0.50", "0.00"])
        #expect(explain.body.contains(">late<"))
        // The discrepancies page: the row, its delta; nothing to correct (the total did not move).
        let discrepancies = try s.render("/discrepancies", now: Self.now).body
        let d = PageReader(discrepancies)
        // The row's Δ total, then the sum's.
        #expect(d.elements("td", where: "data-column", is: "delta_total").map { $0["data-value"] } == ["0.00", "0.00"])
        #expect(d.elements("tr", where: "data-line-item", is: "tok").count == 1)
        #expect(d.elements("td", where: "data-column", is: "correction").count == 1)
        #expect(discrepancies.contains("<td data-column=\"correction\">—</td>"))
        #expect(try s.engine.corrections().isEmpty)
    }

    /// October finalized on Oct 25 (c: 100 tokens inside its commit; h: 100 tokens, 1.00), then
    /// late on Oct 26: h +1.00 (tokens) and +6.00 (3 GPUs); c past its commit: 10.00 of the commit
    /// then 5.00 due.
    static func lateAcrossCustomers() throws -> Store {
        let s = try Store()
        try s.ingest(
            [
                ("c", "inference", "2026-10-05", "\"tokens\": 100"),
                (Self.hostile, "inference", "2026-10-05", "\"tokens\": 100"),
            ],
            now: "2026-10-25T00:00:00Z")
        _ = try s.engine.finalize(now: Timestamp(parsing: "2026-10-25T00:00:00Z"), through: Day(parsing: "2026-11-01"))
        try s.ingest(
            [
                (Self.hostile, "inference", "2026-10-06", "\"tokens\": 100"),
                (Self.hostile, "gpu", "2026-10-06", "\"gpus\": 3"),
                ("c", "inference", "2026-10-07", "\"tokens\": 1400"),
            ], now: "2026-10-26T00:00:00Z")
        return s
    }

    @Test func discrepanciesSortByTheSizeOfTheDelta() throws {
        let s = try Self.lateAcrossCustomers()
        let page = try s.render("/discrepancies", now: "2026-10-26T00:00:00Z")
        let r = PageReader(page.body)
        let order = r.elements("tr", where: "data-line-item").map { "\($0["data-invoice"]!) \($0["data-line-item"]!)" }
        // |Δ total|: h gpu 6.00, c tok 5.00, h tok 1.00.
        #expect(order == ["h/2026-10-01 gpu", "k/2026-10-01 tok", "h/2026-10-01 tok"])
        #expect(
            r.elements("td", where: "data-column", is: "delta_total").map { $0["data-value"]! } == [
                "6.00", "5.00", "1.00", "12.00",
            ])
        let byInvoice = PageReader(
            try s.render("/discrepancies", [("sort", "invoice")], now: "2026-10-26T00:00:00Z").body)
        #expect(
            byInvoice.elements("tr", where: "data-line-item").map { $0["data-invoice"]! } == [
                "h/2026-10-01", "h/2026-10-01", "k/2026-10-01",
            ])
        #expect(page.body.contains("href=\"/discrepancies?sort=invoice\""))
        #expect(try s.render("/discrepancies", [("sort", "size")], now: Self.now).status == 400)
    }

    /// The correction column: the invoice's open proposal (id, kind, total), else the last one
    /// issued or rejected, with its status and day.
    @Test func correctionColumnShowsTheProposalOrTheLastActedOn() throws {
        // Proposed: h a 7.00 true-up, c (contract k) 5.00.
        let s = try Self.lateAcrossCustomers()
        func column(_ now: String) throws -> [String] {
            let page = PageReader(try s.render("/discrepancies", [("sort", "invoice")], now: now).body)
            let rows = page.elements("tr", where: "data-line-item").map {
                "\($0["data-invoice"]!) \($0["data-line-item"]!)"
            }
            let cells = page.elements("td", where: "data-column", is: "correction").map {
                "\($0["data-correction"] ?? "") \($0["data-kind"] ?? "") \($0["data-status"] ?? "") \($0["data-value"] ?? "")"
            }
            return zip(rows, cells).map { "\($0): \($1)" }
        }
        #expect(
            try column("2026-10-26T00:00:00Z") == [
                "h/2026-10-01 gpu: h/2026-10-01/c1 true_up proposed 7.00",
                "h/2026-10-01 tok: h/2026-10-01/c1 true_up proposed 7.00",
                "k/2026-10-01 tok: k/2026-10-01/c1 true_up proposed 5.00",
            ])
        let shown = try s.render("/discrepancies", now: "2026-10-26T00:00:00Z").body
        #expect(shown.contains("<code>k/2026-10-01/c1</code> true-up 5.00</td>"))
        #expect(!shown.contains("not proposed yet"))

        // k's c1 issued (its drift closes), then 100 more tokens (+1.00) proposed as c2, which a
        // threshold of 2.00 then withdraws: the row shows the issued c1. h's c1 rejected: shown so.
        _ = try s.engine.issueCorrection("k/2026-10-01/c1", now: Timestamp(parsing: "2026-10-27T00:00:00Z"))
        _ = try s.engine.rejectCorrection(
            "h/2026-10-01/c1", reason: "goodwill", now: Timestamp(parsing: "2026-10-27T01:00:00Z"))
        try s.ingest([("c", "inference", "2026-10-08", "\"tokens\": 100")], now: "2026-10-27T02:00:00Z")
        #expect(try column("2026-10-28T00:00:00Z").last == "k/2026-10-01 tok: k/2026-10-01/c2 true_up proposed 1.00")
        let threshold = String(decoding: Self.catalog, as: UTF8.self).replacingOccurrences(
            of: "\"finalization_grace_hours\": 24,",
            with: "\"finalization_grace_hours\": 24, \"correction_threshold\": \"2.00\",")
        try s.engine.applyCatalog(Array(threshold.utf8), now: Timestamp(parsing: "2026-10-27T03:00:00Z"))
        #expect(
            try column("2026-10-28T00:00:00Z") == [
                "h/2026-10-01 gpu: h/2026-10-01/c1 true_up rejected 7.00",
                "h/2026-10-01 tok: h/2026-10-01/c1 true_up rejected 7.00",
                "k/2026-10-01 tok: k/2026-10-01/c1 true_up issued 5.00",
            ])
        let acted = try s.render("/discrepancies", now: "2026-10-28T00:00:00Z").body
        #expect(acted.contains("<code>k/2026-10-01/c1</code> true-up 5.00 (issued 2026-10-27)</td>"))
        #expect(acted.contains("<code>h/2026-10-01/c1</code> true-up 7.00 (rejected 2026-10-27)</td>"))
    }

    @Test func errorPagesSayWhatToWrite() throws {
        let s = try Self.history()
        for (query, words) in [
            ([("from", "2026-13-01")], "write YYYY-MM-DD"), ([("from", "2026-10-10"), ("to", "2026-10-01")], "after"),
            ([("from", "2025-01-01"), ("to", "2027-01-02")], "at most 731 days"),
            ([("color", "red")], "unknown parameter"),
            ([("metric", "tokens")], "metric=quantity"),
        ] {
            let page = try s.render("/", query, now: Self.now)
            #expect(page.status == 400, "\(query)")
            #expect(page.body.contains(words), "\(query)")
            #expect(page.contentType.hasPrefix("text/html"))
        }
        // Jan 1, 2025 … Jan 1, 2027 is 365 + 365 + 1 = 731 days: still drawn.
        #expect(try s.render("/", [("from", "2025-01-01"), ("to", "2027-01-01")], now: Self.now).status == 200)
        #expect(try s.render("/customers/nobody", now: Self.now).status == 404)
        #expect(try s.render("/invoices/k%2F2026-10-02", now: Self.now).status == 404)
        #expect(try s.render("/invoices/nothing%2F2026-10-01", now: Self.now).status == 404)
        #expect(
            try s.render(
                "/invoices/k%2F2026-10-01/explain", [("line_item", "nope"), ("day", "2026-10-05")], now: Self.now
            ).status == 404)
        #expect(
            try Dashboard.render(path: "/nothing-here", query: [], engine: s.engine, now: Timestamp(parsing: Self.now))
                == nil)
    }

    @Test func hostileIdsAreEscapedAndPercentEncoded() throws {
        let s = try Self.history()
        try s.ingest([(Self.hostile, "inference", "2026-11-02", "\"tokens\": 700")], now: "2026-11-04T00:00:00Z")
        let encoded = "/customers/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%26%22%27"
        let page = try s.render(encoded, now: Self.now)
        #expect(page.status == 200)
        #expect(!page.body.contains("<script>") && !page.body.contains("<b>Hostile"))
        #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"))
        #expect(
            PageReader(page.body).elements("rect", where: "data-product", is: "tok").contains {
                $0["data-value"] == "7.00"
            })
        let list = try s.render("/customers", now: Self.now)
        #expect(!list.body.contains("<script>"))
        // The list links to the page by its percent-encoded id.
        #expect(PageReader(list.body).elements("a").contains { $0["href"] == encoded })
        #expect(PageReader(list.body).elements("tr", where: "data-customer", is: Self.hostile).count == 1)
    }
}
