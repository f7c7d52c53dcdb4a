import DaybookStore
import DaybookTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `daybook replay --into DIR [--as-of-seq N | --as-of TIME]` as a user runs it (issue 10).
@Suite("replay --into", .watchdog(seconds: 600))
struct ReplayIntoTests {
    /// The golden scenario, replayed: to the end, every read verb on the replay prints what it
    /// prints on the live store; to seq 0 (before any event), nothing is billed yet but the catalog
    /// is in force; bad usage is exit 2 with a message saying what to give.
    @Test func replayedStoresAnswerTheReadVerbsAndBadUsageIsExplained() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let now = try playGolden(cli)
        let end = cli.file("end").path
        let replay = try cli.run(["replay", "--into", end], now: now)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("log at seq 1957"), "\(replay.stdout)")
        for verb in [["invoices"], ["discrepancies", "--format", "json"], ["stats", "--format", "json"]] {
            let live = try cli.run(verb + ["--format", "json"], now: now)
            let replayed = try CLI.daybook(verb + ["--format", "json", "--data", end, "--now", now])
            #expect(live.status == 0 && replayed.status == 0, "\(verb): \(replayed.stderr)")
            if verb[0] != "stats" { #expect(replayed.stdout == live.stdout, "\(verb) on the replay") }
        }
        let zero = cli.file("zero").path
        #expect(try cli.run(["replay", "--as-of-seq", "0", "--into", zero], now: now).status == 0)
        let stats = try CLI.daybook(["stats", "--format", "json", "--data", zero, "--now", now])
        #expect(
            stats.stdout.contains("\"last_seq\": 0") && stats.stdout.contains("\"catalog_version\": 1"),
            "\(stats.stdout)")

        let usage: [([String], String)] = [
            (["replay", "--as-of-seq", "3"], "need --into DIR"),
            (
                ["replay", "--as-of-seq", "3", "--as-of", "2026-01-01T00:00:00Z", "--into", cli.file("x").path],
                "not both"
            ),
            (["replay", "--verify", "--into", cli.file("y").path], "takes no --into"),
            (["replay", "--into", end], "not an empty directory"),
            (["replay"], "replay needs a mode"),
            (["replay", "--as-of-seq", "1958", "--into", cli.file("z").path], "the log ends at seq 1957"),
        ]
        for (args, message) in usage {
            let r = try cli.run(args, now: now)
            #expect(r.status == 2 && r.stderr.contains(message), "\(args): exit \(r.status), \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.file("z").path), "a refused replay makes no directory")
    }

    /// SIGKILL in the middle of a replay leaves its directory marked incomplete: read verbs refuse
    /// it (exit 1) saying to run the replay again, and a new replay into a fresh directory finishes.
    @Test func aReplayKilledMidwayLeavesAStoreEveryVerbRefuses() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let now = "2026-11-01T00:00:00Z"
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "4", "--start", "2026-10-01", "--days", "30", "--events-per-day", "2000",
                "--out", usage,
            ]).status == 0)
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: now).status == 0)
        try #require(try cli.run(["ingest", usage], now: now).status == 0)

        let dir = cli.file("killed").path
        let replay = Process()
        replay.executableURL = CLI.binary
        replay.arguments = ["replay", "--into", dir, "--data", cli.store]
        replay.standardOutput = FileHandle.nullDevice
        replay.standardError = FileHandle.nullDevice
        try replay.run()
        // Killed once its store has taken writes (data.mdb past its first pages), marker still there.
        let started = waitUntil(seconds: 120) {
            var info = stat()
            return stat(dir + "/data.mdb", &info) == 0 && info.st_size > 2 << 20 || !replay.isRunning
        }
        kill(replay.processIdentifier, SIGKILL)
        replay.waitUntilExit()
        try #require(started && replay.terminationReason == .uncaughtSignal, "the replay was killed while it ran")
        #expect(FileManager.default.fileExists(atPath: dir + "/" + Store.incompleteMarker))
        for verb in [["invoices"], ["export", "--as-of", "2026-10-15", "--out", cli.file("out").path]] {
            let r = try CLI.daybook(verb + ["--data", dir, "--now", now])
            #expect(r.status == 1 && r.stderr.contains("unfinished replay"), "\(verb): \(r.status) \(r.stderr)")
        }
        let again = try cli.run(["replay", "--into", cli.file("again").path], now: now)
        #expect(again.status == 0, "\(again.stderr)")
        let check = try CLI.daybook(["replay", "--verify", "--data", cli.file("again").path])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    /// Plays the golden scenario into the CLI's store; returns the last clock.
    private func playGolden(_ cli: CLI) throws -> String {
        let g = CLI.goldenDirectory
        var now = "2026-01-01T00:00:00Z"
        try #require(
            try cli.run(["catalog", "apply", g.appendingPathComponent("catalog.json").path], now: now).status == 0)
        let script = try JSONSerialization.jsonObject(with: Data(contentsOf: g.appendingPathComponent("script.json")))
        for step in try #require(script as? [[String: String]]) {
            if let file = step["ingest"], let at = step["now"] {
                now = at
                try #require(try cli.run(["ingest", g.appendingPathComponent(file).path], now: now).status == 0)
            } else if let through = step["finalize_through"] {
                try #require(try cli.run(["finalize", "--through", through], now: now).status == 0)
            }
        }
        return now
    }
}
