// (l) Memory of `daybook ingest` against the size of its input (issue 12 item 5): in one
// iteration, the path `daybook ingest` runs (RecordReader → IngestPipeline → Writer, durable,
// batches of 20,000) ingests a ~200 MB generated NDJSON file into a new store, then a ~2 GB one
// into another, each with its peak heap (RssAnon) and LMDB map (RssFile) sampled every
// millisecond. Flat memory means the two peaks of heap are about equal (ratio ≈ 1).
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'ingest-memory'
//
// The files are the generator's mixed workload (4 customers on the standard rate card, 2%
// duplicates, 1% invalid, 5% backdated) over the 30 days from 2026-10-01, the clock at
// 2026-10-30; made once per process in the setup hook (not measured), or kept across runs in
// DAYBOOK_BENCH_INGEST_INPUT=DIR (made when absent). Sizes: DAYBOOK_BENCH_INGEST_SMALL_MB and
// DAYBOOK_BENCH_INGEST_LARGE_MB (default 200 and 2000).

import Benchmark
import DaybookCore
import DaybookEngine
import DaybookWorkload
import Foundation

enum IngestMemoryMetric {
    static let smallHeap = BenchmarkMetric.custom("peak heap MB, small input", useScalingFactor: false)
    static let smallMap = BenchmarkMetric.custom("peak map MB, small input", useScalingFactor: false)
    static let largeHeap = BenchmarkMetric.custom("peak heap MB, large input", useScalingFactor: false)
    static let largeMap = BenchmarkMetric.custom("peak map MB, large input", useScalingFactor: false)
    /// Large-input heap peak ÷ small-input heap peak, in per mille (1000 = flat).
    static let heapRatio = BenchmarkMetric.custom("heap ratio large ÷ small ‰", useScalingFactor: false)
    static let smallRate = BenchmarkMetric.custom(
        "records/s, small input", polarity: .prefersLarger, useScalingFactor: false)
    static let largeRate = BenchmarkMetric.custom(
        "records/s, large input", polarity: .prefersLarger, useScalingFactor: false)
}

final class IngestMemoryWorkload: @unchecked Sendable {
    // @unchecked: prepared once in the setup hook, read afterwards on one thread.
    static let start = FloorsWorkload.start
    static let days = FloorsWorkload.days
    static let now = FloorsWorkload.now
    static let customers = FloorsWorkload.customers

    let smallMB: Int
    let largeMB: Int
    private(set) var small = ""
    private(set) var large = ""
    private var temporary: String?

    init() {
        let env = ProcessInfo.processInfo.environment
        smallMB = env["DAYBOOK_BENCH_INGEST_SMALL_MB"].flatMap { Int($0) } ?? 200
        largeMB = env["DAYBOOK_BENCH_INGEST_LARGE_MB"].flatMap { Int($0) } ?? 2_000
    }

    func prepare() throws {
        guard small.isEmpty else { return }
        let dir: String
        if let kept = ProcessInfo.processInfo.environment["DAYBOOK_BENCH_INGEST_INPUT"] {
            try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
            dir = kept
        } else {
            dir = try makeTemporaryDirectory("ingest-memory")
            temporary = dir
        }
        small = try Self.input(in: dir, megabytes: smallMB)
        large = try Self.input(in: dir, megabytes: largeMB)
    }

    func teardown() {
        if let temporary { removeDirectory(temporary) }
        temporary = nil
        small = ""
        large = ""
    }

    /// `DIR/input-<N>MB.ndjson`, generated (under a temporary name, then renamed) unless present.
    static func input(in dir: String, megabytes: Int) throws -> String {
        let path = "\(dir)/input-\(megabytes)MB.ndjson"
        if FileManager.default.fileExists(atPath: path) { return path }
        let clock = ContinuousClock()
        let began = clock.now
        var generator = WorkloadGenerator(start: start)
        generator.days = days
        generator.customers = customers
        generator.seed = UInt64(12_000 + megabytes)
        generator.idPrefix = "mem\(megabytes)-"
        // ~185 bytes a line; a weekday has eventsPerDay × (customers + 1) lines, a weekend 40% of that.
        let weekdays = Double(days) * (5 + 2 * 0.4) / 7
        generator.eventsPerDay = Int(Double(megabytes) * 1e6 / 185 / (weekdays * Double(customers.count + 1)))
        let file = try LineFile(path: path + ".partial")
        try generator.forEachLine { try file.write($0) }
        try file.close()
        guard rename(path + ".partial", path) == 0 else { throw BenchError("cannot rename \(path).partial") }
        report("ingest-memory: wrote \(path): \(file.lines) lines, \(file.bytes) bytes in \(clock.now - began)")
        return path
    }
}

/// Ingests `input` into a new store (catalog applied) as `daybook ingest` does, memory sampled.
func ingestFileSampled(_ input: String) throws -> (records: Int, seconds: Double, peaks: MemorySampler.Peaks) {
    let dir = try makeTemporaryDirectory("ingest-memory-store")
    defer { removeDirectory(dir) }
    try makeCatalogStore(dir, customers: IngestMemoryWorkload.customers)
    trimHeap()
    let writer = try Writer(path: dir)
    defer { writer.close() }
    var result: IngestPipeline.Result?
    let (took, peaks) = try sampled {
        try seconds { result = try ingestFile(input, into: writer, now: IngestMemoryWorkload.now) }
    }
    guard let result else { throw BenchError("ingest-memory: no result for \(input)") }
    report(
        "ingest-memory: \(input): \(result.records) records in \(String(format: "%.1f", took)) s "
            + "(\(result.summary.json)); \(peaks)")
    return (result.records, took, peaks)
}

func registerIngestMemory() {
    let workload = IngestMemoryWorkload()
    Benchmark(
        "ingest-memory",
        configuration: .init(
            metrics: [
                .wallClock, .peakMemoryResident, IngestMemoryMetric.smallHeap, IngestMemoryMetric.smallMap,
                IngestMemoryMetric.largeHeap, IngestMemoryMetric.largeMap, IngestMemoryMetric.heapRatio,
                IngestMemoryMetric.smallRate, IngestMemoryMetric.largeRate,
            ],
            timeUnits: .seconds,
            warmupIterations: 0,
            maxDuration: .seconds(600),
            maxIterations: 1,
            setup: { try workload.prepare() },
            teardown: { workload.teardown() }
        )
    ) { benchmark in
        benchmark.startMeasurement()
        let small = try ingestFileSampled(workload.small)
        trimHeap()
        let large = try ingestFileSampled(workload.large)
        benchmark.stopMeasurement()
        benchmark.measurement(IngestMemoryMetric.smallHeap, small.peaks.heapMiB)
        benchmark.measurement(IngestMemoryMetric.smallMap, small.peaks.mapMiB)
        benchmark.measurement(IngestMemoryMetric.largeHeap, large.peaks.heapMiB)
        benchmark.measurement(IngestMemoryMetric.largeMap, large.peaks.mapMiB)
        benchmark.measurement(
            IngestMemoryMetric.heapRatio, large.peaks.anonKB * 1000 / max(1, small.peaks.anonKB))
        benchmark.measurement(IngestMemoryMetric.smallRate, Int(Double(small.records) / small.seconds))
        benchmark.measurement(IngestMemoryMetric.largeRate, Int(Double(large.records) / large.seconds))
        report(
            "ingest-memory: heap peak \(large.peaks.heapMiB) MiB for the large input against "
                + "\(small.peaks.heapMiB) MiB for the small one (ratio "
                + "\(String(format: "%.2f", Double(large.peaks.anonKB) / Double(max(1, small.peaks.anonKB))))); map "
                + "\(large.peaks.mapMiB) against \(small.peaks.mapMiB) MiB")
    }
}
