import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Foundation
import LMDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `daybook replay --verify` on a store that another process is writing, on a store whose
/// breakdown really differs from its log, and on a damaged store (issue 8).
@Suite("replay --verify", .watchdog(seconds: 600))
struct ReplayVerifyTests {
    /// A real `daybook ingest` commits a batch every few milliseconds while `replay --verify` runs
    /// 20 times in other processes. Each run compares one read snapshot with a rebuild of that
    /// same snapshot, so every run exits 0 with no mismatch; each run overlapped commits (the
    /// ingest reported batches during it) and the ingest was running before and after each.
    @Test func replayVerifyRunTwentyTimesDuringARunningIngestReportsNoFalseMismatches() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        // ~185,000 records: at 10 records per durable commit the ingest outlasts the verifies
        // many times over; it is stopped when they are done.
        try #require(
            try cli.run([
                "generate", "--seed", "8", "--start", "2026-10-01", "--days", "28", "--events-per-day", "2000",
                "--out", usage,
            ]).status == 0)
        let now = "2026-10-29T00:00:00Z"
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: now).status == 0)

        let ingest = Process()
        ingest.executableURL = CLI.binary
        ingest.arguments = [
            "ingest", usage, "--batch-size", "10", "--report-commits", "--data", cli.store, "--now", now,
        ]
        let err = Pipe()
        ingest.standardError = err
        ingest.standardOutput = FileHandle.nullDevice
        ingest.standardInput = FileHandle.nullDevice
        try ingest.run()
        defer {
            // SIGKILL: children of the test runner start with SIGTERM blocked (inherited signal
            // mask), so terminate() would leave the ingest running through the whole file.
            if ingest.isRunning { kill(ingest.processIdentifier, SIGKILL) }
            ingest.waitUntilExit()
        }
        let progress = LineCounter(err.fileHandleForReading)
        try #require(waitUntil(seconds: 60) { progress.count >= 20 }, "the ingest commits batches")

        let runs = 20
        var failed: [String] = []
        for run in 1...runs {
            try #require(ingest.isRunning, "the ingest must still be running before verify \(run)")
            let before = progress.count
            let verify = try #require(
                try CLI.run(["replay", "--verify", "--data", cli.store], timeout: 120), "verify \(run) ended")
            let after = progress.count
            try #require(ingest.isRunning, "the ingest must still be running after verify \(run)")
            #expect(after > before, "verify \(run) overlapped commits (\(before) → \(after) batches)")
            if verify.status != 0 || !verify.stdout.hasPrefix("verified") {
                let mismatches = verify.stdout.split(separator: "\n").count
                failed.append(
                    "run \(run): exit \(verify.status), \(mismatches) mismatches; \(verify.stderr.prefix(300))")
            }
        }
        #expect(failed == [], "\(failed.count) of \(runs) runs reported mismatches")
    }

    /// A breakdown that really differs from its log (one day's period-to-date quantity of one line
    /// item changed behind the engine's back): exit 1, that one mismatch on standard output
    /// naming invoice, line item and day, and on standard error a summary that says what to do —
    /// not just "failed". The scratch directory is gone afterwards.
    @Test func replayVerifyPrintsEachMismatchAndASummarySayingWhatToDo() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let now = "2026-10-06"
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-10-01").status == 0)
        let usage = try cli.run(["generate", "--days", "5", "--events-per-day", "20"]).stdout
        try #require(try cli.run(["ingest", "-"], now: now, stdin: Data(usage.utf8)).status == 0)
        try #require(try cli.run(["replay", "--verify"]).status == 0)

        // Change Q of the first line item with usage on its first such day, in place.
        var changed: (invoice: String, lineItem: String, day: Day, stored: FixedDecimal)?
        do {
            let store = try Store(path: cli.store)
            try store.env.write { txn in
                var target: ([UInt8], InvoiceState, Int, Int)?
                try txn.scan(in: store.invoices) { key, value in
                    let state = try InvoiceState(decoding: value)
                    for (i, item) in state.lineItems.enumerated() {
                        if let k = item.cumQuantity.firstIndex(where: { $0 != .zero }) {
                            target = (key, state, i, k)
                            return false
                        }
                    }
                    return true
                }
                guard let (key, found, i, k) = target else { return }
                var state = found
                let stored = state.lineItems[i].cumQuantity[k]
                state.lineItems[i].cumQuantity[k] = stored + FixedDecimal(1)
                try txn.put(key, state.encoded(), in: store.invoices)
                changed = (
                    "\(state.contractID)/\(state.period.start)", state.lineItems[i].id,
                    state.period.start.adding(days: k), stored
                )
            }
        }
        let edit = try #require(changed, "the store has a line item with usage")

        let tmp = cli.file("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let r = try cli.run(["replay", "--verify"], environment: ["TMPDIR": tmp.path])
        #expect(r.status == 1)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stdout)")
        #expect(
            lines.first?.hasPrefix("\(edit.invoice) \(edit.lineItem) \(edit.day): materialized Q=") == true,
            "\(r.stdout)")
        #expect(lines.first?.contains("rebuilt Q=\(edit.stored) ") == true, "\(r.stdout)")
        #expect(
            r.stderr.hasPrefix("daybook: 1 mismatch: the materialized breakdown differs from a rebuild from the log"),
            "\(r.stderr)")
        #expect(r.stderr.contains("The log is intact and is the source of truth"), "\(r.stderr)")
        #expect(r.stderr.contains("report the mismatches as a Daybook bug"), "\(r.stderr)")
        #expect(!r.stderr.contains("daybook: failed"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == [], "scratch directory removed")
    }

    /// Verify throws half-way (a log record that no longer decodes): exit 1 with the store error,
    /// and its scratch directory is removed on that path too.
    @Test func replayVerifyRemovesItsScratchDirectoryWhenItThrows() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let now = "2026-10-06"
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-10-01").status == 0)
        let usage = try cli.run(["generate", "--days", "5", "--events-per-day", "20"]).stdout
        try #require(try cli.run(["ingest", "-"], now: now, stdin: Data(usage.utf8)).status == 0)
        do {
            let store = try Store(path: cli.store)
            try store.env.write { txn in try txn.put(Keys.seq(2), [0x80], in: store.log) }  // a truncated varint
        }
        let tmp = cli.file("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let r = try cli.run(["replay", "--verify"], environment: ["TMPDIR": tmp.path])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("daybook: store damaged: "), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == [], "scratch directory removed")
    }
}
