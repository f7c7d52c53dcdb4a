import DaybookTestSupport
import Foundation
import Testing

/// `daybook export --changed-since SEQ [--since-as-of DATE]` into files (issue 10 item 5).
@Suite(.watchdog(seconds: 600)) struct ChangedSinceCLITests {
    /// NDJSON export files of `dir` by table, each row by its key columns.
    static func tables(_ dir: URL) throws -> [String: [[String]: [String: String]]] {
        let keys = [
            "invoices": ["invoice_id", "day"], "line_items": ["invoice_id", "line_item_id", "day"],
            "balances": ["balance_id", "day"],
        ]
        var out: [String: [[String]: [String: String]]] = [:]
        for (name, key) in keys {
            out[name] = [:]
            for row in try objects(dir.appendingPathComponent("\(name).ndjson")) {
                out[name]![key.map { row[$0] ?? "" }] = row
            }
        }
        return out
    }

    static func objects(_ file: URL) throws -> [[String: String]] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])
        }
    }

    static func lastSeq(_ cli: CLI) throws -> String {
        let stats = try cli.run(["stats", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        return "\(try #require(object["last_seq"] as? Int))"
    }

    /// The files of the export made at seq S, updated with the changed rows and `deleted.ndjson`
    /// of `--changed-since S`, equal the files of a full export — with the date moved forward,
    /// and moved back (the rows of the days left are deleted).
    @Test func changedFilesUpdateTheEarlierExportToTheFullOne() throws {
        let cli = try CLI()
        defer { cli.remove() }
        for (seed, days, name) in [("5", "10", "a.ndjson"), ("6", "15", "b.ndjson")] {
            let gen = try cli.run([
                "generate", "--seed", seed, "--start", "2026-10-01", "--days", days, "--events-per-day", "30",
                "--out", cli.file(name).path,
            ])
            try #require(gen.status == 0, "\(gen.stderr)")
        }
        try #require(
            try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-10-01T00:00:00Z").status == 0)
        try #require(try cli.run(["ingest", cli.file("a.ndjson").path], now: "2026-10-11T00:00:00Z").status == 0)
        let seq = try Self.lastSeq(cli)
        let first = try cli.run(["export", "--as-of", "2026-10-11", "--out", cli.file("e0").path, "--format", "ndjson"])
        try #require(first.status == 0, "\(first.stderr)")
        // The second file reaches back to Oct 1: late events into the days already exported.
        try #require(try cli.run(["ingest", cli.file("b.ndjson").path], now: "2026-10-16T00:00:00Z").status == 0)

        for (asOf, dir) in [("2026-10-16", "forward"), ("2026-10-08", "back")] {
            let full = try cli.run([
                "export", "--as-of", asOf, "--out", cli.file("full-\(dir)").path, "--format", "ndjson",
            ])
            try #require(full.status == 0, "\(full.stderr)")
            let delta = try cli.run([
                "export", "--as-of", asOf, "--out", cli.file(dir).path, "--format", "ndjson",
                "--changed-since", seq, "--since-as-of", "2026-10-11",
            ])
            try #require(delta.status == 0, "\(delta.stderr)")
            #expect(delta.stdout.contains("changed since seq \(seq)"))
            var merged = try Self.tables(cli.file("e0"))
            for (name, rows) in try Self.tables(cli.file(dir)) {
                for (key, row) in rows { merged[name]![key] = row }
            }
            let keys = [
                "invoices": ["invoice_id", "day"], "line_items": ["invoice_id", "line_item_id", "day"],
                "balances": ["balance_id", "day"],
            ]
            let deleted = try Self.objects(cli.file("\(dir)/deleted.ndjson"))
            for object in deleted {
                let table = try #require(object["table"])
                let key = try #require(keys[table]).map { object[$0] ?? "" }
                #expect(object.count == key.count + 1, "deleted.ndjson holds the table and the key columns only")
                merged[table]![key] = nil
            }
            let expected = try Self.tables(cli.file("full-\(dir)"))
            #expect(merged == expected, "export as of \(asOf): e0 + changed files ≠ full export")
            if dir == "back" {
                // Oct 8, 9, 10 were in e0 and are not any more.
                #expect(deleted.contains { $0["table"] == "invoices" && $0["day"] == "2026-10-10" })
                #expect(!deleted.contains { ($0["day"] ?? "") < "2026-10-08" })
            }
        }

        // Bad usage: exit 2, saying what to do.
        let beyond = try cli.run([
            "export", "--as-of", "2026-10-16", "--out", cli.file("x").path, "--changed-since", "99999999",
        ])
        #expect(beyond.status == 2 && beyond.stderr.contains("the log ends at seq"))
        let alone = try cli.run([
            "export", "--as-of", "2026-10-16", "--out", cli.file("y").path, "--since-as-of", "2026-10-11",
        ])
        #expect(alone.status == 2 && alone.stderr.contains("--changed-since"))
    }
}
