// (k) One day of backdated events into a long history (issue 12, items 4 and 5), against a full
// recompute of the same history's per-day aggregates by DuckDB.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'backdated-day.*'
//   DAYBOOK_BENCH_HISTORY_10M=/tmp/daybook-history-10M swift package … --filter 'backdated-day-10M'
//
// History: 1M / 10M events over 2026-01-01 ..< 2026-11-01 for the 8 customers of
// `BackdatedFixture` (the standard rate card, a commit each), built with `ingestHistory`, whose
// lines are also written to `history.ndjson` beside the store. Each iteration ingests 40,000 new
// events (fresh transaction ids), all dated 2026-10-22, ten days before the clock (2026-11-01,
// within the 34 days of lateness, in the open October invoices), submitted to a durable `Writer`
// (the path of `daybook ingest`, `tail` and the server) as two batches of 20,000 (what
// `daybook ingest` submits), and waited for until both have committed.
// Measured: the ingest call (engine time, commits included), its recompute counters, and peak heap
// and map memory sampled during it. Once per process, after the warm-up call, DuckDB
// (`Benchmarks/duckdb/full_recompute.py`, `pip install duckdb`) loads history.ndjson and the
// backdated days ingested so far and computes the per-day aggregates; a few of its cells are
// checked against Daybook's breakdown, and its time is reported with the speedup
// (DuckDB time ÷ this iteration's engine time).
//
// DAYBOOK_BENCH_HISTORY_1M / DAYBOOK_BENCH_HISTORY_10M=DIR keeps the history (store and NDJSON) in
// DIR across runs (built when DIR holds no READY marker); each run copies the store to a temporary
// directory and measures on the copy, so the kept history never changes.

import Benchmark
import DaybookCore
import DaybookEngine
import DaybookWorkload
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

enum BackdatedDayMetric {
    static let engineMs = BenchmarkMetric.custom("engine ms", polarity: .prefersSmaller, useScalingFactor: false)
    static let duckdbMs = BenchmarkMetric.custom(
        "duckdb full recompute ms", polarity: .prefersLarger, useScalingFactor: false)
    static let duckdbQueryMs = BenchmarkMetric.custom(
        "duckdb query ms", polarity: .prefersLarger, useScalingFactor: false)
    static let speedup = BenchmarkMetric.custom("speedup ×", polarity: .prefersLarger, useScalingFactor: false)
    /// User + system CPU of the whole process during the call (every core): steadier than the
    /// wall clock on a shared machine, and what a change to the parse or the writer moves.
    static let engineCPUMs = BenchmarkMetric.custom("engine CPU ms", polarity: .prefersSmaller, useScalingFactor: false)
}

/// User + system CPU time of this process so far, in milliseconds.
func processCPUMilliseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func ms(_ t: timeval) -> Double { Double(t.tv_sec) * 1000 + Double(t.tv_usec) / 1000 }
    return ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// What one run of full_recompute.py reported.
struct DuckDBRecompute {
    var totalSeconds: Double
    var querySeconds: Double
    var inputRows: Int
    var aggregateRows: Int
    var cells: [String: String?]
    var raw: String
}

/// The DuckDB script beside this package's sources.
let duckdbScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("duckdb/full_recompute.py").path

/// Runs `python3 args…` and returns its standard output; throws, with its standard error, when it
/// fails. (A Process, so a missing python3 or duckdb fails the benchmark, never skips it.)
func runPython(_ args: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + args
    // Not the package directory: its `duckdb/` folder would pass for the module in `import duckdb`.
    process.currentDirectoryURL = FileManager.default.temporaryDirectory
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both to the end before waiting, so a full pipe cannot stall the child.
    let errData = Mutex<Data>(Data())
    let reading = DispatchGroup()
    DispatchQueue.global().async(group: reading) {
        let d = err.fileHandleForReading.readDataToEndOfFile()
        errData.withLock { $0 = d }
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    reading.wait()
    let stderr = String(decoding: errData.withLock { $0 }, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw BenchError("python3 \(args.joined(separator: " ")) exited \(process.terminationStatus): \(stderr)")
    }
    return String(decoding: outData, as: UTF8.self)
}

/// Fails loudly when DuckDB's Python package is missing.
func requireDuckDB() throws {
    do {
        _ = try runPython(["-c", "import duckdb; duckdb.connect()"])
    } catch {
        throw BenchError(
            "the DuckDB comparison needs python3 with duckdb (`pip install duckdb`, see docs/performance.md): \(error)")
    }
}

/// Reads `files` once to the end, so that DuckDB's load is timed from the page cache, as
/// Daybook's measured calls run on a warm map (a cold read of 1.8 GB measures the disk).
func warmPageCache(_ files: [String]) throws {
    for file in files {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw BenchError("cannot open \(file): errno \(errno)") }
        defer { close(fd) }
        // 64 KiB: below glibc's mmap threshold, so the read does not raise it (which would change
        // how much freed heap the measured calls keep resident).
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64 << 10) { buffer in
            while true {
                let n = read(fd, buffer.baseAddress!, buffer.count)
                if n == 0 { break }
                guard n > 0 else { throw BenchError("cannot read \(file): errno \(errno)") }
            }
        }
    }
}

/// Runs full_recompute.py over `files` (read once beforehand, untimed), asking for `cells`
/// ("CUSTOMER,METRIC,GROUP,DAY").
func duckdbRecompute(_ files: [String], cells: [String]) throws -> DuckDBRecompute {
    try requireDuckDB()
    try warmPageCache(files)
    let text = try runPython([duckdbScript] + files + cells.flatMap { ["--cell", $0] })
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
        let total = object["total_seconds"] as? Double, let query = object["query_seconds"] as? Double,
        let rows = object["input_rows"] as? Int, let groups = object["aggregate_rows"] as? Int,
        let found = object["cells"] as? [String: Any]
    else { throw BenchError("full_recompute.py printed no result: \(text)") }
    return DuckDBRecompute(
        totalSeconds: total, querySeconds: query, inputRows: rows, aggregateRows: groups,
        cells: found.mapValues { $0 as? String }, raw: text.trimmingCharacters(in: .whitespacesAndNewlines))
}

final class BackdatedDayFixture: SharedStoreFixture, @unchecked Sendable {
    // @unchecked: prepared in the setup hook, then used by the benchmark closure on one thread.
    static let customers = BackdatedFixture.customers
    static let historyStart = day(2026, 1, 1)
    static let historyEnd = BackdatedFixture.historyEnd  // 2026-11-01, exclusive; the clock
    static let now = Timestamp(day: historyEnd)
    static let backdatedDay = historyEnd.adding(days: -10)
    static let dayEvents = 40_000
    static let batch = 20_000

    let historySize: Int
    let label: String
    let name: String
    /// The directory holding the history (kept or per run): READY, store/, history.ndjson.
    private(set) var path: String?
    private var summary = ""
    /// Where the measured store lives (a copy when the history is kept) and backdated.ndjson.
    private var work: String?
    private var copied = false
    private var writer: Writer?
    private var iteration = 0
    private var duckdb: DuckDBRecompute?

    init(historySize: Int, label: String) {
        self.historySize = historySize
        self.label = label
        name = "backdated-day-\(label)"
    }

    func prepare() throws {
        guard writer == nil else { return }
        try requireDuckDB()  // before building a history the comparison could not use
        let kept = ProcessInfo.processInfo.environment["DAYBOOK_BENCH_HISTORY_\(label)"]
        let store = try prepareSharedStore(kind: "day", suffix: label, kept: kept, build: build(at:))
        path = store.path
        summary = store.summary
        let work: String
        if kept != nil {
            work = try makeTemporaryDirectory("day-\(label)-copy")
            let took = try seconds { try copyDirectory(store.path + "/store", to: work + "/store") }
            copied = true
            report("\(name): copied the kept store to \(work) in \(String(format: "%.1f", took)) s")
        } else {
            work = store.path
        }
        self.work = work
        try LineFile(path: work + "/backdated.ndjson").close()
        writer = try Writer(path: work + "/store")  // durable, as in production
        report("\(name): \(summary)")
    }

    private func build(at dir: String) throws -> String {
        let clock = ContinuousClock()
        let began = clock.now
        try FileManager.default.createDirectory(atPath: dir + "/store", withIntermediateDirectories: true)
        let engine = try Engine(path: dir + "/store", durable: false)
        try engine.applyCatalog(
            historyCatalog(customers: Self.customers, starts: Self.historyStart),
            now: Timestamp(day: Self.historyStart))
        let ndjson = try LineFile(path: dir + "/history.ndjson")
        let perDay = try ingestHistory(
            engine, customers: Self.customers, from: Self.historyStart, to: Self.historyEnd, size: historySize,
            chunkDays: BackdatedFixture.chunkDays, emit: { try ndjson.write($0) })
        try ndjson.close()
        _ = try engine.ingest([], source: "history", now: Self.now)  // the clock at `now`
        let stats = try counters(engine)
        guard stats["events"] == UInt64(ndjson.lines) else {
            throw BenchError("\(name): the store holds \(stats["events"] ?? 0) events, history.ndjson \(ndjson.lines)")
        }
        return "history of \(stats["events"] ?? 0) events (\(Self.customers.count) customers, \(perDay)/weekday each, "
            + "\(Self.historyStart)..<\(Self.historyEnd)), history.ndjson \(ndjson.bytes / 1_000_000) MB; "
            + "built in \(clock.now - began)"
    }

    func teardown() {
        writer?.close()
        writer = nil
        if copied, let work { removeDirectory(work) }
        if !copied, let path { removeDirectory(path) }  // the run's own history: no other process uses it
        work = nil
        path = nil
    }

    /// Cells compared between DuckDB and Daybook's breakdown: (DuckDB cell, line item, day). Sums
    /// and counts on the backdated day; max and unique_count on the period's first day, where the
    /// period-to-date quantity Daybook reports is that day's own aggregate.
    static let checkedCells: [(cell: String, lineItem: String, day: Day)] = {
        let c = customers[0], d = backdatedDay, first = day(2026, 10, 1)
        return [
            ("\(c),tokens,model-a,\(d)", "inference_tokens{model=model-a}", d),
            ("\(c),requests,,\(d)", "api_requests", d),
            ("\(c),storage_gb_hours,,\(d)", "storage", d),
            ("\(c),peak_gpus,,\(first)", "gpu_capacity", first),
            ("\(c),active_users,,\(first)", "seats", first),
        ]
    }()

    /// DuckDB over the history and the backdated days so far, its cells checked against Daybook.
    private func recompute(_ writer: Writer) throws -> DuckDBRecompute {
        guard let path, let work else { throw BenchError("\(name): not prepared") }
        let result = try duckdbRecompute(
            [path + "/history.ndjson", work + "/backdated.ndjson"], cells: Self.checkedCells.map(\.cell))
        let events = Int(try writer.perform { try counters($0) }["events"] ?? 0)
        guard result.inputRows == events else {
            throw BenchError("\(name): DuckDB loaded \(result.inputRows) rows, the store holds \(events) events")
        }
        let invoice = "\(Self.customers[0])-2026/2026-10-01"
        let breakdown = try writer.perform { try $0.breakdown(invoiceID: invoice, now: Self.now) }
        let dayColumn = breakdown.columns.firstIndex(of: "day")!
        let itemColumn = breakdown.columns.firstIndex(of: "line_item_id")!
        let quantityColumn = breakdown.columns.firstIndex(of: "quantity")!
        for (cell, lineItem, day) in Self.checkedCells {
            let daybook = breakdown.rows.first { $0[dayColumn] == "\(day)" && $0[itemColumn] == lineItem }?[
                quantityColumn]
            guard let duck = result.cells[cell] ?? nil, let daybook, duck == daybook else {
                throw BenchError(
                    "\(name): DuckDB and Daybook disagree on \(cell): "
                        + "DuckDB \(String(describing: result.cells[cell])), "
                        + "Daybook \(lineItem) on \(day) \(String(describing: daybook))")
            }
        }
        report(
            "\(name): DuckDB full recompute of \(result.inputRows) events into \(result.aggregateRows) per-day "
                + "aggregates in \(String(format: "%.2f", result.totalSeconds)) s (query alone "
                + "\(String(format: "%.2f", result.querySeconds)) s); cells agree with Daybook: "
                + Self.checkedCells.map { "\($0.cell)=\((result.cells[$0.cell] ?? nil) ?? "")" }.joined(separator: " "))
        return result
    }

    func run(_ benchmark: Benchmark) throws {
        guard let writer, let work else { throw BenchError("\(name): history was not built") }
        iteration += 1
        let lines = spreadEvents(
            count: Self.dayEvents, customers: Self.customers, start: Self.backdatedDay, days: 1,
            seed: UInt64(700_000 + iteration), idPrefix: "day\(iteration)-")
        let all = records(lines)
        let batches = stride(from: 0, to: all.count, by: Self.batch).map {
            Array(all[$0..<min($0 + Self.batch, all.count)])
        }
        let before = try writer.perform { try counters($0) }
        var summary = IngestSummary()
        let sampler = try MemorySampler()
        benchmark.startMeasurement()
        let cpuBefore = processCPUMilliseconds()
        let ms =
            try seconds { summary = try Self.submit(batches, to: writer) }
            * 1000
        let cpu = processCPUMilliseconds() - cpuBefore
        benchmark.stopMeasurement()
        let peaks = sampler.stop()
        let after = try writer.perform { try counters($0) }
        guard summary.accepted == all.count else {
            throw BenchError("\(name): expected \(all.count) accepted, got \(summary.json)")
        }
        let out = try LineFile(path: work + "/backdated.ndjson", append: true)
        try out.write(lines)
        try out.close()

        func delta(_ key: String) -> Int { Int((after[key] ?? 0) - (before[key] ?? 0)) }
        if duckdb == nil { duckdb = try recompute(writer) }  // once per process, after the warm-up call
        let duck = duckdb!
        benchmark.measurement(BackdatedDayMetric.engineMs, Int(ms.rounded()))
        benchmark.measurement(BackdatedDayMetric.engineCPUMs, Int(cpu.rounded()))
        benchmark.measurement(MemoryMetric.peakHeap, peaks.heapMiB)
        benchmark.measurement(MemoryMetric.peakMap, peaks.mapMiB)
        benchmark.measurement(DaybookMetric.lineItemDaysEvaluated, delta("line_item_days_evaluated"))
        benchmark.measurement(DaybookMetric.drawDownDaysEvaluated, delta("draw_down_days_evaluated"))
        benchmark.measurement(DaybookMetric.eventsReread, delta("events_reread"))
        benchmark.measurement(DaybookMetric.historyEvents, Int(before["events"] ?? 0))
        benchmark.measurement(BackdatedDayMetric.duckdbMs, Int((duck.totalSeconds * 1000).rounded()))
        benchmark.measurement(BackdatedDayMetric.duckdbQueryMs, Int((duck.querySeconds * 1000).rounded()))
        benchmark.measurement(BackdatedDayMetric.speedup, Int((duck.totalSeconds * 1000 / ms).rounded()))
        report(
            "\(name) #\(iteration): \(all.count) events dated \(Self.backdatedDay) on \(before["events"] ?? 0) in "
                + "\(String(format: "%.1f", ms)) ms; Δ line_item_days_evaluated \(delta("line_item_days_evaluated")), "
                + "Δ draw_down_days_evaluated \(delta("draw_down_days_evaluated")), "
                + "Δ events_reread \(delta("events_reread")); \(peaks); DuckDB "
                + "\(String(format: "%.0f", duck.totalSeconds * 1000)) ms = "
                + "\(String(format: "%.0f", duck.totalSeconds * 1000 / ms))×")
    }
}

extension BackdatedDayFixture {
    /// Submits the batches together and waits until every one has committed: their summaries, added up.
    static func submit(_ batches: [[IngestRecord]], to writer: Writer) throws -> IngestSummary {
        let results = Mutex<[Result<IngestSummary, any Error>]>([])
        let done = DispatchSemaphore(value: 0)
        for records in batches {
            writer.submit(IngestBatch(records: records, source: "backdated-day", now: now)) { result in
                results.withLock { $0.append(result) }
                done.signal()
            }
        }
        for _ in batches { done.wait() }
        var total = IngestSummary()
        for result in results.withLock({ $0 }) { total += try result.get() }
        return total
    }
}

/// Copies a directory tree (`cp -R`: large LMDB files, fast).
func copyDirectory(_ from: String, to: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/cp")
    process.arguments = ["-R", from, to]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("cp -R \(from) \(to) failed") }
}

func registerBackdatedDay() {
    for (size, label) in [(1_000_000, "1M"), (10_000_000, "10M")] {
        let fixture = BackdatedDayFixture(historySize: size, label: label)
        Benchmark(
            fixture.name,
            configuration: .init(
                metrics: [
                    .wallClock, .peakMemoryResident, .mallocCountTotal, BackdatedDayMetric.engineMs,
                    BackdatedDayMetric.engineCPUMs,
                    MemoryMetric.peakHeap, MemoryMetric.peakMap, DaybookMetric.historyEvents,
                    DaybookMetric.lineItemDaysEvaluated, DaybookMetric.drawDownDaysEvaluated,
                    DaybookMetric.eventsReread, BackdatedDayMetric.duckdbMs, BackdatedDayMetric.duckdbQueryMs,
                    BackdatedDayMetric.speedup,
                ],
                timeUnits: .milliseconds,
                warmupIterations: 1,
                maxDuration: .seconds(60),
                maxIterations: 10,
                setup: { try fixture.prepare() },
                teardown: { fixture.teardown() }
            )
        ) { benchmark in
            try fixture.run(benchmark)
        }
    }
}
