import DaybookCore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Testing

@Suite("daybook CLI end to end", .watchdog(seconds: 600))
struct CLITests {
    static let catalog = """
        {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 34,
         "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens", "group_by": ["model"]},
                     {"id": "gb", "event_type": "storage", "aggregation": "max", "property": "gb"}],
         "products": [{"id": "tok", "name": "Tokens, all models", "metric": "tokens"}, {"id": "disk", "name": "Disk", "metric": "gb"}],
         "rate_cards": [{"id": "r", "rates": [{"product": "tok", "unit_price": "0.01"}, {"product": "disk", "unit_price": "2"}]}],
         "customers": [{"id": "c1", "name": "C1", "contracts": [{"id": "k1", "rate_card": "r", "starts": "2026-10-01", "ends": null}]}]}
        """

    func event(_ id: String, _ ts: String, _ props: String, type: String = "inference", customer: String = "c1")
        -> String
    {
        "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"\(type)\", \"timestamp\": \"\(ts)\", \"properties\": {\(props)}}"
    }

    @Test func badInputIsAccountedForLineByLine() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try #require(
            try cli.run(["catalog", "apply", try cli.write("catalog.json", Self.catalog)], now: "2026-10-01T00:00:00Z")
                .status == 0)
        let lines = [
            event("ok-1", "2026-10-02T10:00:00Z", "\"model\": \"a\", \"tokens\": 100"),  // accepted
            "{\"transaction_id\": \"broken\", \"customer_id\": ",  // malformed JSON
            "{\"customer_id\": \"c1\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-02T10:00:00Z\"}",  // missing field
            event("bad-ts", "2026-10-02 10:00:00Z", "\"tokens\": 1"),  // bad timestamp
            event(String(repeating: "x", count: 200), "2026-10-02T10:00:00Z", "\"tokens\": 1"),  // oversized id
            event("neg", "2026-10-02T11:00:00Z", "\"model\": \"a\", \"tokens\": -5"),  // accepted, rejected by metric
            event("nan", "2026-10-02T12:00:00Z", "\"model\": \"a\", \"tokens\": \"many\""),  // accepted, rejected by metric
            "",  // blank: skipped, not counted
            event("ok-1", "2026-10-03T10:00:00Z", "\"model\": \"b\", \"tokens\": 999"),  // duplicate id
            event("old", "2026-08-01T10:00:00Z", "\"tokens\": 1"),  // too late
            event("future", "2026-10-12T10:00:00Z", "\"tokens\": 1"),  // in future
            event("ok-2", "2026-10-03T10:00:00Z", "\"gb\": 7", type: "storage"),  // accepted
        ]
        let file = try cli.write("events.ndjson", lines.joined(separator: "\n") + "\r\n")
        let r = try cli.run(["ingest", file, "--format", "json"], now: "2026-10-10T00:00:00Z")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "{\"accepted\": 4, \"duplicates\": 1, \"dead_lettered\": 6, \"metric_rejections\": 2}\n")

        let dead = try cli.run(["dead-letters", "--format", "csv"])
        let rows = dead.stdout.split(separator: "\n").dropFirst().map(String.init)
        let positionsAndReasons = rows.map { row -> String in
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            return "\(f[2]) \(f[3])"
        }
        #expect(
            positionsAndReasons == [
                "line 2 malformed_json", "line 3 missing_field", "line 4 invalid_timestamp",
                "line 5 limit_exceeded", "line 10 too_late", "line 11 in_future",
            ])
        let rejections = try cli.run(["rejections", "--format", "csv"])
        #expect(rejections.stdout.contains("neg,tokens,negative"))
        #expect(rejections.stdout.contains("nan,tokens,non_numeric"))

        // The valid ones are billed: 100 tokens × 0.01 = 1.00 on Oct 2; max 7 GB × 2 = 14.00 on Oct 3.
        let b = try cli.run(
            ["breakdown", "--invoice", "k1/2026-10-01", "--format", "csv"], now: "2026-10-10T00:00:00Z")
        #expect(b.stdout.contains("2026-10-02,tok{model=a},100,0.01,1.00,0.00,0.00,1.00"))
        #expect(b.stdout.contains("2026-10-03,disk,7,2,14.00,0.00,0.00,14.00"))
    }

    @Test func reingestingIsIdempotentAndExportsAreByteIdentical() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let gen = try cli.run([
            "generate", "--seed", "5", "--start", "2026-10-01", "--days", "20", "--events-per-day", "40",
            "--out", cli.file("usage.ndjson").path,
        ])
        try #require(gen.status == 0, "\(gen.stderr)")
        try #require(
            try cli.run(
                ["catalog", "apply", try cli.exampleCatalog()],
                now: "2026-10-01T00:00:00Z"
            ).status == 0)
        let now = "2026-10-21T00:00:00Z"
        let first = try cli.run(["ingest", cli.file("usage.ndjson").path, "--format", "json"], now: now)
        try #require(first.status == 0, "\(first.stderr)")
        let accepted = try #require(
            Int(first.stdout.split(separator: ",")[0].split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
        #expect(accepted > 1000)
        try #require(
            try cli.run(["export", "--as-of", "2026-10-21", "--out", cli.file("a").path], now: now).status == 0)
        try #require(
            try cli.run(["export", "--as-of", "2026-10-21", "--out", cli.file("b").path], now: now).status == 0)

        let second = try cli.run(["ingest", cli.file("usage.ndjson").path, "--format", "json"], now: now)
        let lines = try String(contentsOf: cli.file("usage.ndjson"), encoding: .utf8).split(separator: "\n").count
        let deadFirst = try #require(
            Int(first.stdout.split(separator: ",")[2].split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
        // Every record that was accepted or a duplicate the first time is a duplicate now; invalid ones are invalid again.
        #expect(
            second.stdout
                == "{\"accepted\": 0, \"duplicates\": \(lines - deadFirst), \"dead_lettered\": \(deadFirst), \"metric_rejections\": 0}\n"
        )
        try #require(
            try cli.run(["export", "--as-of", "2026-10-21", "--out", cli.file("c").path], now: now).status == 0)
        for name in ["invoices", "line_items", "balances"] {
            let a = try Data(contentsOf: cli.file("a/\(name).csv"))
            #expect(a == (try Data(contentsOf: cli.file("b/\(name).csv"))), "\(name) differs between two exports")
            #expect(a == (try Data(contentsOf: cli.file("c/\(name).csv"))), "\(name) changed after re-ingesting")
        }
        // A fresh store fed the same inputs produces the same bytes.
        let other = try CLI()
        defer { other.remove() }
        try #require(
            try other.run(
                ["catalog", "apply", try cli.exampleCatalog()],
                now: "2026-10-01T00:00:00Z"
            ).status == 0)
        try #require(
            try other.run(["ingest", "-"], now: now, stdin: try Data(contentsOf: cli.file("usage.ndjson"))).status == 0)
        try #require(
            try other.run(["export", "--as-of", "2026-10-21", "--out", other.file("d").path], now: now).status == 0)
        for name in ["invoices", "line_items", "balances"] {
            #expect(try Data(contentsOf: cli.file("a/\(name).csv")) == Data(contentsOf: other.file("d/\(name).csv")))
        }
    }

    @Test func exportRowsAddUpToInvoiceTotals() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try #require(
            try cli.run([
                "generate", "--seed", "9", "--start", "2026-09-20", "--days", "40", "--events-per-day", "30",
                "--out", cli.file("usage.ndjson").path,
            ]).status == 0)
        try #require(
            try cli.run(
                ["catalog", "apply", try cli.exampleCatalog()],
                now: "2026-09-20T00:00:00Z"
            ).status == 0)
        let now = "2026-10-30T00:00:00Z"
        try #require(try cli.run(["ingest", cli.file("usage.ndjson").path], now: now).status == 0)
        // As of a date after every period shown, so each invoice's days are all exported.
        try #require(
            try cli.run(["export", "--as-of", "2026-11-15", "--out", cli.file("x").path], now: now).status == 0)
        func table(_ name: String) throws -> [[String]] {
            try String(contentsOf: cli.file("x/\(name).csv"), encoding: .utf8).split(separator: "\n").dropFirst()
                .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        }
        func cents(_ s: String) -> Int { Int(s.replacingOccurrences(of: ".", with: ""))! }
        let invoices = try table("invoices"), items = try table("line_items")
        #expect(invoices.count > 300)
        // invoice_id,customer_id,line_item_id,product_id,product_name,group_values,day,quantity,unit_price,subtotal,credits,commits,total
        var byInvoiceDay: [String: [Int]] = [:]
        var byInvoice: [String: [Int]] = [:]
        for r in items {
            let v = [cents(r[9]), cents(r[10]), cents(r[11]), cents(r[12])]
            byInvoiceDay[r[0] + " " + r[6], default: [0, 0, 0, 0]] = zip(
                byInvoiceDay[r[0] + " " + r[6]] ?? [0, 0, 0, 0], v
            ).map(+)
            byInvoice[r[0], default: [0, 0, 0, 0]] = zip(byInvoice[r[0]] ?? [0, 0, 0, 0], v).map(+)
        }
        for r in invoices {
            #expect(byInvoiceDay[r[0] + " " + r[5]] == [cents(r[8]), cents(r[9]), cents(r[10]), cents(r[11])], "\(r)")
        }
        // Period totals shown by `daybook invoices` (invoices that have begun by `now`).
        let list = try cli.run(["invoices", "--format", "csv"], now: now)
        let summaries = list.stdout.split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        #expect(summaries.count >= 12)
        for s in summaries {
            // invoice_id,customer_id,period_start,period_end,status,finalized_at,open_drift,line_items,subtotal,credits,commits,total
            #expect(byInvoice[s[0]] == [cents(s[8]), cents(s[9]), cents(s[10]), cents(s[11])], "\(s)")
        }
    }

    @Test func generateStreamsTheLinesOfTheInMemoryAPI() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let args = ["generate", "--seed", "4", "--start", "2026-09-29", "--days", "40", "--events-per-day", "100"]
        let streamed = try CLI.daybook(args)
        #expect(streamed.status == 0, "\(streamed.stderr)")
        #expect(streamed.stdout.utf8.count > 1 << 20)
        var g = WorkloadGenerator(start: Day(year: 2026, month: 9, day: 29)!)
        g.seed = 4
        g.days = 40
        g.eventsPerDay = 100
        let lines = g.lines()
        #expect(streamed.stdout == lines.joined(separator: "\n") + "\n")
        // Day by day: every day once, in order, and the same lines.
        let arrivals = g.arrivals()
        #expect(arrivals.map(\.day) == (0..<40).map { g.start.adding(days: $0) })
        #expect(arrivals.flatMap(\.lines) == lines)
        #expect(Array(g.dailyArrivals()).map(\.lines) == arrivals.map(\.lines))
        // Backdated records (new lines dated before the day they arrive) and duplicates (repeats).
        func date(_ line: String) -> Day? {
            guard let r = line.range(of: "\"timestamp\": \"") else { return nil }
            return Day(parsing: String(line[r.upperBound...].prefix(10)))
        }
        var seen: Set<String> = []
        var backdated = 0, repeated = 0
        for arrival in arrivals {
            for line in arrival.lines {
                if !seen.insert(line).inserted {
                    repeated += 1
                } else if let d = date(line), d < arrival.day {
                    backdated += 1
                    #expect(d >= g.start)
                }
            }
        }
        #expect(backdated > 0)
        #expect(repeated > 0)
        // --out writes the same bytes.
        let file = cli.file("usage.ndjson")
        #expect(try CLI.daybook(args + ["--out", file.path]).status == 0)
        #expect(try Data(contentsOf: file) == Data(streamed.stdout.utf8))
        // An empty workload is one empty line, as it has always been.
        let empty = try CLI.daybook(["generate", "--days", "3", "--events-per-day", "0"])
        #expect(empty.stdout == "\n")
        g.eventsPerDay = 0
        g.days = 3
        #expect(g.arrivals().map(\.lines.count) == [0, 0, 0])
    }

    @Test func replayVerifyHasBothSpellingsAndLeavesNoScratchDirectory() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-10-01").status == 0)
        let usage = try cli.run(["generate", "--days", "5", "--events-per-day", "20"]).stdout
        try #require(try cli.run(["ingest", "-"], now: "2026-10-06", stdin: Data(usage.utf8)).status == 0)
        // The scratch store goes under $TMPDIR; after each run that directory is empty again.
        let tmp = cli.file("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let environment = ["TMPDIR": tmp.path]
        func leftovers() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: tmp.path) }

        let flag = try cli.run(["replay", "--verify"], environment: environment)
        #expect(flag.status == 0, "\(flag.stderr)")
        #expect(flag.stdout.hasPrefix("verified"))
        #expect(try leftovers() == [])
        let subcommand = try cli.run(["replay", "verify"], environment: environment)
        #expect(subcommand.status == 0, "\(subcommand.stderr)")
        #expect(subcommand.stdout == flag.stdout)
        #expect(try leftovers() == [])
        // --data before the mode reaches it too.
        let before = try CLI.daybook(["replay", "--data", cli.store, "verify"], environment: environment)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(try leftovers() == [])

        let noMode = try cli.run(["replay"], environment: environment)
        #expect(noMode.status == 2)
        #expect(noMode.stderr.contains("replay verify") && noMode.stderr.contains("--verify"), "\(noMode.stderr)")
        let noStore = try CLI.daybook(["replay", "verify", "--data", cli.file("none").path], environment: environment)
        #expect(noStore.status == 2)
        #expect(noStore.stderr.contains("no Daybook store"))
        #expect(try leftovers() == [])
        // No scratch directory can be made: a runtime error, exit 1, saying where.
        let missing = cli.file("missing-tmp").path
        let noScratch = try cli.run(["replay", "verify"], environment: ["TMPDIR": missing])
        #expect(noScratch.status == 1)
        #expect(noScratch.stderr.contains("cannot create a scratch directory \(missing)/daybook-verify-"))
    }

    @Test func errorsNameTheProblemAndMapToExitCodes() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let bad = try cli.write(
            "bad.json", Self.catalog.replacingOccurrences(of: "\"rate_card\": \"r\"", with: "\"rate_card\": \"zzz\""))
        let r = try cli.run(["catalog", "apply", bad])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.json"))
        #expect(r.stderr.contains("$.customers[0].contracts[0].rate_card: unknown rate card \"zzz\""))
        #expect(try cli.run(["ingest", cli.file("missing.ndjson").path]).status == 2)
        #expect(try cli.run(["no-such-verb"]).status == 2)
        #expect(try cli.run(["invoices"], now: "not a time").status == 2)
        try #require(
            try cli.run(["catalog", "apply", try cli.write("c.json", Self.catalog)], now: "2026-10-01T00:00:00Z").status
                == 0)
        let unknown = try cli.run(["breakdown", "--invoice", "k1/2026-01-01"], now: "2026-10-05T00:00:00Z")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no invoice"))
        let unclosed = try cli.run(["ingest", try cli.write("a.json", "[{\"a\": 1},")], now: "2026-10-05T00:00:00Z")
        #expect(unclosed.status == 2)
        #expect(unclosed.stderr.contains("not closed"))
    }

    @Test func ingestsAJSONArray() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try #require(
            try cli.run(["catalog", "apply", try cli.write("c.json", Self.catalog)], now: "2026-10-01T00:00:00Z").status
                == 0)
        let array =
            "[\n "
            + [
                event("a1", "2026-10-02T01:00:00Z", "\"model\": \"m\", \"tokens\": 3"), "{\"bad\": [1, 2]}",
                event("a2", "2026-10-02T02:00:00Z", "\"model\": \"m\", \"tokens\": 4"),
            ].joined(separator: ",\n ") + "\n]\n"
        let r = try cli.run(
            ["ingest", try cli.write("a.json", array), "--format", "json"], now: "2026-10-05T00:00:00Z")
        #expect(r.stdout == "{\"accepted\": 2, \"duplicates\": 0, \"dead_lettered\": 1, \"metric_rejections\": 0}\n")
        let dead = try cli.run(["dead-letters", "--format", "csv"])
        #expect(dead.stdout.contains("element 2 (line 3),missing_field"))
    }
}

/// Help and usage errors: what a person sees before anything runs.
@Suite("daybook CLI usage", .watchdog(seconds: 600))
struct CLIUsageTests {
    /// Every verb and subverb, as typed after `daybook`.
    static let verbs: [[String]] = [
        ["catalog"], ["catalog", "apply"], ["ingest"], ["finalize"], ["invoices"], ["invoice"], ["invoice", "show"],
        ["breakdown"], ["export"], ["discrepancies"], ["explain"], ["alerts"], ["unbilled"], ["dead-letters"],
        ["rejections"], ["stats"], ["replay"], ["replay", "verify"], ["generate"], ["demo"], ["corrections"],
        ["corrections", "list"], ["corrections", "show"], ["corrections", "issue"], ["corrections", "reject"],
    ]

    @Test(arguments: verbs) func verbHelpIsUsageOnStdoutAndExitZero(_ verb: [String]) throws {
        let r = try CLI.daybook(verb + ["--help"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("USAGE: daybook \(verb.joined(separator: " "))"), "\(r.stdout)")
        #expect(r.stderr.isEmpty)
        // `daybook help VERB` is the same text.
        let viaHelp = try CLI.daybook(["help"] + verb)
        #expect(viaHelp.status == 0)
        #expect(viaHelp.stdout == r.stdout)
    }

    @Test(arguments: [["--help"], ["help"], ["-h"]]) func rootHelpListsTheVerbs(_ args: [String]) throws {
        let r = try CLI.daybook(args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("USAGE: daybook <subcommand>"))
        for verb in Self.verbs where verb.count == 1 { #expect(r.stdout.contains("  \(verb[0]) "), "\(verb[0])") }
        #expect(r.stderr.isEmpty)
    }

    /// What each verb reads: its help lists `--data` only if it opens the store and `--now` only if
    /// it reads the clock.
    @Test(arguments: [
        (["catalog", "apply"], true, true), (["ingest"], true, true), (["finalize"], true, true),
        (["invoices"], true, true), (["invoice", "show"], true, true), (["breakdown"], true, true),
        (["discrepancies"], true, false), (["explain"], true, false), (["alerts"], true, true),
        (["export"], true, false), (["unbilled"], true, false), (["dead-letters"], true, false),
        (["rejections"], true, false), (["stats"], true, false), (["replay"], true, false),
        (["replay", "verify"], true, false), (["generate"], false, false), (["demo"], false, false),
        (["corrections", "list"], true, false), (["corrections", "show"], true, false),
        (["corrections", "issue"], true, true), (["corrections", "reject"], true, true),
    ])
    func helpListsOnlyTheGlobalOptionsAVerbReads(_ verb: [String], _ data: Bool, _ now: Bool) throws {
        let help = try CLI.daybook(verb + ["--help"]).stdout
        #expect(help.contains("--data <dir>") == data, "\(help)")
        #expect(help.contains("--now <time>") == now, "\(help)")
    }

    @Test func globalOptionsAVerbIgnoresAreStillAccepted() throws {
        // SPEC §7: --data and --now are accepted on every verb, even where they change nothing.
        let cli = try CLI()
        defer { cli.remove() }
        let plain = try CLI.daybook(["generate", "--days", "2", "--events-per-day", "5"])
        let withGlobals = try cli.run(["generate", "--days", "2", "--events-per-day", "5"], now: "2026-10-01")
        #expect(withGlobals.status == 0, "\(withGlobals.stderr)")
        #expect(!plain.stdout.isEmpty)
        #expect(withGlobals.stdout == plain.stdout)
        // ... and still checked.
        let bad = try cli.run(["generate", "--days", "2"], now: "soon")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("is invalid for '--now"), "\(bad.stderr)")
    }

    @Test func exportFormatIsCsvOrNdjson() throws {
        let r = try CLI.daybook(["export", "--as-of", "2026-10-01", "--out", "x", "--format", "json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("'--format <format>'"), "\(r.stderr)")
        #expect(r.stderr.contains("ndjson"))
        #expect(try CLI.daybook(["export", "--help"]).stdout.contains("csv, ndjson"))
    }

    @Test(arguments: [
        (["invoices", "--now", "not a time"], "--now"),
        (["invoices", "--now", "2026-10-05T24:00:00Z"], "--now"),
        (["export", "--now", "2026-10-05 10:00:00Z", "--as-of", "2026-10-05", "--out", "x"], "--now"),
        (["finalize", "--through", "2026-13-01"], "--through"),
        (["export", "--as-of", "2026-02-30", "--out", "x"], "--as-of"),
        (["generate", "--start", "20261001"], "--start"),
    ])
    func badDatesAndTimesAreUsageErrorsNamingTheOption(_ args: [String], _ option: String) throws {
        let r = try CLI.daybook(args)
        #expect(r.status == 2)
        #expect(r.stderr.contains("is invalid for '\(option)"), "\(r.stderr)")
        #expect(r.stderr.contains("Usage: daybook \(args[0])"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func theClockIsNowThenDaybookNow() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try #require(
            try cli.run(["catalog", "apply", try cli.write("c.json", CLITests.catalog)], now: "2026-10-01").status == 0)
        // An event more than 1 day after the ingest time is dead-lettered (SPEC §1): one stamped
        // 1 ms after Oct 6 00:00 is in the future at Oct 5 midnight UTC, and not 1 ms later.
        var n = 0
        func ingest(now: String?, environment: [String: String]? = nil) throws -> String {
            n += 1
            let event = CLITests().event("t\(n)", "2026-10-06T00:00:00.001Z", "\"model\": \"m\", \"tokens\": 1")
            let r = try cli.run(
                ["ingest", "-", "--format", "json"], now: now, stdin: Data(event.utf8), environment: environment)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout
        }
        let accepted = "{\"accepted\": 1, \"duplicates\": 0, \"dead_lettered\": 0, \"metric_rejections\": 0}\n"
        let inFuture = "{\"accepted\": 0, \"duplicates\": 0, \"dead_lettered\": 1, \"metric_rejections\": 0}\n"
        #expect(try ingest(now: "2026-10-05") == inFuture)
        #expect(try ingest(now: "2026-10-05T00:00:00.001Z") == accepted)
        #expect(try ingest(now: "2026-10-04T20:00:00.001-04:00") == accepted)
        #expect(try ingest(now: nil, environment: ["DAYBOOK_NOW": "2026-10-05"]) == inFuture)
        #expect(try ingest(now: nil, environment: ["DAYBOOK_NOW": "2026-10-05T00:00:00.001+00:00"]) == accepted)
        // --now wins over DAYBOOK_NOW.
        #expect(try ingest(now: "2026-10-05T12:00:00Z", environment: ["DAYBOOK_NOW": "2026-10-05"]) == accepted)

        // A bad DAYBOOK_NOW is bad usage, whatever the verb would have done first.
        let list = ["invoices", "--format", "csv"]
        let bad = try cli.run(list, environment: ["DAYBOOK_NOW": "yesterday"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("DAYBOOK_NOW: \"yesterday\""), "\(bad.stderr)")
        #expect(bad.stdout.isEmpty)
        let badElsewhere = try CLI.daybook(
            ["invoices", "--data", cli.file("no-store").path], environment: ["DAYBOOK_NOW": "yesterday"])
        #expect(badElsewhere.status == 2)
        #expect(badElsewhere.stderr.contains("DAYBOOK_NOW"), "\(badElsewhere.stderr)")
    }

    @Test(arguments: [
        (["ingest", "-", "--batch-size", "0"], "--batch-size must be from 1 to 1000000"),
        (["ingest", "-", "--batch-size", "1000001"], "--batch-size must be from 1 to 1000000"),
        (["generate", "--days", "0"], "--days must be from 1 to 3660"),
        (["generate", "--days", "3661"], "--days must be from 1 to 3660"),
        (["generate", "--events-per-day=-1"], "--events-per-day must be from 0 to 10000000"),
        (["generate", "--events-per-day", "10000001"], "--events-per-day must be from 0 to 10000000"),
        (["generate", "--customers", ""], "--customers: each id must be 1 to 128 bytes"),
        (["generate", "--customers", "acme,,globex"], "--customers: each id must be 1 to 128 bytes"),
        (
            ["generate", "--customers", String(repeating: "c", count: 129)],
            "--customers: each id must be 1 to 128 bytes"
        ),
        (["generate", "--customers", "acme,acme"], "--customers: \"acme\" is listed twice"),
        (["generate", "--customers", "a\"b"], "holds a quote, a backslash or a control character"),
    ])
    func outOfRangeOptionsAreUsageErrorsSayingTheRange(_ args: [String], _ message: String) throws {
        let r = try CLI.daybook(args)
        #expect(r.status == 2)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.contains("Usage: daybook \(args[0])"))
        #expect(r.stdout.isEmpty)
    }

    @Test func rangeBoundsAreAccepted() throws {
        let r = try CLI.daybook(["generate", "--days", "1", "--events-per-day", "0", "--customers", "a"])
        #expect(r.status == 0, "\(r.stderr)")
        let one = try CLI.daybook(["generate", "--days", "3660", "--events-per-day", "0", "--customers", "a"])
        #expect(one.status == 0, "\(one.stderr)")
    }

    @Test func unknownVerbsAndOptionsAreUsageErrors() throws {
        let verb = try CLI.daybook(["no-such-verb"])
        #expect(verb.status == 2)
        #expect(verb.stderr.contains("no-such-verb"))
        #expect(verb.stdout.isEmpty)
        let option = try CLI.daybook(["stats", "--no-such-option"])
        #expect(option.status == 2)
        #expect(option.stderr.contains("--no-such-option"))
        #expect(option.stderr.contains("Usage: daybook stats"))
    }
}
