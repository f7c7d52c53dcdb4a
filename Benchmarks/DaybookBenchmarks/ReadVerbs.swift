// (e) Read verbs at scale (issue 7): `invoices`, `breakdown --invoice`, `discrepancies` (JSON)
// and `export --as-of` on a store of 10M events with a 1M-event backfill into finalized invoices.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'read-verbs.*'
//
// Sizes: DAYBOOK_BENCH_READ_EVENTS (history, default 10,000,000) and DAYBOOK_BENCH_READ_BACKFILL
// (default 1,000,000, or a tenth of DAYBOOK_BENCH_READ_EVENTS when only that is set).
//
// package-benchmark runs each benchmark in its own process, so the fixture is built by the first
// of the four processes and shared with the others through a directory named after the parent
// (the benchmark tool's) process id; a small watchdog removes it when that process exits. With
// DAYBOOK_BENCH_READ_STORE=DIR the fixture is kept in DIR across runs instead (built if DIR holds
// no READY marker, never removed): valid only while the store format and this file are unchanged.

import Benchmark
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

enum ReadVerbsMetric {
    static let jsonBytes = BenchmarkMetric.custom("discrepancies JSON bytes", useScalingFactor: false)
    static let driftRecords = BenchmarkMetric.custom("drift records", useScalingFactor: false)
    static let rows = BenchmarkMetric.custom("rows", useScalingFactor: false)
}

/// The store of the read-verb benchmarks: 3 customers (`acme`, `globex`, `initech`, the
/// generator's default customers, each with one contract on the example catalog's `standard`
/// rate card and a commit), `events` events from 2026-01-01 to 2026-11-19 ingested on time in
/// chunks of at most 7 days that do not cross a month (so the history itself makes no drift), the
/// ten monthly invoices of January–October of each customer finalized on the clock; then `backfill`
/// events dated evenly over January–October, ingested at the clock, so every finalized invoice
/// drifts with a long list of late events. The clock of the read verbs is 2026-11-20 (a CLI run
/// with `--now 2026-11-20`), inside the November invoices.
final class ReadVerbsFixture: @unchecked Sendable {
    // @unchecked: prepared once in a setup hook, then read by the benchmark closure on one thread.
    static let customers = ["acme", "globex", "initech"]
    static let historyStart = day(2026, 1, 1)
    /// Exclusive end of the history, and the read verbs' clock.
    static let clockDay = day(2026, 11, 20)
    static let now = Timestamp(day: clockDay)
    /// The backfill is dated in `historyStart..<finalizedEnd`: months finalized before it arrives.
    static let finalizedEnd = day(2026, 11, 1)
    /// The current-month invoice of the largest customer (`breakdown --invoice`).
    static let currentInvoice = "acme-2026/2026-11-01"
    static let batch = 50_000

    let events: Int
    let backfill: Int
    let label: String
    private(set) var path: String?
    private(set) var summary = ""

    init() {
        let env = ProcessInfo.processInfo.environment
        events = env["DAYBOOK_BENCH_READ_EVENTS"].flatMap { Int($0) } ?? 10_000_000
        backfill = env["DAYBOOK_BENCH_READ_BACKFILL"].flatMap { Int($0) } ?? max(1, events / 10)
        label = Self.sizeLabel(events)
    }

    static func sizeLabel(_ n: Int) -> String {
        n % 1_000_000 == 0 ? "\(n / 1_000_000)M" : n % 1_000 == 0 ? "\(n / 1_000)k" : "\(n)"
    }

    /// Finds the fixture built by an earlier benchmark process of this run, or builds it.
    func prepare() throws {
        guard path == nil else { return }
        let store = try prepareSharedStore(
            kind: "read", suffix: "\(label)-\(Self.sizeLabel(backfill))",
            kept: ProcessInfo.processInfo.environment["DAYBOOK_BENCH_READ_STORE"], build: build(at:))
        path = store.path
        summary = store.summary
    }

    /// Builds the store at `path` (non-durable environment: not measured) and describes it.
    private func build(at path: String) throws -> String {
        let clock = ContinuousClock()
        let began = clock.now
        let customers = Self.customers
        let engine = try Engine(path: path, durable: false)
        try engine.applyCatalog(
            historyCatalog(customers: customers, starts: Self.historyStart, maxLatenessDays: 400),
            now: Timestamp(day: Self.historyStart))
        let eventsPerDay = try ingestHistory(
            engine, customers: customers, from: Self.historyStart, to: Self.clockDay, size: events,
            monthAligned: true)
        // The clock at 2026-11-20: finalizes October (end + 24 h grace) and materializes November.
        _ = try engine.ingest([], source: "history", now: Self.now)
        let historyDone = clock.now
        let history = try counters(engine)
        report(
            "read-verbs: history of \(history["events"] ?? 0) events in \(historyDone - began) "
                + "(\(eventsPerDay)/weekday per customer, \(history["invoices_finalized"] ?? 0) invoices finalized, "
                + "\(try engine.discrepancies().count) open drift records)")

        // The backfill: new transaction ids, days spread evenly over the finalized months.
        let picked = spreadEvents(
            count: backfill, customers: customers, start: Self.historyStart,
            days: Self.historyStart.distance(to: Self.finalizedEnd), seed: 777, idPrefix: "bf-")
        let ingested = try ingestInBatches(
            engine, records(picked), batch: Self.batch, source: "backfill", now: Self.now)
        guard ingested.accepted == backfill else {
            throw BenchError("read-verbs: backfill of \(backfill) accepted only \(ingested.json)")
        }
        let backfillDone = clock.now
        let stats = try counters(engine)
        let drift = try engine.discrepancies()
        let lateIDs = drift.reduce(0) { $0 + $1.lateTransactionIDs.count }
        let invoices = try engine.invoices(now: Self.now)
        let text =
            "\(stats["events"] ?? 0) events (history \(history["events"] ?? 0) + backfill \(backfill) "
            + "dated \(Self.historyStart)..<\(Self.finalizedEnd), batches of \(Self.batch)), "
            + "\(invoices.count) invoices, \(stats["invoices_finalized"] ?? 0) finalized, "
            + "\(drift.count) open drift records listing \(lateIDs) late transaction ids, "
            + "\(customers.count) customers; built in \(backfillDone - began) "
            + "(history \(historyDone - began), backfill \(backfillDone - historyDone))"
        report("read-verbs: built \(text)")
        return text
    }
}

/// A store shared by the benchmark processes of one run: found where an earlier process of the
/// run (a child of the same benchmark tool) built it, else built by `build` and renamed into
/// place, and removed once the tool exits. With `kept` (a directory from the environment) the
/// store lives there across runs instead, built once (when it holds no READY marker) and never
/// removed. Returns the path and the summary `build` wrote.
func prepareSharedStore(kind: String, suffix: String, kept: String?, build: (String) throws -> String) throws
    -> (path: String, summary: String)
{
    let base = FileManager.default.temporaryDirectory.path
    let prefix = "daybook-bench-\(kind)-"
    let shared = kept ?? "\(base)/\(prefix)\(getppid())-\(suffix)"
    if kept == nil { removeStaleFixtures(base, prefix: prefix) }
    let marker = shared + "/READY"
    if let text = try? String(contentsOfFile: marker, encoding: .utf8) {
        let summary = text.trimmingCharacters(in: .whitespacesAndNewlines)
        report("\(kind): reusing the fixture in \(shared): \(summary)")
        return (shared, summary)
    }
    if let kept {  // no READY: what is there is a build that did not finish
        removeDirectory(kept)
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
    }
    let building = try kept ?? makeTemporaryDirectory("\(kind)-build")
    let summary: String
    do {
        summary = try build(building)
        try Data((summary + "\n").utf8).write(to: URL(fileURLWithPath: building + "/READY"))
    } catch {
        if kept == nil { removeDirectory(building) }
        throw error
    }
    if kept == nil {
        guard rename(building, shared) == 0 else {
            let code = errno
            removeDirectory(building)
            throw BenchError("\(kind): cannot rename \(building) to \(shared): errno \(code)")
        }
        removeWhenParentExits(shared)
    }
    trimHeap()
    report("\(kind): fixture in \(shared); after build, engine closed: \(Resident.now())")
    return (shared, summary)
}

/// Removes fixtures of earlier runs whose benchmark tool is gone (its watchdog was killed).
func removeStaleFixtures(_ base: String, prefix: String) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix(prefix) {
        guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }) else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { removeDirectory("\(base)/\(name)") }
    }
}

/// Starts `sh` to remove `directory` once this process's parent has exited. Its standard
/// streams go to /dev/null and it inherits no other descriptor, so the benchmark tool does
/// not wait on it.
func removeWhenParentExits(_ directory: String) {
    let parent = getppid()
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
        if let fd = Int32(entry), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for fd: Int32 in 0...2 {
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
    }
    let quoted = "'" + directory.replacingOccurrences(of: "'", with: "'\\''") + "'"
    let script = "while kill -0 \(parent) 2>/dev/null; do sleep 2; done; rm -rf -- \(quoted)"
    let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", script].map { (arg: String) in strdup(arg) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let result = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
    if result != 0 { report("could not start the clean-up watchdog (\(result)); remove \(directory)") }
}

/// A store built once per run in a setup hook (``prepareSharedStore(kind:suffix:kept:build:)``).
protocol SharedStoreFixture: AnyObject, Sendable {
    func prepare() throws
    var path: String? { get }
}

extension ReadVerbsFixture: SharedStoreFixture {}

/// Calls of one benchmark closure in its process (the first one, the warm-up, reports once).
final class Counter: @unchecked Sendable {
    // @unchecked: used by one benchmark closure, on one thread.
    var value = 0
}

/// Registers the four read-verb benchmarks. Each measured call opens a fresh `Engine` and runs
/// one verb, as a CLI invocation does (`daybook VERB --data DIR --now 2026-11-20`), without the
/// process start and without printing.
func registerReadVerbs() {
    let fixture = ReadVerbsFixture()
    let now = ReadVerbsFixture.now

    func register(
        _ verb: String, extra: [BenchmarkMetric] = [], _ body: @escaping (String, Benchmark, Bool) throws -> Void
    ) {
        registerOnReadFixture("read-verbs-\(verb)-\(fixture.label)", fixture, extra: extra, body)
    }

    register("invoices", extra: [ReadVerbsMetric.rows]) { path, benchmark, first in
        benchmark.startMeasurement()
        let engine = try Engine(path: path)
        let table = try engine.invoicesTable(now: now)
        benchmark.stopMeasurement()
        withExtendedLifetime(engine) {}
        benchmark.measurement(ReadVerbsMetric.rows, table.rows.count)
        if first { report("read-verbs invoices: \(table.rows.count) rows; \(fixture.summary)") }
    }

    register("breakdown", extra: [ReadVerbsMetric.rows]) { path, benchmark, first in
        benchmark.startMeasurement()
        let engine = try Engine(path: path)
        let table = try engine.breakdown(invoiceID: ReadVerbsFixture.currentInvoice, now: now)
        benchmark.stopMeasurement()
        withExtendedLifetime(engine) {}
        benchmark.measurement(ReadVerbsMetric.rows, table.rows.count)
        if first { report("read-verbs breakdown \(ReadVerbsFixture.currentInvoice): \(table.rows.count) rows") }
    }

    register("discrepancies-json", extra: [ReadVerbsMetric.jsonBytes, ReadVerbsMetric.driftRecords]) {
        path, benchmark, first in
        benchmark.startMeasurement()
        let engine = try Engine(path: path)
        let records = try engine.discrepancies()
        let json = engine.discrepanciesJSON(records)
        benchmark.stopMeasurement()
        withExtendedLifetime(engine) {}
        benchmark.measurement(ReadVerbsMetric.jsonBytes, json.utf8.count)
        benchmark.measurement(ReadVerbsMetric.driftRecords, records.count)
        if first {
            report(
                "read-verbs discrepancies: \(records.count) open drift records, JSON \(json.utf8.count) bytes "
                    + "(target < 1 MB: \(json.utf8.count < 1_000_000 ? "met" : "missed"))")
        }
    }

    register("export", extra: [ReadVerbsMetric.rows]) { path, benchmark, first in
        benchmark.startMeasurement()
        let engine = try Engine(path: path)
        let export = try engine.export(asOf: ReadVerbsFixture.clockDay)
        benchmark.stopMeasurement()
        withExtendedLifetime(engine) {}
        let rows = export.invoices.rows.count + export.lineItems.rows.count + export.balances.rows.count
        benchmark.measurement(ReadVerbsMetric.rows, rows)
        if first {
            report(
                "read-verbs export --as-of \(ReadVerbsFixture.clockDay): \(export.invoices.rows.count) invoice rows, "
                    + "\(export.lineItems.rows.count) line-item rows, \(export.balances.rows.count) balance rows")
        }
    }
}

/// Registers a benchmark of calls on the read-verb fixture (built or found in its setup hook):
/// milliseconds, 1 warm-up, up to 25 iterations in 20 s. `body` gets the store's path, the
/// benchmark, and whether it is the process's first call (the warm-up, which reports).
func registerOnReadFixture(
    _ name: String, _ fixture: some SharedStoreFixture, extra: [BenchmarkMetric] = [],
    _ body: @escaping (String, Benchmark, Bool) throws -> Void
) {
    let calls = Counter()
    Benchmark(
        name,
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal] + extra,
            timeUnits: .milliseconds,
            warmupIterations: 1,
            maxDuration: .seconds(20),
            maxIterations: 25,
            setup: { try fixture.prepare() }
        )
    ) { benchmark in
        guard let path = fixture.path else { throw BenchError("\(name): no fixture") }
        calls.value += 1
        try body(path, benchmark, calls.value == 1)
    }
}
