import DaybookTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard in a real browser: Debian's `chromium`, headless, against a real `daybook serve`
/// on the demo store. Each page must load without a console message, draw its charts, and carry
/// the numbers the JSON read API of the same server gives.
@Suite("dashboard through daybook serve and headless Chromium", .serialized, .watchdog(seconds: 600))
struct BrowserTests {
    /// The demo's last clock (`daybook demo`: the backfill of Nov 3).
    static let now = "2026-11-03T09:00:00Z"

    /// What Chromium printed for one page.
    struct Load {
        var dom: String
        var stderr: String
        /// Console messages and uncaught errors: Chromium logs them as `INFO:CONSOLE…` lines.
        var consoleLines: [String] { stderr.split(separator: "\n").filter { $0.contains("CONSOLE") }.map(String.init) }
    }

    /// `chromium --headless --dump-dom URL` with a profile of its own, killed after `seconds`
    /// and on every other path.
    static func load(_ url: String, seconds: Int = 90) throws -> Load {
        let binary = ["/usr/bin/chromium", "/usr/local/bin/chromium"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let binary else {
            throw ServeFailure(message: "chromium is not installed: run tools/setup (it installs Debian's chromium)")
        }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "daybook-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--user-data-dir=\(profile.path)", "--no-first-run", "--dump-dom", url,
        ]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        let stdout = LineCounter(out.fileHandleForReading)
        let stderr = LineCounter(err.fileHandleForReading)
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let exited = waitUntil(seconds: seconds) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            throw ServeFailure(message: "chromium did not finish \(url) within \(seconds) s; stderr: \(stderr.text)")
        }
        _ = stdout.waitForEnd(seconds: 10)
        _ = stderr.waitForEnd(seconds: 10)
        try #require(process.terminationStatus == 0, "chromium exit \(process.terminationStatus): \(stderr.text)")
        return Load(dom: stdout.text, stderr: stderr.text)
    }

    /// GET `path` of the server as JSON.
    static func json(_ server: ServeProcess, _ path: String) throws -> Any {
        let connection = try server.connect()
        defer { connection.close() }
        let response = try connection.get(path)
        try #require(response.status == 200, "GET \(path): \(response.status) \(response.text)")
        return try #require(response.json, "GET \(path) is not JSON")
    }

    @Test func everyPageLoadsWithoutConsoleMessagesAndCarriesTheAPIsNumbers() throws {
        let scratch = try Scratch()
        try Daybook.ok(["demo", "--dir", scratch.store])
        let server = try ServeProcess(store: scratch.store, now: Self.now)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"

        func page(_ path: String, charts: Int) throws -> PageReader {
            let load = try Self.load(base + path)
            #expect(load.consoleLines.isEmpty, "\(path): \(load.consoleLines)")
            #expect(load.dom.contains("</main>"), "\(path) did not render: \(load.dom.prefix(300))")
            let reader = PageReader(load.dom)
            #expect(reader.elements("svg", where: "role", is: "img").count == charts, "\(path)")
            return reader
        }

        // The customer: bars = /v1/customers spend subtotals, lines = its balances' closings.
        let customer = try #require(try Self.json(server, "/v1/customers/acme") as? [String: Any])
        let spend = try #require(customer["spend"] as? [[String: String]])
        var subtotal: [String: String] = [:]
        for row in spend { subtotal["\(row["product_id"]!) \(row["day"]!)"] = row["subtotal"] }
        let c = try page("/customers/acme?from=2026-10-01&to=2026-11-03", charts: 1)
        let bars = c.elements("rect", where: "data-product")
        #expect(bars.count == 34 * Set(spend.map { $0["product_id"]! }).count)
        for bar in bars {
            let key = "\(bar["data-product"]!) \(bar["data-day"]!)"
            // The API lists the line items of each invoice: a product an invoice lacks spent nothing.
            #expect(bar["data-value"] == subtotal[key] ?? "0.00", "\(key)")
        }
        let balances = try #require(customer["balances"] as? [[String: String]])
        var closing: [String: String] = [:]
        for row in balances { closing["\(row["balance_id"]!) \(row["day"]!)"] = row["closing"] }
        let points = c.elements("circle", where: "data-balance")
        #expect(!points.isEmpty)
        for p in points { #expect(p["data-value"] == closing["\(p["data-balance"]!) \(p["data-day"]!)"]) }

        // Revenue: per product and day, the sum over every customer's /v1/customers spend.
        let invoices = try #require(try Self.json(server, "/v1/invoices") as? [[String: String]])
        var revenue: [String: Int] = [:]  // cents: the demo's currency has 2 decimals
        for id in Set(invoices.map { $0["customer_id"]! }) {
            let c = try #require(try Self.json(server, "/v1/customers/\(id)") as? [String: Any])
            for row in try #require(c["spend"] as? [[String: String]]) {
                revenue["\(row["product_id"]!) \(row["day"]!)", default: 0] += Self.cents(row["subtotal"]!)
            }
        }
        let r = try page("/?from=2026-10-01&to=2026-11-03", charts: 1)
        let marks = r.elements("circle", where: "data-product")
        #expect(!marks.isEmpty)
        for m in marks {
            let key = "\(m["data-product"]!) \(m["data-day"]!)"
            #expect(Self.cents(m["data-value"]!) == revenue[key] ?? 0, "\(key)")
        }
        #expect(r.titles.contains { $0.hasSuffix(" USD") && $0.contains("2026-10-05") })
        _ = try page(
            "/?from=2026-10-01&to=2026-11-03&metric=quantity", charts: r.elements("tr", where: "data-product").count - 1
        )
        _ = try page("/", charts: 1)
        let list = try page("/customers", charts: 0)
        // The example catalog's customers: acme, globex and initech (which has no contract, so no invoice).
        #expect(
            list.elements("tr", where: "data-customer").map { $0["data-customer"]! } == ["acme", "globex", "initech"])
        #expect(Set(invoices.map { $0["customer_id"]! }).isSubset(of: ["acme", "globex", "initech"]))

        // The invoice: heat-map cells = /v1/invoices/{id}/breakdown subtotals.
        let id = "acme-2026%2F2026-10-01"
        let breakdown = try #require(try Self.json(server, "/v1/invoices/\(id)/breakdown") as? [[String: String]])
        var cells: [String: String] = [:]
        for row in breakdown where row["line_item_id"] != "*" {
            cells["\(row["line_item_id"]!) \(row["day"]!)"] = row["subtotal"]
        }
        let load = try Self.load(base + "/invoices/\(id)")
        #expect(load.consoleLines.isEmpty)
        var shown: [String: String] = [:]
        // The DOM keeps one element per line: read each heat-map row by its line item.
        let heat = load.dom.components(separatedBy: "<table class=\"heat\">").dropFirst().first ?? ""
        for chunk in heat.components(separatedBy: "</table>")[0].components(separatedBy: "<tr data-line-item=\"")
            .dropFirst()
        {
            let item = PageReader.unescape(String(chunk.prefix { $0 != "\"" }))
            for cell in PageReader(String(chunk.components(separatedBy: "</tr>")[0])).elements("td", where: "data-day")
            {
                shown["\(item) \(cell["data-day"]!)"] = cell["data-value"]
            }
        }
        #expect(shown == cells)
        #expect(load.dom.contains("data-value=\"finalized\""))

        // Drift: each row's delta = /v1/discrepancies; the invoice's drifted rows link to explain.
        let drift = try #require(try Self.json(server, "/v1/discrepancies") as? [[String: Any]])
        #expect(!drift.isEmpty)
        let d = try page("/discrepancies", charts: 0)
        let rows = d.elements("tr", where: "data-line-item")
        #expect(rows.count == drift.count)
        let deltas = d.elements("td", where: "data-column", is: "delta_total").dropLast().map { $0["data-value"]! }
        var expected: [String: String] = [:]
        for row in drift { expected["\(row["invoice_id"]!) \(row["line_item_id"]!)"] = row["delta_total"] as? String }
        for (row, delta) in zip(rows, deltas) {
            #expect(expected["\(row["data-invoice"]!) \(row["data-line-item"]!)"] == delta)
        }
        // The correction column: the row's invoice's open proposal of /v1/corrections, its id and
        // summed total_delta (cents), or "—" (the demo issues and rejects nothing).
        var proposals: [String: (id: String, cents: Int)] = [:]
        for row in try #require(try Self.json(server, "/v1/corrections") as? [[String: String]]) {
            proposals[row["invoice_id"]!, default: (row["correction_id"]!, 0)].cents += Self.cents(row["total_delta"]!)
        }
        let correctionCells = d.elements("td", where: "data-column", is: "correction").map { cell in
            cell["data-correction"].map { "\($0) \(Self.cents(cell["data-value"]!))" } ?? "none"
        }
        #expect(
            correctionCells
                == rows.map { row in proposals[row["data-invoice"]!].map { "\($0.id) \($0.cents)" } ?? "none" })
        let explain = try #require(PageReader(load.dom).elements("a", where: "class", is: "explain").first?["href"])
        let e = try page(explain, charts: 0)
        let query = explain.split(separator: "?")[1].split(separator: "&").map {
            $0.split(separator: "=", maxSplits: 1)
        }
        let item = try #require(query.first { $0[0] == "line_item" }.map { String($0[1]).removingPercentEncoding! })
        let day = try #require(query.first { $0[0] == "day" }.map { String($0[1]) })
        let stored = e.elements("tr", where: "data-field", is: "subtotal")
        #expect(stored.count == 1)
        let subtotalCells = e.elements("td", where: "data-column", is: "stored")
        #expect(subtotalCells.count == 5 && subtotalCells[1]["data-value"] == cells["\(item) \(day)"])
    }

    /// The page routes of `serve` itself: HTML with the right status, HEAD, the bearer token,
    /// and the JSON routes left as they were.
    @Test func pageRoutesAnswerHTMLBehindTheToken() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let tokens = try scratch.write("tokens", "s3cret\n")
        let server = try ServeProcess(store: store, ["--token-file", tokens], now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()
        let auth = [("Authorization", "Bearer s3cret")]
        #expect(try http.get("/").status == 401)
        let home = try http.send("GET", "/", headers: auth)
        #expect(home.status == 200 && home.headers["content-type"] == "text/html; charset=utf-8")
        #expect(home.text.contains("<svg") || home.text.contains("Nothing was billed"))
        let head = try http.send("HEAD", "/", headers: auth)
        #expect(
            head.status == 200 && head.body.isEmpty && head.headers["content-length"] == home.headers["content-length"])
        for (path, status) in [
            ("/customers/nobody", 404), ("/invoices/acme-2026%2F2026-10-02", 404), ("/?from=yesterday", 400),
            ("/discrepancies?sort=size", 400), ("/customers/acme", 200), ("/invoices/acme-2026/2026-10-01", 200),
            ("/dashboard.css", 200),
        ] {
            let r = try http.send("GET", path, headers: auth)
            #expect(r.status == status, "\(path): \(r.status)")
            #expect(
                r.headers["content-type"]?.hasPrefix(path.hasSuffix(".css") ? "text/css" : "text/html") == true,
                "\(path)")
        }
        #expect(try http.send("POST", "/", headers: auth).status == 405)
        // The JSON routes are unchanged: an unknown one is still a JSON 404.
        let unknown = try http.send("GET", "/v1/nothing", headers: auth)
        #expect(unknown.status == 404 && unknown.errorMessage?.contains("no route") == true)
        #expect(try http.send("GET", "/v1/invoices", headers: auth).json is [Any])
    }

    /// `daybook demo --serve`: the demo, then the dashboard on its store with the demo's clock,
    /// the URL printed, until SIGTERM (exit 0).
    @Test func demoServePrintsTheDashboardURLAndServesWithTheDemoClock() throws {
        let scratch = try Scratch()
        let process = Process()
        process.executableURL = Daybook.binary
        process.arguments = ["demo", "--dir", scratch.store, "--serve", "--port", "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        let stdout = LineCounter(out.fileHandleForReading)
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        var line: String?
        let listening = waitUntil(seconds: 120) {
            line = stdout.lines.withLock { $0.first { $0.hasPrefix("Dashboard: ") } }
            return line != nil || !process.isRunning
        }
        let address = try #require(listening ? line : nil, "no Dashboard line: \(stdout.text)")
        // "Dashboard: http://127.0.0.1:PORT/  (as of …)"
        let port = try #require(
            address.split(separator: " ")[1].split(separator: ":").last.flatMap { Int($0.dropLast()) })
        #expect(address.hasPrefix("Dashboard: http://127.0.0.1:\(port)/"))
        // The demo's report came first.
        #expect(stdout.contains("Discrepancies"))
        let http = try HTTPConnection(port: port, timeout: 30)
        let page = try http.get("/discrepancies")
        #expect(page.status == 200)
        #expect(page.text.contains("as of 2026-11-03T09:00:00Z"))
        #expect(PageReader(page.text).elements("tr", where: "data-line-item").count > 0)
        http.close()
        kill(process.processIdentifier, SIGTERM)
        #expect(waitUntil(seconds: 60) { !process.isRunning })
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// "12.34" as 1234.
    static func cents(_ text: String) -> Int {
        let negative = text.hasPrefix("-")
        let parts = text.dropFirst(negative ? 1 : 0).split(separator: ".")
        let value =
            Int(parts[0])! * 100
            + (parts.count > 1 ? Int(parts[1].padding(toLength: 2, withPad: "0", startingAt: 0))! : 0)
        return negative ? -value : value
    }
}
