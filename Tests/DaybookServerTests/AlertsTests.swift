import DaybookTestSupport
import Foundation
import Testing

/// Balance alerts on a running `daybook serve` (issue 11): `GET /v1/alerts`, `daybook alerts`
/// and `daybook_balance_days_left`, re-evaluated from the live state at each request, so a
/// backdated batch moves them with nothing else run.
@Suite("Balance alerts", .watchdog(seconds: 600))
struct AlertsTests {
    /// Customer `neo`, contract `neo-k` from 2026-09-01 (monthly), tokens at a flat 0.01 (1,000
    /// tokens bill 10.00), a GPU product nobody uses. Balances, in draw order: `neo-welcome`, a
    /// 5.00 credit of Sept 1–9; `neo-gpu`, a 100.00 credit for GPUs only (nothing draws from
    /// it); `neo-commit`, a 1,000.00 commit for a year.
    static func catalog(gpuCredit: Bool = true) -> String {
        let gpu =
            gpuCredit
            ? #"{"id": "neo-gpu", "type": "credit", "amount": "100.00", "starts": "2026-09-01", "ends": "2027-09-01", "products": ["gpu"], "priority": 0},"#
            : ""
        return """
            {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 100,
             "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens"},
                         {"id": "gpus", "event_type": "gpu", "aggregation": "max", "property": "gpus"}],
             "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}, {"id": "gpu", "name": "GPUs", "metric": "gpus"}],
             "rate_cards": [{"id": "r", "rates": [{"product": "tok", "unit_price": "0.01"}, {"product": "gpu", "unit_price": "50"}]}],
             "customers": [{"id": "neo", "name": "Neo", "contracts": [{"id": "neo-k", "rate_card": "r",
               "starts": "2026-09-01", "ends": null, "balances": [
                 {"id": "neo-welcome", "type": "credit", "amount": "5.00", "starts": "2026-09-01", "ends": "2026-09-10", "products": null, "priority": 0},
                 \(gpu)
                 {"id": "neo-commit", "type": "commit", "amount": "1000.00", "starts": "2026-09-01", "ends": "2027-09-01", "products": null, "priority": 1}]}]}]}
            """
    }

    static func event(_ id: String, _ day: String, tokens: Int) -> String {
        #"{"transaction_id": "\#(id)", "customer_id": "neo", "event_type": "inference", "timestamp": "\#(day)T12:00:00Z", "properties": {"tokens": \#(tokens)}}"#
    }

    static func days(_ from: String, count: Int) -> [String] {
        let start = ISO8601DateFormatter().date(from: from + "T00:00:00Z")!
        let format = DateFormatter()
        format.dateFormat = "yyyy-MM-dd"
        format.timeZone = TimeZone(identifier: "UTC")
        return (0..<count).map { format.string(from: start.addingTimeInterval(Double($0) * 86_400)) }
    }

    /// Before (clock 2026-10-21): 10.00 a day on Sept 1 – Oct 20 (50 days, 500.00); the welcome
    /// credit paid the first 5.00, the commit 495.00: 505.00 left, 70.00 drawn on Oct 14–20,
    /// 10.00 a day: 50 × 10 = 500 < 505, so 51 days (Dec 11), outside the 30-day window. The
    /// backdated batch: 30.00 more on each of Oct 14–20 (current period) and 5 × 20.00 on
    /// Sept 25 (finalized): the commit has drawn 495 + 210 + 100 = 805.00, 195.00 left, at
    /// (70 + 210) / 7 = 40.00 a day: 4 × 40 = 160 < 195 ≤ 200, so 5 days: Oct 26.
    @Test func aBackdatedBatchPullsTheExhaustionForwardAndTheAlertAppears() throws {
        let scratch = try Scratch()
        let store = scratch.store
        let catalog = try scratch.write("catalog.json", Self.catalog())
        try Daybook.ok(["catalog", "apply", catalog, "--data", store, "--now", "2026-09-01"])
        let september = Self.days("2026-09-01", count: 30).enumerated().map { Self.event("s\($0)", $1, tokens: 1_000) }
        let october = Self.days("2026-10-01", count: 20).enumerated().map { Self.event("o\($0)", $1, tokens: 1_000) }
        // September arrives before its invoice is due, October with the clock of the test.
        try Daybook.ok(
            [
                "ingest", try scratch.write("sep.ndjson", september.joined(separator: "\n")), "--data", store, "--now",
                "2026-10-01T12:00:00Z",
            ])
        try Daybook.ok(
            [
                "ingest", try scratch.write("oct.ndjson", october.joined(separator: "\n")), "--data", store, "--now",
                Fixture.now,
            ])
        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()

        func alerts(_ query: String = "") throws -> [[String: String]] {
            let response = try http.get("/v1/alerts" + query)
            try #require(response.status == 200, "\(response.text)")
            return try #require(response.json as? [[String: String]], "\(response.text)")
        }
        func daysLeft() throws -> [String: Any] {
            let response = try http.get("/metrics")
            try #require(response.status == 200)
            return try Prometheus.parse(response.text, scratch).filter { $0.key.contains("daybook_balance_days_left") }
        }
        func number(_ sample: Any?) -> Double? { (sample as? NSNumber)?.doubleValue }
        func cli(_ args: [String]) throws -> String {
            try Daybook.ok(["alerts"] + args + ["--data", store, "--now", Fixture.now])
        }

        #expect(try alerts().isEmpty, "51 days left: outside the default 30")
        let wide = try alerts("?within=51")
        #expect(wide.map { $0["balance_id"] } == ["neo-commit"])
        #expect(wide.first?["remaining"] == "505.00")
        #expect(wide.first?["days_left"] == "51")
        #expect(wide.first?["exhausts_on"] == "2026-12-11")
        #expect(try alerts("?within=50").isEmpty)
        #expect(try http.get("/v1/alerts?within=51").text == (try cli(["--within", "51", "--format", "json"])))
        let before = try daysLeft()
        #expect(number(before["daybook_balance_days_left{balance_id=neo-commit}"]) == 51)
        #expect(before["daybook_balance_days_left{balance_id=neo-gpu}"] as? String == "+Inf", "active, nothing draws")
        #expect(before["daybook_balance_days_left{balance_id=neo-welcome}"] == nil, "ended: no sample")
        #expect(before["#type daybook_balance_days_left"] as? String == "gauge")

        let backdated =
            Self.days("2026-10-14", count: 7).enumerated().map { Self.event("late-o\($0)", $1, tokens: 3_000) }
            + (1...5).map { Self.event("late-s\($0)", "2026-09-25", tokens: 2_000) }
        let response = try http.ingest(Fixture.array(backdated))
        try #require(response.status == 200, "\(response.text)")
        try #require(Fixture.count(response, "accepted") == 12, "\(response.text)")

        let now = try alerts()
        #expect(now.map { $0["balance_id"] } == ["neo-commit"], "listed with nothing else run")
        let row = try #require(now.first)
        #expect(row["status"] == "running_out")
        #expect(row["remaining"] == "195.00")
        #expect(row["daily_run_rate"] == "40.00")
        #expect(row["run_rate_days"] == "7")
        #expect(row["days_left"] == "5")
        #expect(row["exhausts_on"] == "2026-10-26")
        #expect(row["amount"] == "1000.00" && row["type"] == "commit" && row["customer_id"] == "neo")
        #expect(row["contract_id"] == "neo-k" && row["ends"] == "2027-09-01" && row["exhausted_on"] == "")
        #expect(number(try daysLeft()["daybook_balance_days_left{balance_id=neo-commit}"]) == 5)

        // The CLI on the same store prints the same bytes, and its other formats the same row.
        #expect(try http.get("/v1/alerts").text == (try cli(["--format", "json"])))
        #expect(try http.get("/v1/alerts?customer=neo").text == (try cli(["--customer", "neo", "--format", "json"])))
        let csv = try cli(["--format", "csv"]).split(separator: "\n").map(String.init)
        #expect(
            csv.first == "balance_id,customer_id,contract_id,type,status,amount,remaining,daily_run_rate,"
                + "run_rate_days,days_left,exhausts_on,exhausted_on,ends")
        #expect(
            csv.dropFirst() == [
                "neo-commit,neo,neo-k,commit,running_out,1000.00,195.00,40.00,7,5,2026-10-26,,2027-09-01"
            ])
        #expect(try cli(["--within", "4", "--format", "table"]).hasPrefix("no alerts"))

        // Refusals: the API's and the CLI's.
        #expect(try http.get("/v1/alerts?within=0").status == 400)
        #expect(try http.get("/v1/alerts?within=soon").errorMessage?.contains("within") == true)
        #expect(try http.get("/v1/alerts?withn=3").errorMessage?.contains("unknown query parameter") == true)
        #expect(try http.get("/v1/alerts?customer=nobody").status == 404)
        #expect(try Daybook.run(["alerts", "--within", "0", "--data", store]).status == 2)
        #expect(try Daybook.run(["alerts", "--customer", "nobody", "--data", store, "--now", Fixture.now]).status == 2)

        // A balance that leaves the catalog loses its sample at the next scrape.
        let v2 = try scratch.write("catalog-2.json", Self.catalog(gpuCredit: false))
        try Daybook.ok(["catalog", "apply", v2, "--data", store, "--now", Fixture.now])
        let after = try daysLeft()
        #expect(after["daybook_balance_days_left{balance_id=neo-gpu}"] == nil)
        #expect(number(after["daybook_balance_days_left{balance_id=neo-commit}"]) == 5)
    }
}
