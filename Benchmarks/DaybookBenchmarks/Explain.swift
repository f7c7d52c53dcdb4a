// (h) `daybook explain` at scale (issue 10): one row of a finalized invoice on the read-verb store
// (ReadVerbs.swift: 10M events, a 1M-event backfill into finalized invoices).
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'explain.*'
//
// The store is the read-verb fixture: built by the first benchmark process of a run that needs it
// (about 2 minutes for 10M + 1M), shared with the others of the same run, or kept across runs in
// DAYBOOK_BENCH_READ_STORE=DIR (built once if DIR holds no READY marker). Same sizes
// (DAYBOOK_BENCH_READ_EVENTS, DAYBOOK_BENCH_READ_BACKFILL).

import Benchmark
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

enum ExplainMetric {
    static let indexEntries = BenchmarkMetric.custom("index entries read", useScalingFactor: false)
    static let events = BenchmarkMetric.custom("events behind the row", useScalingFactor: false)
    static let jsonBytes = BenchmarkMetric.custom("explain JSON bytes", useScalingFactor: false)
}

/// Registers `explain-row-10M`: each measured call opens a fresh `Engine` and explains one row,
/// then renders its JSON, as `daybook explain --format json` does (without the process start and
/// the write to standard output). The row: `api_requests` (a count of every inference event) of
/// `acme`, the largest customer, on Wednesday 2026-10-14, in the finalized October invoice that
/// the backfill moved: the customer's busiest kind of day, with late events in it.
func registerExplain() {
    let fixture = ReadVerbsFixture()
    let invoice = "acme-2026/2026-10-01", lineItem = "api_requests", row = day(2026, 10, 14)
    registerOnReadFixture(
        "explain-row-\(fixture.label)", fixture,
        extra: [ExplainMetric.indexEntries, ExplainMetric.events, ExplainMetric.jsonBytes]
    ) { path, benchmark, first in
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let began = clock.now
        let engine = try Engine(path: path, access: .read)
        let opened = clock.now
        let explanation = try engine.explain(invoiceID: invoice, lineItemID: lineItem, day: row)
        let explained = clock.now
        let json = explanation.json
        benchmark.stopMeasurement()
        let rendered = clock.now
        withExtendedLifetime(engine) {}
        benchmark.measurement(ExplainMetric.indexEntries, explanation.indexEntriesRead)
        benchmark.measurement(ExplainMetric.events, explanation.events.count)
        benchmark.measurement(ExplainMetric.jsonBytes, json.utf8.count)
        if first {
            report(
                "explain \(invoice) \(lineItem) \(row): \(explanation.indexEntriesRead) index entries read, "
                    + "\(explanation.events.count) events behind the row (\(explanation.lateEvents.count) late), "
                    + "quantity \(explanation.computed.quantity), subtotal \(explanation.computed.subtotal), "
                    + "\(explanation.mismatches.isEmpty ? "matches the stored row" : "MISMATCH \(explanation.mismatches)"), "
                    + "JSON \(json.utf8.count) bytes; open \(opened - began), explain \(explained - opened), "
                    + "JSON \(rendered - explained); \(fixture.summary)")
        }
    }
}
