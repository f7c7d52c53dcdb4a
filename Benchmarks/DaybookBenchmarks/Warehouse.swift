// (g) Warehouse export (issue 10): `daybook export --postgres` into a PostgreSQL the benchmark
// starts itself (DaybookTestSupport's PostgresCluster: initdb + pg_ctl on a free loopback port,
// fsync off).
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'warehouse.*'
//
// warehouse-full-export         a year (2026) for 100 customers, every row of the export loaded
//                               (COPY into new tables, keys, swap) → rows/s.
// warehouse-incremental-export  per iteration one more day of late events (every customer, dated
//                               in December, ingested at the clock 2027-01-01), then an incremental
//                               export → rows written vs the rows the tables hold, and time.
//
// Sizes: DAYBOOK_BENCH_WH_CUSTOMERS (default 100), DAYBOOK_BENCH_WH_EVENTS (history, default
// 500,000), DAYBOOK_BENCH_WH_LATE (late events per iteration, default 2,000).

import Benchmark
import DaybookCore
import DaybookEngine
import DaybookTestSupport
import DaybookWarehouse
import DaybookWorkload
import Foundation

enum WarehouseMetric {
    static let rowsPerSecond = BenchmarkMetric.custom("rows/s", polarity: .prefersLarger, useScalingFactor: false)
    static let rowsWritten = BenchmarkMetric.custom("rows written", useScalingFactor: false)
    static let tableRows = BenchmarkMetric.custom("rows in the tables", useScalingFactor: false)
}

/// A store with a year of history for `customers` customers and a PostgreSQL to export it to.
final class WarehouseFixture: @unchecked Sendable {
    // @unchecked: built in the setup hook, then used by the benchmark closure on one thread.
    static let historyStart = day(2026, 1, 1)
    static let asOf = day(2027, 1, 1)
    let customers: [String]
    let events: Int
    let late: Int
    var path: String?
    var engine: Engine?
    var cluster: PostgresCluster?
    var lateBatches = 0

    init() {
        let env = ProcessInfo.processInfo.environment
        let n = env["DAYBOOK_BENCH_WH_CUSTOMERS"].flatMap { Int($0) } ?? 100
        customers = (1...n).map { "c\(String(format: "%03d", $0))" }
        events = env["DAYBOOK_BENCH_WH_EVENTS"].flatMap { Int($0) } ?? 500_000
        late = env["DAYBOOK_BENCH_WH_LATE"].flatMap { Int($0) } ?? 2_000
    }

    func prepare() throws {
        guard engine == nil else { return }
        let clock = ContinuousClock()
        let began = clock.now
        let path = try makeTemporaryDirectory("warehouse")
        self.path = path
        let engine = try Engine(path: path, durable: false)
        try engine.applyCatalog(
            historyCatalog(customers: customers, starts: Self.historyStart, maxLatenessDays: 400),
            now: Timestamp(day: Self.historyStart))
        try ingestHistory(engine, customers: customers, from: Self.historyStart, to: Self.asOf, size: events)
        self.engine = engine
        cluster = try PostgresCluster()
        report("warehouse: \(customers.count) customers, \(events) events in 2026, built in \(clock.now - began)")
    }

    func teardown() {
        cluster?.stop()
        engine = nil
        if let path { removeDirectory(path) }
    }

    /// One day of late events for every customer, dated in December (a different day each call).
    func lateRecords() -> [IngestRecord] {
        lateBatches += 1
        var generator = WorkloadGenerator(start: day(2026, 12, 1).adding(days: lateBatches % 28))
        generator.customers = customers
        generator.days = 1
        generator.eventsPerDay = max(1, late * 10 / (10 * (customers.count + 1)))
        generator.seed = UInt64(9000 + lateBatches)
        generator.idPrefix = "late\(lateBatches)-"
        generator.duplicatePerMille = 0
        generator.invalidPerMille = 0
        generator.backdatedPerMille = 0
        return records(generator.lines())
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func registerWarehouse() {
    let fixture = WarehouseFixture()
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .peakMemoryResident, WarehouseMetric.rowsPerSecond, WarehouseMetric.rowsWritten,
            WarehouseMetric.tableRows],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(60),
        maxIterations: 5,
        setup: { try fixture.prepare() },
        teardown: { fixture.teardown() }
    )

    Benchmark("warehouse-full-export", configuration: configuration) { benchmark in
        guard let engine = fixture.engine, let pg = fixture.cluster else { throw BenchError("warehouse: no fixture") }
        let clock = ContinuousClock()
        let read = clock.now
        let export = try engine.warehouseExport(asOf: WarehouseFixture.asOf)
        let drift = engine.warehouseDrift(export)
        let readTime = clock.now - read
        let warehouse = try await Warehouse.connect(try WarehouseURL(parsing: pg.url))
        benchmark.startMeasurement()
        let result = try await warehouse.exportFull(export, drift: drift)
        benchmark.stopMeasurement()
        await warehouse.close()
        let rows = result.rowsWritten
        let rate = Double(rows) / seconds(result.duration)
        benchmark.measurement(WarehouseMetric.rowsPerSecond, Int(rate.rounded()))
        benchmark.measurement(WarehouseMetric.rowsWritten, Int(rows))
        benchmark.measurement(WarehouseMetric.tableRows, Int(rows))
        report(
            "warehouse-full-export: \(rows) rows (invoices \(result.written["invoices"] ?? 0), line items "
                + "\(result.written["line_items"] ?? 0), balances \(result.written["balances"] ?? 0)) in "
                + "\(result.duration) = \(formatRate(rate)) rows/s; engine read \(readTime)")
    }

    Benchmark("warehouse-incremental-export", configuration: configuration) { benchmark in
        guard let engine = fixture.engine, let pg = fixture.cluster else { throw BenchError("warehouse: no fixture") }
        let warehouse = try await Warehouse.connect(try WarehouseURL(parsing: pg.url))
        if try await warehouse.lastExport() == nil {
            let first = try engine.warehouseExport(asOf: WarehouseFixture.asOf)
            _ = try await warehouse.exportFull(first, drift: engine.warehouseDrift(first))
        }
        let late = fixture.lateRecords()
        _ = try engine.ingest(late, source: "late", now: Timestamp(day: WarehouseFixture.asOf))
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let began = clock.now
        guard let last = try await warehouse.lastExport() else { throw BenchError("warehouse: no full export") }
        let export = try engine.warehouseExport(
            asOf: WarehouseFixture.asOf, since: ExportBasis(position: last.position, asOf: last.asOf))
        let read = clock.now - began
        let result = try await warehouse.exportIncremental(export, drift: engine.warehouseDrift(export), basedOn: last)
        let total = clock.now - began
        benchmark.stopMeasurement()
        await warehouse.close()
        let tableRows = ["invoices", "line_items", "balances"].reduce(Int64(0)) { $0 + (result.record.rowCounts[$1] ?? 0) }
        let written = ["invoices", "line_items", "balances"].reduce(Int64(0)) { $0 + (result.written[$1] ?? 0) }
        let deleted = ["invoices", "line_items", "balances"].reduce(Int64(0)) { $0 + (result.deleted[$1] ?? 0) }
        benchmark.measurement(WarehouseMetric.rowsWritten, Int(written))
        benchmark.measurement(WarehouseMetric.tableRows, Int(tableRows))
        benchmark.measurement(WarehouseMetric.rowsPerSecond, Int((Double(written) / seconds(result.duration)).rounded()))
        report(
            "warehouse-incremental-export: \(late.count) late events; \(written) rows written of \(tableRows) "
                + "(\(String(format: "%.2f", Double(written) * 100 / Double(max(tableRows, 1))))%), "
                + "\(deleted) deleted (drift: \(result.written["drift"] ?? 0) rows replaced); engine read \(read), PostgreSQL \(result.duration), total \(total)")
    }
}
