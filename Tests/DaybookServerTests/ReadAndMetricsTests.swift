import DaybookCore
import DaybookTestSupport
import Foundation
import Testing

/// The read API and `/metrics` (SPEC §7).
@Suite("Read API and metrics", .watchdog(seconds: 600))
struct ReadAndMetricsTests {
    /// A store with finalized September invoices, October usage and drift: September is
    /// finalized by the first ingest (the clock is in October), then late September usage
    /// arrives over HTTP.
    static func driftedStore(_ scratch: Scratch) throws -> (store: String, server: ServeProcess) {
        let store = try Fixture.store(scratch)
        let (path, _) = try Fixture.events(scratch, perDay: 20)
        try Daybook.ok(["ingest", path, "--data", store, "--now", Fixture.now])
        let server = try ServeProcess(store: store, now: Fixture.now)
        let late = (1...30).map { i in
            #"{"transaction_id": "late-\#(i)", "customer_id": "\#(["acme", "globex"][i % 2])", "event_type": "inference", "timestamp": "2026-09-\#(17 + i % 13)T12:00:00Z", "properties": {"model": "model-a", "tokens": \#(100_000 * i), "region": "us"}}"#
        }
        let response = try server.connect().ingest(Fixture.array(late))
        try #require(response.status == 200, "\(response.text)")
        try #require(Fixture.count(response, "accepted") == 30, "\(response.text)")
        return (store, server)
    }

    /// Every read route returns exactly the bytes the matching CLI verb prints with `--format json`.
    @Test func readRoutesReturnTheCLIJSON() throws {
        let scratch = try Scratch()
        let (store, server) = try Self.driftedStore(scratch)
        defer { server.stop() }
        let http = try server.connect()
        func cli(_ args: [String]) throws -> String {
            try Daybook.ok(args + ["--format", "json", "--data", store, "--now", Fixture.now])
        }
        let invoices = try cli(["invoices"])
        let drift = try cli(["discrepancies"])
        #expect(drift.contains("acme-2026/2026-09-01"), "the late events drifted September: \(drift.prefix(300))")
        let pairs: [(String, String)] = [
            ("/v1/invoices", invoices),
            ("/v1/invoices?customer=globex", try cli(["invoices", "--customer", "globex"])),
            (
                "/v1/invoices/acme-2026%2F2026-10-01/breakdown",
                try cli(["breakdown", "--invoice", "acme-2026/2026-10-01"])
            ),
            (
                "/v1/invoices/acme-2026/2026-09-01/breakdown",
                try cli(["breakdown", "--invoice", "acme-2026/2026-09-01"])
            ),
            ("/v1/discrepancies", drift),
            ("/v1/discrepancies?customer=acme", try cli(["discrepancies", "--customer", "acme"])),
            (
                "/v1/discrepancies?invoice=globex-1%2F2026-09-15",
                try cli(["discrepancies", "--invoice", "globex-1/2026-09-15"])
            ),
            ("/v1/discrepancies?history=true", try cli(["discrepancies", "--history"])),
        ]
        for (path, expected) in pairs {
            let response = try http.get(path)
            #expect(response.status == 200, "\(path): \(response.text)")
            #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
            #expect(response.text == expected, "\(path) differs from the CLI's --format json")
        }
        // Corrections against the drift, another path: with no threshold and nothing acted on, each
        // invoice whose open drift sums to non-zero has one proposal totalling that sum.
        let proposals = try #require(try http.get("/v1/corrections").json as? [[String: String]])
        let driftRows = try #require(try http.get("/v1/discrepancies").json as? [[String: Any]])
        var driftSums: [String: FixedDecimal] = [:], proposed: [String: FixedDecimal] = [:]
        for row in driftRows {
            let invoice = try #require(row["invoice_id"] as? String)
            let delta = try #require(FixedDecimal(row["delta_total"] as? String ?? ""))
            driftSums[invoice] = (driftSums[invoice] ?? .zero) + delta
        }
        for row in proposals {
            let invoice = try #require(row["invoice_id"])
            #expect(row["status"] == "proposed" && row["correction_id"] == invoice + "/c1", "\(row)")
            proposed[invoice] = (proposed[invoice] ?? .zero) + (try #require(FixedDecimal(row["total_delta"] ?? "")))
        }
        #expect(!proposed.isEmpty, "the late globex usage is past its credit: its September total moved")
        #expect(proposed == driftSums.filter { !$0.value.isZero })

        let missing = try http.get("/v1/invoices/nobody%2F2026-10-01/breakdown")
        #expect(missing.status == 404)
        #expect(missing.errorMessage?.contains("no invoice") == true)
        #expect(try http.get("/v1/invoices?now=2026-11-01").status == 400, "the clock is the server's")
        #expect(try http.get("/v1/invoices?custommer=acme").errorMessage?.contains("unknown query parameter") == true)
        #expect(try http.get("/v1/customers/nobody").status == 404)
    }

    /// `/v1/customers/{id}`: spend per day and product summing to the customer's invoice totals of
    /// the day, and its balances per day, as the export has them.
    @Test func customerSpendAddsUpToTheExport() throws {
        let scratch = try Scratch()
        let (store, server) = try Self.driftedStore(scratch)
        defer { server.stop() }
        let response = try server.connect().get("/v1/customers/acme")
        #expect(response.status == 200, "\(response.text)")
        let object = try #require(response.json as? [String: Any])
        #expect(object["customer_id"] as? String == "acme")
        #expect(object["through"] as? String == "2026-10-21")
        let spend = try #require(object["spend"] as? [[String: String]])
        let balances = try #require(object["balances"] as? [[String: String]])
        #expect(!spend.isEmpty && !balances.isEmpty)
        let export = try Daybook.export(store, asOf: "2026-10-22", now: Fixture.now, into: scratch.path("export"))
        // invoices.csv: invoice_id,customer_id,contract_id,period_start,period_end,day,status,currency,subtotal,credits_applied,commits_applied,total
        // Per day: (subtotal, commits_applied, total) of acme's invoices, and of its spend rows.
        typealias Sums = [String: [FixedDecimal]]
        func add(_ sums: inout Sums, _ day: String, _ values: [String]) {
            let old = sums[day] ?? [.zero, .zero, .zero]
            sums[day] = zip(old, values).map { $0 + FixedDecimal($1)! }
        }
        var expected: Sums = [:]
        for row in try #require(export["invoices.csv"]).split(separator: "\n").dropFirst() {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if cells[1] == "acme" { add(&expected, cells[5], [cells[8], cells[10], cells[11]]) }
        }
        var got: Sums = [:]
        for row in spend {
            add(&got, try #require(row["day"]), [row["subtotal"]!, row["commits_applied"]!, row["total"]!])
        }
        #expect(got.count == expected.count)
        #expect(got == expected, "spend per day sums to acme's invoice amounts of the day")
        #expect(got.values.contains { !$0[0].isZero }, "acme has usage")
        let exportedBalances = try #require(export["balances.csv"]).split(separator: "\n").filter {
            $0.contains(",acme,")
        }
        #expect(balances.count == exportedBalances.count)
        #expect(spend.map { $0["day"]! } == spend.map { $0["day"]! }.sorted())
    }

    /// `/metrics` parses as Prometheus text with the reference parser (prometheus-client), has
    /// the metrics of the spec, and agrees with `daybook stats`.
    @Test func metricsParseAndAgreeWithStats() throws {
        let scratch = try Scratch()
        let (store, server) = try Self.driftedStore(scratch)
        defer { server.stop() }
        let http = try server.connect()
        // A duplicate and a dead letter over HTTP too.
        let again = try http.ingest(
            Array(
                #"[{"transaction_id": "late-1", "customer_id": "acme", "event_type": "inference", "timestamp": "2026-09-18T12:00:00Z"}, {"nope": }]"#
                    .utf8))
        #expect(Fixture.count(again, "duplicates") == 1)
        let response = try http.get("/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
        let samples = try Prometheus.parse(response.text, scratch)
        func value(_ key: String) -> Double? { (samples[key] as? NSNumber)?.doubleValue }
        func type(_ name: String) -> String? { samples["#type " + name] as? String }

        let stats = try Daybook.stats(store)
        #expect(value("daybook_events_total{outcome=accepted}") == Double(stats["events"]!))
        #expect(value("daybook_events_total{outcome=duplicate}") == Double(stats["duplicates"]!))
        #expect(value("daybook_events_total{outcome=dead_lettered}") == Double(stats["dead_letters"]!))
        #expect(value("daybook_metric_rejections_total") == Double(stats["metric_rejections"]!))
        #expect(value("daybook_log_last_seq") == Double(stats["last_seq"]!))
        #expect(value("daybook_recompute_line_item_days_total") == Double(stats["line_item_days_evaluated"]!))
        #expect(stats["events"]! > 1000, "counters start from the store, not from zero")
        #expect(type("daybook_events") == "counter")
        #expect(type("daybook_batch_commit_seconds") == "histogram")
        #expect(
            value("daybook_batch_commit_seconds_count") == 2, "one observation per write transaction of this server")
        #expect((value("daybook_batch_commit_seconds_sum") ?? 0) > 0)
        #expect(value("daybook_source_lag{source=http}") == 0, "nothing in flight")
        #expect((value("daybook_open_drift_invoices") ?? 0) >= 2, "acme's and globex's September drifted")
        #expect(value("daybook_writer_batches_total") == 2)
        #expect(value("daybook_http_requests_total{route=/v1/ingest,status=200}") == 2)
    }
}
