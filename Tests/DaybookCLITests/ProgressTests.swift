import DaybookTestSupport
import Foundation
import Testing

/// `ingest --progress`: a progress line on a terminal, nothing in a pipe or with `--format json`.
@Suite("Ingest progress line", .watchdog(seconds: 600))
struct ProgressTests {
    @Test func progressShowsOnATerminalAndStaysQuietInPipesAndJSON() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run(["generate", "--seed", "2", "--days", "5", "--events-per-day", "100", "--out", usage]).status
                == 0)
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-10-06").status == 0)
        let piped = try cli.run(["ingest", usage, "--progress", "--batch-size", "200"], now: "2026-10-06")
        #expect(piped.status == 0)
        #expect(piped.stderr.isEmpty, "quiet when standard error is a pipe: \(piped.stderr)")
        // util-linux `script` gives the child a terminal; standard output goes to /dev/null.
        func onTerminal(_ extra: String) throws -> String {
            let command =
                "'\(CLI.binary.path)' ingest '\(usage)' --progress --batch-size 200 --data '\(cli.store)' --now 2026-10-06 \(extra) 2>&1 >/dev/null"
            let result = try CLI.execute(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command, "/dev/null"])
            #expect(result.status == 0, "\(result.stdout)")
            return result.stdout
        }
        let shown = try onTerminal("--format table")
        let lines = shown.split(separator: "\r").filter { $0.contains("records/s") }
        #expect(lines.count >= 2, "one rewritten line per committed batch: \(shown)")
        #expect(lines.last?.contains("records 100%") == true, "\(shown)")
        #expect(lines.last?.contains("duplicates") == true)
        let json = try onTerminal("--format json")
        #expect(!json.contains("records/s"), "quiet with --format json: \(json)")
    }
}
