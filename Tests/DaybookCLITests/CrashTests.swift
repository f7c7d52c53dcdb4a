import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Kills `daybook ingest` with SIGKILL in the middle of a run, then checks that every
/// acknowledged batch is in the store, that the store still equals a rebuild from its log, and
/// that finishing the ingest gives exactly what an uninterrupted run gives.
@Suite("Crash safety", .watchdog(seconds: 600))
struct CrashTests {
    @Test(arguments: [3, 11])
    func sigkillDuringIngestLosesNothingAcknowledged(killAfterBatches: Int) throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "\(killAfterBatches)", "--start", "2026-10-01", "--days", "30",
                "--events-per-day", "60", "--out", usage,
            ]).status == 0)
        let catalog = try cli.exampleCatalog()
        let now = "2026-10-31T00:00:00Z"
        try #require(try cli.run(["catalog", "apply", catalog], now: "2026-10-01T00:00:00Z").status == 0)

        // Start the ingest with small batches and read its acknowledgments as they come.
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = [
            "ingest", usage, "--batch-size", "300", "--report-commits", "--data", cli.store, "--now", now,
        ]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        var acknowledged: [String] = []
        var buffer = Data()
        while acknowledged.count < killAfterBatches {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // the process ended before we killed it
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 0x0A) {
                acknowledged.append(String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...nl)
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the ingest finished before it could be killed")
        try #require(acknowledged.count >= killAfterBatches, "\(acknowledged)")

        // Every event of every acknowledged batch is in the log.
        let lastLine = try #require(
            acknowledged.last.flatMap { $0.split(separator: " ").dropFirst(3).first }.flatMap { Int($0.dropLast()) })
        let lines = try String(contentsOfFile: usage, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        var checked = 0
        do {
            let engine = try Engine(path: cli.store)
            for line in lines.prefix(lastLine) {
                // Valid events within max_lateness_days (34) of the clock are accepted (or were already).
                guard case .success(let event) = UsageEvent.parse(Array(line.utf8)[...]),
                    event.timestamp >= (try Timestamp(parsing: "2026-09-27T00:00:00Z"))
                else { continue }
                #expect(
                    try engine.isLogged(transactionID: event.transactionID),
                    "acknowledged event \(event.transactionID) lost")
                checked += 1
            }
        }
        #expect(checked > 100)

        // The store opens, and equals a rebuild from its log.
        let verify = try cli.run(["replay", "--verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

        // Finishing the ingest gives byte-identical exports to an uninterrupted run.
        try #require(try cli.run(["ingest", usage], now: now).status == 0)
        try #require(
            try cli.run(["export", "--as-of", "2026-10-31", "--out", cli.file("after-crash").path], now: now).status
                == 0)
        let clean = try CLI()
        defer { clean.remove() }
        try #require(try clean.run(["catalog", "apply", catalog], now: "2026-10-01T00:00:00Z").status == 0)
        try #require(try clean.run(["ingest", usage], now: now).status == 0)
        try #require(
            try clean.run(["export", "--as-of", "2026-10-31", "--out", clean.file("clean").path], now: now).status == 0)
        for name in ["invoices", "line_items", "balances"] {
            #expect(
                try Data(contentsOf: cli.file("after-crash/\(name).csv"))
                    == Data(contentsOf: clean.file("clean/\(name).csv")),
                "\(name).csv differs from an uninterrupted run")
        }
        let a = try cli.run(["stats", "--format", "json"]).stdout,
            b = try clean.run(["stats", "--format", "json"]).stdout
        func field(_ s: String, _ key: String) -> String? {
            s.split(separator: ",").first { $0.contains("\"\(key)\"") }.map { String($0.split(separator: ":")[1]) }
        }
        #expect(field(a, "events") == field(b, "events"), "accepted events differ: \(a) vs \(b)")
    }
}
