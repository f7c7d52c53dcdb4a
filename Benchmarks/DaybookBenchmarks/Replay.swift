// (f) Replay (issue 10): `replay --verify` and `replay --into DIR` over the whole log of the
// read-verb fixture (10M events + a 1M backfill into finalized invoices, ReadVerbs.swift; the same
// DAYBOOK_BENCH_READ_* variables size it), reported as events/s. Target ≥ 1,000,000 events/s on
// 2 cores.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'replay.*'

import Benchmark
import DaybookEngine
import Foundation

enum ReplayMetric {
    static let eventsPerSecond = BenchmarkMetric.custom("events/s", useScalingFactor: false)
}

func registerReplay() {
    let fixture = ReadVerbsFixture()

    func register(_ name: String, _ body: @escaping (Engine, String) throws -> UInt64) {
        Benchmark(
            "replay-\(name)-\(fixture.label)",
            configuration: .init(
                metrics: [.wallClock, .peakMemoryResident, ReplayMetric.eventsPerSecond],
                timeUnits: .seconds,
                warmupIterations: 0,
                maxDuration: .seconds(60),
                maxIterations: 3,
                setup: { try fixture.prepare() }
            )
        ) { benchmark in
            guard let path = fixture.path else { throw BenchError("replay: no fixture") }
            let engine = try Engine(path: path, access: .read)
            let scratch = try makeTemporaryDirectory("replay")
            defer { removeDirectory(scratch) }
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let events = try body(engine, scratch + "/into")
            benchmark.stopMeasurement()
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            benchmark.measurement(ReplayMetric.eventsPerSecond, Int(Double(events) / seconds))
            report("replay \(name): \(events) events in \(String(format: "%.2f", seconds)) s = \(Int(Double(events) / seconds)) events/s")
        }
    }

    register("verify") { engine, _ in
        let mismatches = try engine.verify()
        guard mismatches.isEmpty else { throw BenchError("replay --verify: \(mismatches.count) mismatches") }
        return try engine.stats().lastSeq
    }
    register("into") { engine, dir in try engine.replay(into: dir).lastSeq }
}
