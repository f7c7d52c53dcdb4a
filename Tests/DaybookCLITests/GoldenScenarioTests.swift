import DaybookTestSupport
import Foundation
import Testing

/// The golden scenario of `shared/examples/golden`: an independent implementation of the spec
/// produced `expected/`; our export must equal it byte for byte.
@Suite("Golden scenario", .watchdog(seconds: 600))
struct GoldenScenarioTests {
    struct Step: Decodable {
        var ingest: String?
        var now: String?
        var finalize_through: String?
    }

    @Test func exportEqualsExpectedFilesByteForByte() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let golden = CLI.goldenDirectory
        let apply = try cli.run(
            ["catalog", "apply", golden.appendingPathComponent("catalog.json").path], now: "2026-01-01T00:00:00Z")
        try #require(apply.status == 0, "\(apply.stderr)")
        let steps = try JSONDecoder().decode(
            [Step].self, from: Data(contentsOf: golden.appendingPathComponent("script.json")))
        var now = "2026-01-01T00:00:00Z"
        for step in steps {
            if let file = step.ingest, let stepNow = step.now {
                now = stepNow
                let r = try cli.run(["ingest", golden.appendingPathComponent(file).path, "--format", "json"], now: now)
                try #require(r.status == 0, "\(r.stderr)")
            } else if let through = step.finalize_through {
                let r = try cli.run(["finalize", "--through", through], now: now)
                try #require(r.status == 0, "\(r.stderr)")
            }
        }
        let out = cli.file("export").path
        let export = try cli.run(["export", "--as-of", "2026-11-25", "--out", out], now: now)
        try #require(export.status == 0, "\(export.stderr)")
        for name in ["invoices", "line_items", "balances"] {
            let expected = try String(
                contentsOf: golden.appendingPathComponent("expected/\(name).csv"), encoding: .utf8)
            let actual = try String(contentsOfFile: "\(out)/\(name).csv", encoding: .utf8)
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(e.count == a.count, "\(name).csv: \(a.count) lines, expected \(e.count)")
            if let i = e.indices.first(where: { $0 < a.count && e[$0] != a[$0] }) {
                Issue.record("\(name).csv line \(i + 1):\n expected \(e[i])\n actual   \(a[i])")
            }
            #expect(expected == actual, "\(name).csv differs")
        }

        // Discrepancies: exactly the records of expected/discrepancies.json, on the keys it lists.
        let disc = try cli.run(["discrepancies", "--format", "json"], now: now)
        try #require(disc.status == 0, "\(disc.stderr)")
        let want =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: golden.appendingPathComponent("expected/discrepancies.json")))
            as! [[String: Any]]
        let got = try JSONSerialization.jsonObject(with: Data(disc.stdout.utf8)) as! [[String: Any]]
        let keys = want.first.map { Array($0.keys).sorted() } ?? []
        func project(_ records: [[String: Any]]) -> [String] {
            records.map { r in keys.map { "\($0)=\(r[$0].map { "\($0)" } ?? "nil")" }.joined(separator: " ") }
        }
        #expect(want.count == 27)
        #expect(project(got) == project(want))
        // --customer filters; CSV has one row per record; `invoice show` adds up to the expected deltas.
        let globex = try cli.run(["discrepancies", "--customer", "globex", "--format", "json"], now: now)
        let globexRecords = try JSONSerialization.jsonObject(with: Data(globex.stdout.utf8)) as! [[String: Any]]
        #expect(globexRecords.count == want.filter { $0["customer_id"] as? String == "globex" }.count)
        #expect(globexRecords.allSatisfy { $0["customer_id"] as? String == "globex" })
        let csv = try cli.run(["discrepancies", "--format", "csv"], now: now)
        #expect(csv.stdout.split(separator: "\n").count == want.count + 1)
        let invoice = "acme-2026/2026-10-01"
        func cents(_ s: String) -> Int { Int(s.replacingOccurrences(of: ".", with: ""))! }
        let expectedDelta = want.filter { $0["invoice_id"] as? String == invoice }.map {
            cents($0["delta_total"] as! String)
        }.reduce(0, +)
        let show = try cli.run(["invoice", "show", invoice, "--format", "csv"], now: now)
        let totalRow = try #require(
            show.stdout.split(separator: "\n").last?.split(separator: ",", omittingEmptySubsequences: false))
        #expect(totalRow.first == "*")
        #expect(totalRow.last.map { cents(String($0)) } == expectedDelta)
        for record in got {
            let causes = record["causes"] as? [String: Any]
            #expect(causes?["late_transaction_ids"] is [String] && causes?["via_invoices"] is [String], "\(record)")
            #expect(record["first_detected_seq"] is Int && record["last_changed_seq"] is Int)
        }
    }
}
