// Daybook benchmarks (package-benchmark). See docs/performance.md for how to run them and the
// figures measured.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
//
// Benchmarks:
//   ingest-throughput     ~200k generated events (default share of duplicates, invalid and
//                         backdated records) ingested in durable transactions of 20,000 records.
//   backdated-apply-1M    20,000 backdated events applied in one durable ingest call on top of a
//   backdated-apply-2M    history of 1M / 2M events (10M instead of 2M with DAYBOOK_BENCH_LARGE=1).
//   drift-detection-1M    20,000 events backdated into a year of finalized invoices (issue 4).
//   read-verbs-*-10M      invoices, breakdown, discrepancies (JSON) and export on 10M events with a
//                         1M-event backfill into finalized invoices (issue 7); see ReadVerbs.swift.
//   warehouse-*           full and incremental PostgreSQL export of a year for 100 customers
//                         (issue 10); see Warehouse.swift.
//   explain-row-10M       explain of one row (and its JSON) on the read-verb store (issue 10); see Explain.swift.
//   dashboard-*-1k        each dashboard page and the engine reads behind it on a year of 1,000
//                         customers (issue 11); see Dashboard.swift.
//   ingest-floors         `daybook ingest` of ~306k mixed records as ratios to a bare durable LMDB
//                         append of the same lines, with and without an id index (issue 12); Floors.swift.
//   backdated-day-1M      one day of 40,000 backdated events (dated 10 days before the clock) into
//   backdated-day-10M     a 1M / 10M-event history: engine ms, recompute counters, peak heap and map
//                         memory, and DuckDB's full recompute of the same history's per-day
//                         aggregates with the speedup (issue 12); BackdatedDay.swift.
//   ingest-memory         `daybook ingest` of a ~200 MB and a ~2 GB file: peak heap and map memory
//                         of each, and their ratio (issue 12); IngestMemory.swift.
//
// Every benchmark works in a fresh temporary directory and deletes it afterwards. Each benchmark
// runs in its own process (package-benchmark does that), so `peakMemoryResident` is per benchmark.

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

// MARK: - Custom metrics

enum DaybookMetric {
    /// Events (records) handled per second of measured wall clock.
    static let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Recompute counters: the change of `daybook stats` over the measured ingest call.
    static let lineItemDaysEvaluated = BenchmarkMetric.custom("Δ line_item_days_evaluated", useScalingFactor: false)
    static let drawDownDaysEvaluated = BenchmarkMetric.custom("Δ draw_down_days_evaluated", useScalingFactor: false)
    static let eventsReread = BenchmarkMetric.custom("Δ events_reread", useScalingFactor: false)
    /// Size of the log before the measured call.
    static let historyEvents = BenchmarkMetric.custom("history events", useScalingFactor: false)
}

let standardMetrics: [BenchmarkMetric] = [.wallClock, .throughput, .peakMemoryResident, .mallocCountTotal]

// MARK: - Helpers

/// A fresh directory under the system temporary directory.
func makeTemporaryDirectory(_ label: String) throws -> String {
    let base = FileManager.default.temporaryDirectory.path
    var template = Array("\(base)/daybook-bench-\(label)-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw BenchError("mkdtemp failed for \(label): errno \(errno)")
    }
    return String(cString: made)
}

func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func day(_ y: Int, _ m: Int, _ d: Int) -> Day { Day(year: y, month: m, day: d)! }

func records(_ lines: some Collection<String>, first: Int = 1) -> [IngestRecord] {
    var out: [IngestRecord] = []
    out.reserveCapacity(lines.count)
    var n = first
    for line in lines {
        out.append(IngestRecord(bytes: Array(line.utf8), position: "line \(n)"))
        n += 1
    }
    return out
}

func counters(_ engine: Engine) throws -> [String: UInt64] {
    Dictionary(try engine.statsFields(), uniquingKeysWith: { a, _ in a })
}

/// Hands freed heap back to the OS so that `peakMemoryResident` of the measured phase is not
/// dominated by what an unmeasured setup left behind.
func trimHeap() {
    #if canImport(Glibc)
        // malloc_trim is glibc's (malloc.h, not in the Glibc module): look it up at run time.
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        }
    #endif
}

/// Resident memory of this process from /proc/self/status (Linux), in MiB: the current total,
/// its anonymous part (heap), its file-backed part (mostly LMDB's memory map, reclaimable page
/// cache) and the process-lifetime peak (VmHWM, which includes any setup).
struct Resident: CustomStringConvertible {
    var current = 0, anonymous = 0, file = 0, peak = 0

    static func now() -> Resident {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return Resident() }
        func field(_ name: String) -> Int {
            for line in text.split(separator: "\n") where line.hasPrefix(name) {
                return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) / 1024
            }
            return 0
        }
        return Resident(
            current: field("VmRSS:"), anonymous: field("RssAnon:"), file: field("RssFile:"), peak: field("VmHWM:"))
    }

    var description: String {
        "RSS \(current) MiB (anon \(anonymous), file-backed \(file); process peak \(peak))"
    }
}

func report(_ text: String) {
    FileHandle.standardError.write(Data("[daybook-bench] \(text)\n".utf8))
}

func formatRate(_ perSecond: Double) -> String {
    let n = Int(perSecond.rounded())
    var s = String(n)
    var i = s.count - 3
    while i > 0 {
        s.insert(",", at: s.index(s.startIndex, offsetBy: i))
        i -= 3
    }
    return s
}

/// Ingests `records` in chunks of `batch`, retrying a chunk once if the LMDB map had to grow
/// (an ingest is atomic, so a failed one changed nothing).
@discardableResult
func ingestInBatches(_ engine: Engine, _ records: [IngestRecord], batch: Int, source: String, now: Timestamp) throws
    -> IngestSummary
{
    var total = IngestSummary()
    var start = 0
    while start < records.count {
        let chunk = Array(records[start..<min(start + batch, records.count)])
        do {
            total += try engine.ingest(chunk, source: source, now: now)
        } catch {
            report("ingest of \(chunk.count) records failed (\(error)); retrying once")
            total += try engine.ingest(chunk, source: source, now: now)
        }
        start += batch
    }
    return total
}

/// `count` new events (no duplicates, invalid or backdated records) for `customers`, dated over
/// `days` days from `start`: the generator aims a little above `count` (weekdays at 100%, weekends
/// at 40%: ~0.83 weekday-equivalents per day) and an evenly spaced sample of its lines is taken,
/// so every day is covered.
func spreadEvents(count: Int, customers: [String], start: Day, days: Int, seed: UInt64, idPrefix: String)
    -> [String]
{
    var generator = WorkloadGenerator(start: start)
    generator.customers = customers
    generator.days = days
    generator.eventsPerDay = count * 10 / (7 * days * (customers.count + 1)) + 1
    generator.seed = seed
    generator.idPrefix = idPrefix
    generator.duplicatePerMille = 0
    generator.invalidPerMille = 0
    generator.backdatedPerMille = 0
    var lines = generator.lines()
    // Each customer's daily count is rounded down: with many customers and few events the aim
    // falls short, so aim higher until it does not.
    while lines.count < count {
        generator.eventsPerDay *= 2
        lines = generator.lines()
    }
    return (0..<count).map { lines[$0 * lines.count / count] }
}

// MARK: - (a) ingest throughput

/// ~200k records over 30 days for the generator's 3 default customers, with its default share of
/// duplicate, invalid and backdated records, against the example catalog.
final class IngestWorkload: @unchecked Sendable {
    // @unchecked: written once in the benchmark's setup hook, read afterwards on one thread.
    static let start = day(2026, 10, 1)
    static let days = 30
    /// The ingest clock: every generated record (backdated up to 5 days before `start`, up to the
    /// end of the last day) lies in [now - 34 days, now + 1 day].
    static let now = Timestamp(day: start.adding(days: days - 1))
    static let batchSize = 20_000

    var records: [IngestRecord] = []

    func prepare() {
        guard records.isEmpty else { return }
        var generator = WorkloadGenerator(start: Self.start)
        generator.days = Self.days
        generator.eventsPerDay = 2_000
        generator.seed = 42
        generator.idPrefix = "ingest-"
        records = DaybookBenchmarks.records(generator.lines())
        report("ingest-throughput: \(records.count) records, batches of \(Self.batchSize), now \(Self.now)")
    }
}

// MARK: - (b) backdated apply on a long history

/// A catalog modelled on the example catalog with `customers` customers, each with one contract on
/// the "standard" rate card and a commit balance.
func historyCatalog(customers: [String], starts: Day = day(2026, 1, 1), maxLatenessDays: Int = 34) -> [UInt8] {
    let contracts = customers.map { id in
        """
            {"id": "\(id)", "name": "Customer \(id)", "contracts": [
              {"id": "\(id)-2026", "rate_card": "standard", "starts": "\(starts)", "ends": null,
               "billing_anchor_day": 1,
               "balances": [
                 {"id": "\(id)-commit-2026", "type": "commit", "amount": "250000.00",
                  "starts": "\(starts)", "ends": "2027-01-01", "products": null, "priority": 1}]}]}
        """
    }
    // The example catalog's settings, metrics, products and rate cards, with these customers.
    return Array(ExampleCatalog.withCustomers(contracts, maxLatenessDays: maxLatenessDays).utf8)
}

/// Ingests a generated history of `size` events over `start..<end` for `customers`,
/// chronologically in `chunkDays`-day chunks, each ingested (batches of 50,000) with the clock at
/// the chunk's end, so nothing is too late and every invoice due by then finalizes on the clock.
/// No duplicates or invalid records; the generator's default 5% backdated by up to 5 days.
/// With `monthAligned` no chunk crosses the first of a month, so every event of a month is in
/// before the month's invoices finalize (a chunk that crossed a month end would otherwise be
/// ingested after the clock finalized that month, and its first days would drift).
/// `emit`, when given, gets each chunk's lines before they are ingested (the history as NDJSON,
/// for a second system to load: the DuckDB comparison of BackdatedDay.swift).
/// Returns the generator's per-weekday volume per customer (`eventsPerDay`).
@discardableResult
func ingestHistory(
    _ engine: Engine, customers: [String], from start: Day, to end: Day, size: Int, chunkDays: Int = 7,
    monthAligned: Bool = false, emit: (([String]) throws -> Void)? = nil
) throws -> Int {
    let totalDays = start.distance(to: end)
    // Weekday-equivalent days (weekends run at 40%) times the generator's per-day volume:
    // eventsPerDay * (customers + 1) events on a weekday.
    var weight = 0.0
    for d in 0..<totalDays {
        let weekday = Int((start.adding(days: d).number % 7 + 7 + 3) % 7)
        weight += weekday >= 5 ? 0.4 : 1.0
    }
    let eventsPerDay = Int((Double(size) / (weight * Double(customers.count + 1))).rounded(.up)) + 1
    var ingested = 0
    var chunk = 0
    var chunkStart = start
    while chunkStart < end && ingested < size {
        var days = min(chunkDays, chunkStart.distance(to: end))
        if monthAligned {
            let nextMonth = chunkStart.adding(
                days: Day.daysInMonth(year: chunkStart.year, month: chunkStart.month) - chunkStart.dayOfMonth + 1)
            days = min(days, chunkStart.distance(to: nextMonth))
        }
        var generator = WorkloadGenerator(start: chunkStart)
        generator.customers = customers
        generator.days = days
        generator.eventsPerDay = eventsPerDay
        generator.seed = UInt64(1000 + chunk)
        generator.idPrefix = "h\(chunk)-"
        generator.duplicatePerMille = 0
        generator.invalidPerMille = 0
        var lines = generator.lines()
        if ingested + lines.count > size { lines.removeLast(ingested + lines.count - size) }
        try emit?(lines)
        let summary = try ingestInBatches(
            engine, records(lines), batch: 50_000, source: "history",
            now: Timestamp(day: chunkStart.adding(days: days)))
        ingested += summary.accepted
        chunk += 1
        chunkStart = chunkStart.adding(days: days)
    }
    return eventsPerDay
}

/// A store holding a long history (2026-01-01 through 2026-10-31), built once per process in the
/// benchmark's setup hook, onto which each iteration applies 20,000 backdated events.
final class BackdatedFixture: @unchecked Sendable {
    // @unchecked: built in the setup hook, then used by the benchmark closure on one thread.
    static let customers = (1...8).map { "cust\($0 < 10 ? "0" : "")\($0)" }
    static let historyEnd = day(2026, 11, 1)  // exclusive
    static let chunkDays = 7
    static let backdatedBatch = 20_000

    let name: String
    let historySize: Int
    /// Drift mode (issue 4): a year of history, every invoice through October finalized, and the
    /// backdated events spread over the whole year, so each lands in a finalized invoice.
    let drift: Bool
    let historyStart: Day
    /// The clock of the measured ingest calls (drift: Nov 5, when October is finalized too).
    let now: Timestamp
    let backdatedDays: Int
    var path: String?
    var engine: Engine?
    var iteration = 0

    init(name: String, historySize: Int, drift: Bool = false) {
        self.name = name
        self.historySize = historySize
        self.drift = drift
        historyStart = drift ? day(2025, 11, 1) : day(2026, 1, 1)
        now = Timestamp(day: drift ? day(2026, 11, 5) : Self.historyEnd)
        backdatedDays = drift ? 365 : 30
    }

    /// Builds the history chronologically in 7-day chunks, each ingested with the clock at the
    /// chunk's end (so nothing is too late). The build uses a non-durable environment (it is not
    /// measured); the store is closed and reopened durable for the measured calls.
    func build() throws {
        guard engine == nil else { return }
        let path = try makeTemporaryDirectory(name)
        self.path = path
        let clock = ContinuousClock()
        let began = clock.now
        let customers = Self.customers
        do {
            let engine = try Engine(path: path, durable: false)
            try engine.applyCatalog(
                historyCatalog(customers: customers, starts: historyStart, maxLatenessDays: drift ? 400 : 34),
                now: Timestamp(day: historyStart))
            let eventsPerDay = try ingestHistory(
                engine, customers: customers, from: historyStart, to: Self.historyEnd, size: historySize,
                chunkDays: Self.chunkDays)
            // Bring the clock to `now` (materializes the current invoices) outside the measurement.
            // (In drift mode this also finalizes every invoice through October.)
            _ = try engine.ingest([], source: "history", now: now)
            let stats = try counters(engine)
            report(
                "\(name): built history of \(stats["events"] ?? 0) events in \(clock.now - began) "
                    + "(\(customers.count) customers, \(eventsPerDay)/weekday each, \(historyStart)..<\(Self.historyEnd), "
                    + "\(stats["invoices_finalized"] ?? 0) invoices finalized)")
        }
        trimHeap()
        report("\(name): after build, engine closed: \(Resident.now()) — the peak is the build's")
        engine = try Engine(path: path)  // durable, as in production
    }

    func teardown() {
        engine = nil
        if let path { removeDirectory(path) }
        path = nil
    }

    /// 20,000 new events, days spread over the 30 days before `now`, new transaction ids.
    func backdatedRecords() -> [IngestRecord] {
        iteration += 1
        let picked = spreadEvents(
            count: Self.backdatedBatch, customers: Self.customers, start: Self.historyEnd.adding(days: -backdatedDays),
            days: backdatedDays, seed: UInt64(500_000 + iteration), idPrefix: "bd\(iteration)-")
        return records(picked)
    }

    func run(_ benchmark: Benchmark) throws {
        guard let engine else { throw BenchError("\(name): history was not built") }
        let batch = backdatedRecords()
        let before = try counters(engine)
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let began = clock.now
        let summary = try engine.ingest(batch, source: "backdated", now: now)
        let elapsed = clock.now - began
        benchmark.stopMeasurement()
        let after = try counters(engine)
        guard summary.accepted == batch.count else {
            throw BenchError("\(name): expected \(batch.count) accepted, got \(summary.json)")
        }
        func delta(_ key: String) -> Int { Int((after[key] ?? 0) - (before[key] ?? 0)) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(batch.count) / seconds
        benchmark.measurement(DaybookMetric.eventsPerSecond, Int(rate.rounded()))
        benchmark.measurement(DaybookMetric.lineItemDaysEvaluated, delta("line_item_days_evaluated"))
        benchmark.measurement(DaybookMetric.drawDownDaysEvaluated, delta("draw_down_days_evaluated"))
        benchmark.measurement(DaybookMetric.eventsReread, delta("events_reread"))
        benchmark.measurement(DaybookMetric.historyEvents, Int(before["events"] ?? 0))
        report(
            "\(name) #\(iteration): \(batch.count) backdated events on \(before["events"] ?? 0) in "
                + "\(String(format: "%.1f", seconds * 1000)) ms = \(formatRate(rate)) events/s; "
                + "Δ line_item_days_evaluated \(delta("line_item_days_evaluated")), "
                + "Δ line_item_days_changed \(delta("line_item_days_changed")), "
                + "Δ draw_down_days_evaluated \(delta("draw_down_days_evaluated")), "
                + "Δ events_reread \(delta("events_reread"))"
                + (drift ? "; open drift records \(try engine.discrepancies().count)" : "") + "; \(Resident.now())")
    }
}

// MARK: - Registration

let benchmarks: @Sendable () -> Void = {
    let large = ProcessInfo.processInfo.environment["DAYBOOK_BENCH_LARGE"] == "1"

    // (a) the engine's own pipelined path: durable batches, the next one prepared while one is written.
    let workload = IngestWorkload()
    registerIngestThroughput("ingest-throughput", workload) { engine, _, records in
        let batches = stride(from: 0, to: records.count, by: IngestWorkload.batchSize).map {
            Array(records[$0..<min($0 + IngestWorkload.batchSize, records.count)])
        }
        return { try engine.ingest(batches: batches, source: "bench", now: IngestWorkload.now) }
    }
    // (a') the same records through the path `daybook ingest` takes since issue 7: the file read
    // by `RecordReader`, batches submitted by `IngestPipeline` to the `Writer` thread (two in flight).
    registerIngestThroughput("ingest-throughput-writer", workload) { _, path, records in
        var file: [UInt8] = []
        for r in records {
            file += r.bytes
            file.append(0x0A)
        }
        let input = path + "/input.ndjson"
        FileManager.default.createFile(atPath: input, contents: Data(file))
        let writer = try Writer(path: path)
        return {
            defer { writer.close() }
            let pipeline = IngestPipeline(source: "bench", now: IngestWorkload.now, batchSize: IngestWorkload.batchSize)
            return try pipeline.run(try RecordReader(path: input), into: writer).summary
        }
    }

    // (b)
    let sizes = large ? [(1_000_000, "1M"), (10_000_000, "10M")] : [(1_000_000, "1M"), (2_000_000, "2M")]
    for (size, label) in sizes {
        register(BackdatedFixture(name: "backdated-apply-\(label)", historySize: size))
    }
    // (d) issue 4: drift detection for backdated events into a year of finalized history.
    register(BackdatedFixture(name: "drift-detection-1M", historySize: 1_000_000, drift: true))
    // (e) issue 7: read verbs on 10M events with a 1M-event backfill into finalized invoices.
    registerReadVerbs()
    // (f) issue 10: replay --verify and replay --into over the same store.
    registerReplay()
    // (g) issue 10: the PostgreSQL warehouse export, full and incremental.
    registerWarehouse()
    // (h) issue 10: explain of one row on the same store.
    registerExplain()
    // (i) issue 11: the dashboard pages and their engine reads, a year for 1,000 customers.
    registerDashboard()
    // (j) issue 12: ingest against the floors of a bare LMDB append, with and without an id index.
    registerFloors()
    // (k) issue 12: one day of backdated events into 1M / 10M events, and DuckDB's full recompute.
    registerBackdatedDay()
    // (l) issue 12: memory of `daybook ingest` for a ~200 MB and a ~2 GB input.
    registerIngestMemory()
}

/// Registers an ingest-throughput benchmark: `prepare` gets a fresh durable store with the example
/// catalog applied (engine, path) and the records, and returns the ingest to time.
func registerIngestThroughput(
    _ name: String, _ workload: IngestWorkload,
    prepare: @escaping @Sendable (Engine, String, [IngestRecord]) throws -> () throws -> IngestSummary
) {
    Benchmark(
        name,
        configuration: .init(
            metrics: standardMetrics + [DaybookMetric.eventsPerSecond],
            warmupIterations: 1,
            maxDuration: .seconds(60),
            maxIterations: 5,
            setup: { workload.prepare() }
        )
    ) { benchmark in
        let records = workload.records
        let path = try makeTemporaryDirectory("ingest")
        defer { removeDirectory(path) }
        var summary = IngestSummary()
        let seconds: Double
        do {
            let engine = try Engine(path: path)  // durable commits
            try engine.applyCatalog(ExampleCatalog.bytes, now: Timestamp(day: day(2026, 1, 1)))
            let ingest = try prepare(engine, path, records)
            let clock = ContinuousClock()
            benchmark.startMeasurement()
            let began = clock.now
            summary = try ingest()
            let elapsed = clock.now - began
            benchmark.stopMeasurement()
            seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        let rate = Double(records.count) / seconds
        benchmark.measurement(DaybookMetric.eventsPerSecond, Int(rate.rounded()))
        report(
            "\(name): \(records.count) records in \(String(format: "%.1f", seconds * 1000)) ms = "
                + "\(formatRate(rate)) events/s (\(summary.json)); \(Resident.now())")
    }
}

/// Registers a benchmark that applies 20,000 backdated events per iteration onto a fixture's history.
func register(_ fixture: BackdatedFixture) {
    Benchmark(
        fixture.name,
        configuration: .init(
            metrics: standardMetrics + [
                DaybookMetric.eventsPerSecond, DaybookMetric.historyEvents,
                DaybookMetric.lineItemDaysEvaluated, DaybookMetric.drawDownDaysEvaluated,
                DaybookMetric.eventsReread,
            ],
            warmupIterations: 1,
            maxDuration: .seconds(30),
            maxIterations: 10,
            setup: { try fixture.build() },
            teardown: { fixture.teardown() }
        )
    ) { benchmark in
        try fixture.run(benchmark)
    }
}
