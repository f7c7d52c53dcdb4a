import DaybookCore
import DaybookEngine
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Synchronization
import Testing

/// Two processes on one store: a long-running ingest and another process's catalog change.
@Suite("Service behaviour across processes", .watchdog(seconds: 600))
struct ServiceTests {
    /// While another process holds LMDB's write transaction open, read verbs answer at once with
    /// the state of the last commit (MVCC read transactions, no write lock at open), including
    /// periods that no write has materialized yet (computed in memory).
    @Test func readVerbsAnswerWhileAnotherProcessHoldsTheWriteTransaction() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "9", "--start", "2026-10-01", "--days", "20", "--events-per-day", "50",
                "--out", usage,
            ]).status == 0)
        let now = "2026-10-21T00:00:00Z"
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: now).status == 0)
        try #require(try cli.run(["ingest", usage], now: now).status == 0)
        // The same reads at the ingest clock and a month later (a new period no write has reached).
        let later = "2026-11-21T00:00:00Z"
        let verbs: [[String]] = [
            ["invoices", "--format", "csv", "--now", now],
            ["invoices", "--format", "csv", "--now", later],
            ["breakdown", "--invoice", "acme-2026/2026-10-01", "--format", "csv", "--now", now],
            ["export", "--as-of", "2026-10-21", "--out", cli.file("out").path],
            ["discrepancies", "--format", "json", "--now", now],
        ]
        func read(_ args: [String]) throws -> CLI.Result? {
            try CLI.run(args + ["--data", cli.store], timeout: 30)
        }
        var before: [CLI.Result] = []
        for args in verbs { before.append(try #require(try read(args))) }
        #expect(before.allSatisfy { $0.status == 0 })
        #expect(
            before[1].stdout.split(separator: "\n").count > before[0].stdout.split(separator: "\n").count,
            "a month later shows periods no write has materialized")

        let holder = Process()
        holder.executableURL = CLI.binary.deletingLastPathComponent().appendingPathComponent("lmdb-probe")
        holder.arguments = ["hold-write", cli.store]
        let holderOut = Pipe(), holderIn = Pipe()
        holder.standardOutput = holderOut
        holder.standardInput = holderIn
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }  // SIGTERM may be blocked in test children
        let lines = LineCounter(holderOut.fileHandleForReading)
        try #require(waitUntil { lines.lines.withLock { $0.contains("holding") } }, "the probe holds the write")

        for (args, expected) in zip(verbs, before) {
            let during = try read(args)
            #expect(during != nil, "\(args[0]) must answer while another process holds the write transaction")
            #expect(during?.status == 0)
            #expect(during?.stdout == expected.stdout, "\(args[0]) sees the last commit")
        }
        #expect(holder.isRunning, "the write transaction was held throughout")
        try holderIn.fileHandleForWriting.close()
        holder.waitUntilExit()
        #expect(holder.terminationStatus == 0)
    }

    /// Process A ingests batch after batch while process B applies a catalog with a changed
    /// price: every batch A commits after B's commit is billed with the new version, so A's
    /// store ends equal to a from-scratch run with the new catalog (and not to one with the old).
    @Test func aRunningIngestBillsWithTheCatalogAnotherProcessApplied() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "5", "--start", "2026-10-01", "--days", "28", "--events-per-day", "600",
                "--out", usage,
            ]).status == 0)
        let v1 = try cli.exampleCatalog()
        let v2 = try cli.write(
            "catalog-v2.json", ExampleCatalog.json.replacingOccurrences(of: "\"0.0001\"", with: "\"0.0003\""))
        #expect(v2 != v1)
        let now = "2026-10-30T00:00:00Z"
        try #require(try cli.run(["catalog", "apply", v1], now: now).status == 0)

        let a = Process()
        a.executableURL = CLI.binary
        a.arguments = ["ingest", usage, "--batch-size", "100", "--report-commits", "--data", cli.store, "--now", now]
        let err = Pipe()
        a.standardError = err
        a.standardOutput = Pipe()
        try a.run()
        defer { if a.isRunning { kill(a.processIdentifier, SIGKILL) } }
        let progress = LineCounter(err.fileHandleForReading)
        // B starts once A has committed a few batches.
        #expect(waitUntil { progress.count >= 5 })
        let b = try cli.run(["catalog", "apply", v2], now: now)
        #expect(b.status == 0, "\(b.stderr)")
        let atB = progress.count
        a.waitUntilExit()
        progress.ended.wait()
        #expect(a.terminationStatus == 0)
        let total = progress.count
        #expect(total > atB, "A must still have committed batches after B's catalog: \(atB) of \(total) before")

        func export(_ store: String, _ name: String) throws -> [String: String] {
            let out = cli.file(name).path
            let r = try CLI.run(
                ["export", "--as-of", "2026-10-30", "--out", out, "--data", store, "--now", now])
            #expect(r.status == 0, "\(r.stderr)")
            var files: [String: String] = [:]
            for f in ["invoices", "line_items", "balances"] {
                files[f] = try String(contentsOfFile: "\(out)/\(f).csv", encoding: .utf8)
            }
            return files
        }
        func fresh(_ catalog: String, _ name: String) throws -> String {
            let store = cli.file(name).path
            #expect(try CLI.run(["catalog", "apply", catalog, "--data", store, "--now", now]).status == 0)
            #expect(try CLI.run(["ingest", usage, "--data", store, "--now", now]).status == 0)
            return store
        }
        let got = try export(cli.store, "out-a")
        let withV2 = try export(try fresh(v2, "fresh-v2"), "out-v2")
        let withV1 = try export(try fresh(v1, "fresh-v1"), "out-v1")
        #expect(withV1["line_items"] != withV2["line_items"], "the price change must show in the breakdown")
        for (name, expected) in withV2 {
            let mine = got[name, default: ""].split(separator: "\n"), theirs = expected.split(separator: "\n")
            let differing = zip(mine, theirs).filter { $0 != $1 }.count + abs(mine.count - theirs.count)
            #expect(
                differing == 0, "\(name).csv: \(differing) rows differ from a from-scratch run with the new catalog")
        }
        #expect(try CLI.run(["replay", "--verify", "--data", cli.store, "--now", now]).status == 0)
    }
}

extension CLI {
    /// Runs `daybook ARGS` exactly as given (no `--data` added), reading stdout and stderr
    /// concurrently so neither pipe can fill up and block the child.
    static func run(_ args: [String]) throws -> Result { try run(args, timeout: 600)! }

    /// Runs `daybook ARGS`; nil when it has not ended within `timeout` seconds (it is then killed).
    static func run(_ args: [String], timeout: Int) throws -> Result? {
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errData = Mutex(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errData.withLock { $0 = data }
            errDone.signal()
        }.start()
        let outData = Mutex(Data())
        let outDone = DispatchSemaphore(value: 0)
        Thread {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            outData.withLock { $0 = data }
            outDone.signal()
        }.start()
        guard outDone.wait(timeout: .now() + .seconds(timeout)) == .success else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        errDone.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData.withLock { $0 }, as: UTF8.self),
            stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }
}
