import DaybookTestSupport
import Foundation
import Testing

/// Exit codes and messages of SPEC §7 through the built binary: 0 ok, 1 runtime error, 2 bad usage
/// or invalid input; a message names the path and what is wrong, never a raw Foundation error.
@Suite("daybook exit codes and messages", .watchdog(seconds: 600))
struct ExitCodeTests {
    /// A store with a catalog, ready for ingest.
    static func store(_ cli: CLI) throws {
        try #require(
            try cli.run(["catalog", "apply", try cli.write("catalog.json", CLITests.catalog)], now: "2026-10-01")
                .status == 0)
    }

    static func expectUsage(_ r: CLI.Result, _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2, "\(r.stderr)", sourceLocation: sourceLocation)
        for word in words { #expect(r.stderr.contains(word), "\(r.stderr)", sourceLocation: sourceLocation) }
        #expect(!r.stderr.contains("NSCocoaErrorDomain"), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(!r.stderr.contains("Error Domain"), "\(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func ingestingADirectoryIsBadUsageNamingIt() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        let dir = cli.file("events")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let r = try cli.run(["ingest", dir.path], now: "2026-10-02")
        Self.expectUsage(r, ["\(dir.path): is a directory, not a file of events"])
        // The same for a catalog.
        let catalog = try cli.run(["catalog", "apply", dir.path], now: "2026-10-02")
        Self.expectUsage(catalog, ["\(dir.path): is a directory, not a catalog file"])
    }

    @Test func exportIntoAnExistingFileIsBadUsageNamingIt() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        let file = try cli.write("taken", "not a directory\n")
        let r = try cli.run(["export", "--as-of", "2026-10-05", "--out", file])
        Self.expectUsage(r, ["--out \(file): exists and is not a directory"])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a directory\n")
        // A path under a file: the cause, from the system, named with the path.
        let under = file + "/sub"
        let nested = try cli.run(["export", "--as-of", "2026-10-05", "--out", under])
        Self.expectUsage(nested, ["--out \(under): cannot create the directory", "Not a directory"])
    }

    /// Options a verb does not use are still checked: `--now` was already; `$DAYBOOK_NOW` was not.
    @Test(arguments: [
        ["stats"], ["export", "--as-of", "2026-10-05", "--out", "OUT"], ["dead-letters"], ["unbilled"], ["rejections"],
        ["discrepancies"], ["generate", "--days", "1"], ["corrections"], ["corrections", "show", "k/2026-10-01/c1"],
    ])
    func aMalformedClockIsRejectedByVerbsThatIgnoreIt(_ arguments: [String]) throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        let verb = arguments.map { $0 == "OUT" ? cli.file("out").path : $0 }
        let flag = try cli.run(verb, now: "2026-13-45")
        Self.expectUsage(flag, ["'--now'"])
        let env = try cli.run(verb, environment: ["DAYBOOK_NOW": "yesterday"])
        Self.expectUsage(env, ["DAYBOOK_NOW: \"yesterday\""])
        #expect(env.stdout.isEmpty)
    }

    @Test(arguments: [
        (["ingest", "-", "--batch-size", "-5"], "--batch-size must be from 1 to 1000000, not -5"),
        (["ingest", "-", "--batch-size", "-0"], "--batch-size must be from 1 to 1000000, not 0"),
        (["generate", "--days", "-3"], "--days must be from 1 to 3660, not -3"),
        (["generate", "--events-per-day", "-1"], "--events-per-day must be from 0 to 10000000, not -1"),
        (["generate", "--seed", "-1"], "The value '-1' is invalid for '--seed <seed>'"),
        (["demo", "--seed", "-7"], "The value '-7' is invalid for '--seed <seed>'"),
    ])
    func aNegativeNumberIsReadAsTheOptionsValue(_ args: [String], _ message: String) throws {
        let r = try CLI.daybook(args)
        #expect(r.status == 2)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!r.stderr.contains("Missing value"), "\(r.stderr)")
    }

    /// A mistyped `--data` must not create an empty store and bill against the empty catalog.
    @Test(arguments: [["ingest", "-"], ["finalize"], ["finalize", "--through", "2026-10-31"]])
    func aWriteVerbRefusesAMissingStore(_ verb: [String]) throws {
        let cli = try CLI()
        defer { cli.remove() }
        let event =
            "{\"transaction_id\": \"t1\", \"customer_id\": \"c1\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-02T00:00:00Z\", \"properties\": {}}\n"
        let r = try cli.run(verb, now: "2026-10-03", stdin: Data(event.utf8))
        Self.expectUsage(r, ["no Daybook store at \(cli.store)", "daybook catalog apply FILE --data \(cli.store)"])
        #expect(!FileManager.default.fileExists(atPath: cli.store), "a store was created")
    }

    @Test func catalogApplyStillCreatesTheStoreAndIngestThenWorks() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        let event =
            "{\"transaction_id\": \"t1\", \"customer_id\": \"c1\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-02T00:00:00Z\", \"properties\": {\"model\": \"m\", \"tokens\": 5}}\n"
        let r = try cli.run(["ingest", "-", "--format", "json"], now: "2026-10-03", stdin: Data(event.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "{\"accepted\": 1, \"duplicates\": 0, \"dead_lettered\": 0, \"metric_rejections\": 0}\n")
        #expect(try cli.run(["finalize"], now: "2026-10-03").status == 0)
    }
}
