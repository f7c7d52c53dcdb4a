// (j) Floors for ingest (issue 12): in one iteration, on the same lines, time
//   (a) a bare durable LMDB append of the lines in batches of 10,000 (key: a big-endian sequence
//       number, value: the line),
//   (b) the same append plus a B-tree index of the transaction ids (insert-if-absent: what an
//       exactly-once log must write at least), and
//   (c) `daybook ingest`'s path (RecordReader → IngestPipeline → Writer, durable, its default
//       batches of 20,000) into a store with the catalog applied,
// and report (c) as ratios to (a) and (b): ratios hold on a noisy machine where absolute times do not.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'ingest-floors'
//
// The workload (`FloorsWorkload`): ~306k records for four customers on the standard rate card
// (tiers, group_by, a commit), the generator's 2% duplicates and 5% backdated records, and 36
// malformed lines spread through the file.

import Benchmark
import DaybookCore
import DaybookEngine
import DaybookWorkload
import Foundation
import LMDB

final class FloorsWorkload: @unchecked Sendable {
    // @unchecked: written once in the benchmark's setup hook, read afterwards on one thread.
    static let start = day(2026, 10, 1)
    static let days = 30
    static let now = Timestamp(day: start.adding(days: days - 1))
    static let customers = ["acme", "globex", "initech", "umbrella"]
    static let floorBatch = 10_000

    var lines: [[UInt8]] = []

    func prepare() {
        guard lines.isEmpty else { return }
        var generator = WorkloadGenerator(start: Self.start)
        generator.days = Self.days
        generator.eventsPerDay = 2_470
        generator.seed = 12
        generator.idPrefix = "floor-"
        generator.customers = Self.customers
        generator.invalidPerMille = 0
        var all = generator.lines().map { Array($0.utf8) }
        // A few dozen malformed records, as a real tail has.
        for k in 0..<36 { all[(k * 2 + 1) * all.count / 72] = Array("{\"transaction_id\": \"bad-\(k)\", ".utf8) }
        lines = all
        report("ingest-floors: \(lines.count) lines, \(lines.reduce(0) { $0 + $1.count + 1 }) bytes")
    }
}

enum FloorMetric {
    static let rawAppend = BenchmarkMetric.custom("floor raw append events/s", polarity: .prefersLarger, useScalingFactor: false)
    static let appendIndex = BenchmarkMetric.custom(
        "floor append+index events/s", polarity: .prefersLarger, useScalingFactor: false)
    static let appendHashIndex = BenchmarkMetric.custom(
        "floor append+hash index events/s", polarity: .prefersLarger, useScalingFactor: false)
    static let daybook = BenchmarkMetric.custom("daybook ingest events/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Daybook's throughput as a share of the floor's, in per mille (1000 = as fast as the floor).
    static let ratioRaw = BenchmarkMetric.custom("ratio to raw append ‰", polarity: .prefersLarger, useScalingFactor: false)
    static let ratioIndex = BenchmarkMetric.custom(
        "ratio to append+index ‰", polarity: .prefersLarger, useScalingFactor: false)
}

/// The bytes of the line's `"transaction_id": "…"` value (the generator's layout), nil when absent.
func transactionID(_ line: [UInt8]) -> ArraySlice<UInt8>? {
    let marker = Array("\"transaction_id\": \"".utf8)
    guard line.count > marker.count, let start = (0...(line.count - marker.count)).first(where: {
        line[$0..<($0 + marker.count)].elementsEqual(marker)
    }) else { return nil }
    let from = start + marker.count
    guard let end = line[from...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
    return line[from..<end]
}

/// Seconds `body` takes.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let began = clock.now
    try body()
    let elapsed = clock.now - began
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// A 128-bit key for an id: two 64-bit hashes of it (the process's seeded `Hasher`, stable within
/// the run: enough for a floor). Issue 12 item 3 proposes a fixed-size key like it.
func hashedKey(_ id: ArraySlice<UInt8>) -> [UInt8] {
    var key: [UInt8] = []
    key.reserveCapacity(16)
    for salt in 0..<2 {
        var h = Hasher()
        h.combine(salt)
        id.withUnsafeBytes { h.combine(bytes: $0) }
        withUnsafeBytes(of: UInt64(truncatingIfNeeded: h.finalize()).bigEndian) { key.append(contentsOf: $0) }
    }
    return key
}

/// The floors: a durable LMDB append of `lines` in batches, with or without the id index (keys:
/// the ids, or `hashed` 16-byte keys inserted in key order within each batch). The ids are located
/// outside the timed part (a JSON scan is Daybook's work, not the floor's).
func floorAppend(_ lines: [[UInt8]], ids: [ArraySlice<UInt8>?]?, hashed: Bool = false, batch: Int) throws -> Double {
    let path = try makeTemporaryDirectory("floor")
    defer { removeDirectory(path) }
    let env = try Environment.open(path: path, options: EnvironmentOptions(mapSize: 1 << 31))
    let log = try env.database("log")
    let index = try env.database("ids")
    return try seconds {
        var seq: UInt64 = 0
        for first in stride(from: 0, to: lines.count, by: batch) {
            let range = first..<min(first + batch, lines.count)
            // Hashed keys go in key order (B-tree inserts along one path); a repeat within the batch
            // keeps its first line, as in log order.
            var sorted: [(key: [UInt8], line: Int)] = []
            if hashed, let ids {
                sorted = range.compactMap { i in ids[i].map { (hashedKey($0), i) } }
                sorted.sort { $0.key.lexicographicallyPrecedes($1.key) || ($0.key == $1.key && $0.line < $1.line) }
            }
            try env.write { txn in
                var duplicate = Set<Int>()
                for (key, line) in sorted {
                    if !(try txn.insertIfAbsent(key, [], in: index)) { duplicate.insert(line) }
                }
                for i in range {
                    if !hashed, let ids, let id = ids[i] {
                        var value: [UInt8] = []
                        withUnsafeBytes(of: (seq + 1).bigEndian) { value.append(contentsOf: $0) }
                        guard try txn.insertIfAbsent(Array(id), value, in: index) else { continue }  // a duplicate
                    }
                    if duplicate.contains(i) { continue }
                    seq += 1
                    var key: [UInt8] = []
                    withUnsafeBytes(of: seq.bigEndian) { key.append(contentsOf: $0) }
                    try txn.put(key, lines[i], in: log, flags: .append)
                }
            }
        }
    }
}

/// A new store at `path` with the history catalog for `customers` applied (on 2026-01-01).
func makeCatalogStore(_ path: String, customers: [String]) throws {
    let engine = try Engine(path: path)
    try engine.applyCatalog(historyCatalog(customers: customers), now: Timestamp(day: day(2026, 1, 1)))
}

/// `daybook ingest`'s path: `input` read by `RecordReader`, batches of 20,000 submitted by
/// `IngestPipeline` to `writer`.
func ingestFile(_ input: String, into writer: Writer, now: Timestamp) throws -> IngestPipeline.Result {
    let pipeline = IngestPipeline(source: "bench", now: now, batchSize: 20_000)
    return try pipeline.run(try RecordReader(path: input), into: writer)
}

func registerFloors() {
    let workload = FloorsWorkload()
    Benchmark(
        "ingest-floors",
        configuration: .init(
            metrics: [
                .wallClock, .peakMemoryResident, FloorMetric.rawAppend, FloorMetric.appendIndex,
                FloorMetric.appendHashIndex, FloorMetric.daybook,
                FloorMetric.ratioRaw, FloorMetric.ratioIndex,
            ],
            warmupIterations: 1, maxDuration: .seconds(180), maxIterations: 10,
            setup: { workload.prepare() })
    ) { benchmark in
        let lines = workload.lines
        let n = Double(lines.count)
        let ids = lines.map(transactionID)
        let raw = try floorAppend(lines, ids: nil, batch: FloorsWorkload.floorBatch)
        let indexed = try floorAppend(lines, ids: ids, batch: FloorsWorkload.floorBatch)
        let hashIndexed = try floorAppend(lines, ids: ids, hashed: true, batch: FloorsWorkload.floorBatch)

        let path = try makeTemporaryDirectory("floor-daybook")
        defer { removeDirectory(path) }
        let input = path + "/input.ndjson"
        var file: [UInt8] = []
        for line in lines {
            file += line
            file.append(0x0A)
        }
        FileManager.default.createFile(atPath: input, contents: Data(file))
        let store = path + "/store"
        try makeCatalogStore(store, customers: FloorsWorkload.customers)
        let writer = try Writer(path: store)
        var summary = IngestSummary()
        benchmark.startMeasurement()
        let daybook = try seconds {
            summary = try ingestFile(input, into: writer, now: FloorsWorkload.now).summary
        }
        benchmark.stopMeasurement()
        writer.close()

        benchmark.measurement(FloorMetric.rawAppend, Int((n / raw).rounded()))
        benchmark.measurement(FloorMetric.appendIndex, Int((n / indexed).rounded()))
        benchmark.measurement(FloorMetric.appendHashIndex, Int((n / hashIndexed).rounded()))
        benchmark.measurement(FloorMetric.daybook, Int((n / daybook).rounded()))
        benchmark.measurement(FloorMetric.ratioRaw, Int((raw / daybook * 1000).rounded()))
        benchmark.measurement(FloorMetric.ratioIndex, Int((indexed / daybook * 1000).rounded()))
        report(
            "ingest-floors: \(lines.count) lines; raw append \(String(format: "%.3f", raw)) s, append+index "
                + "\(String(format: "%.3f", indexed)) s, append+hash index \(String(format: "%.3f", hashIndexed)) s, daybook \(String(format: "%.3f", daybook)) s "
                + "(\(summary.json)): ratios \(String(format: "%.3f", raw / daybook)) and "
                + "\(String(format: "%.3f", indexed / daybook))")
    }
}
