// (i) The dashboard at scale (issue 11): each page rendered by `Dashboard.render`, and the engine
// reads behind them alone, on a store with a year of daily data for 1,000 customers.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --filter 'dashboard.*'
//
// Target: each page p50 < 200 ms. The store is built by the first benchmark process of a run
// that needs it and shared with the others (ReadVerbs.swift, `prepareSharedStore`), or kept in
// DAYBOOK_BENCH_DASHBOARD_STORE=DIR across runs (built once if DIR holds no READY marker). Size:
// DAYBOOK_BENCH_DASHBOARD_CUSTOMERS (default 1,000).

import Benchmark
import DaybookCore
import DaybookDashboard
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

/// The dashboard store: `customers` customers `c0001` … from `CatalogGenerator` (seed 11: one
/// contract each from 2025-12-01, commits of 2,500–100,000, some credits, anchor days 1, 8, 15
/// and 22), and the generator's workload over 2025-12-01 ..< 2026-11-25 (359 days), about 10
/// events per customer per weekday (4 on weekends; the first customers bigger), ingested on time
/// in chunks of at most 7 days that do not cross a month, so the history itself makes no drift.
/// Then, with the clock at 2026-11-25 (every period ended by 2026-11-24 finalized), 20,000 late
/// events dated in October for every customer: drift in the finalized October invoices.
final class DashboardFixture: SharedStoreFixture, @unchecked Sendable {
    // @unchecked: prepared once in a setup hook, then read by the benchmark closure on one thread.
    static let historyStart = day(2025, 12, 1)
    /// Exclusive end of the history, and the clock of the pages.
    static let clockDay = day(2026, 11, 25)
    static let now = Timestamp(day: clockDay)
    static let lateEvents = 20_000
    static let customer = "c0500"

    let customers: [String]
    private(set) var path: String?
    private(set) var summary = ""
    /// The engine the pages read with, opened once per process, as `serve` keeps its read engines.
    private(set) var engine: Engine?
    /// The finalized, drifted October invoice of ``customer`` (its id depends on its anchor day).
    private(set) var invoiceID = ""

    init() {
        let count =
            ProcessInfo.processInfo.environment["DAYBOOK_BENCH_DASHBOARD_CUSTOMERS"].flatMap { Int($0) } ?? 1_000
        customers = CatalogGenerator.customerIDs(count: count)
    }

    var label: String { ReadVerbsFixture.sizeLabel(customers.count) }

    func prepare() throws {
        guard path == nil else { return }
        let store = try prepareSharedStore(
            kind: "dashboard", suffix: label,
            kept: ProcessInfo.processInfo.environment["DAYBOOK_BENCH_DASHBOARD_STORE"], build: build(at:))
        path = store.path
        summary = store.summary
        let engine = try Engine(path: store.path, access: .read)
        self.engine = engine
        let october = day(2026, 10, 20)
        guard
            let invoice = try engine.invoices(now: Self.now, customer: Self.customer).first(where: {
                $0.period.start <= october && october < $0.period.end
            })
        else { throw BenchError("dashboard: \(Self.customer) has no invoice holding \(october)") }
        invoiceID = invoice.invoiceID
    }

    private func build(at path: String) throws -> String {
        let clock = ContinuousClock()
        let began = clock.now
        let engine = try Engine(path: path, durable: false)
        var catalog = CatalogGenerator(customers: customers, start: Self.historyStart)
        catalog.seed = 11
        catalog.days = Self.historyStart.distance(to: Self.clockDay)
        try engine.applyCatalog(Array(catalog.json().utf8), now: Timestamp(day: Self.historyStart))
        // ~10 events per customer per weekday: the generator's volume is eventsPerDay × (customers + 1) a weekday.
        let weekdays = Double(Self.historyStart.distance(to: Self.clockDay)) * (5 + 2 * 0.4) / 7
        let size = Int(weekdays * 10 * Double(customers.count))
        let eventsPerDay = try ingestHistory(
            engine, customers: customers, from: Self.historyStart, to: Self.clockDay, size: size, monthAligned: true)
        _ = try engine.ingest([], source: "history", now: Self.now)
        let historyDone = clock.now
        let history = try counters(engine)

        let picked = spreadEvents(
            count: Self.lateEvents, customers: customers, start: day(2026, 10, 1), days: 31, seed: 909,
            idPrefix: "late-")
        let late = try ingestInBatches(engine, records(picked), batch: 50_000, source: "late", now: Self.now)
        let stats = try counters(engine)
        let alerts = try engine.balanceAlerts(now: Self.now, withinDays: 30)
        let text =
            "\(stats["events"] ?? 0) events (history \(history["events"] ?? 0), \(eventsPerDay)/weekday for the "
            + "generator, + \(late.accepted) late October events), \(customers.count) customers, "
            + "\(try engine.invoices(now: Self.now).count) invoices, \(stats["invoices_finalized"] ?? 0) finalized, "
            + "\(try engine.discrepancies().count) open drift records, \(alerts.count) balance alerts "
            + "(\(alerts.filter { $0.status == .exhausted }.count) exhausted) within 30 days of \(Self.clockDay); "
            + "built in \(clock.now - began) (history \(historyDone - began))"
        report("dashboard: built \(text)")
        return text
    }
}

enum DashboardMetric {
    static let bytes = BenchmarkMetric.custom("page bytes", useScalingFactor: false)
    static let items = BenchmarkMetric.custom("items", useScalingFactor: false)
}

/// Registers one benchmark per page (`dashboard-page-*`) and per engine read (`dashboard-read-*`).
func registerDashboard() {
    let fixture = DashboardFixture()
    let now = DashboardFixture.now
    let from = DashboardFixture.clockDay.adding(days: -59)  // the pages' default: the last 60 days
    let to = DashboardFixture.clockDay

    func page(
        _ name: String, _ path: @escaping @Sendable () -> String,
        query: @escaping @Sendable () -> [(String, String)] = { [] }
    ) {
        registerOnReadFixture("dashboard-page-\(name)-\(fixture.label)", fixture, extra: [DashboardMetric.bytes]) {
            _, benchmark, first in
            guard let engine = fixture.engine else { throw BenchError("dashboard: no engine") }
            let url = path()
            let query = query()
            benchmark.startMeasurement()
            let rendered = try Dashboard.render(path: url, query: query, engine: engine, now: now)
            benchmark.stopMeasurement()
            guard let page = rendered else {
                throw BenchError("dashboard: Dashboard.render returned nil for \(url): the page is not implemented")
            }
            guard page.status == 200 else {
                throw BenchError("dashboard: \(url) answered \(page.status): \(page.body.prefix(300))")
            }
            benchmark.measurement(DashboardMetric.bytes, page.body.utf8.count)
            if first { report("dashboard page \(url): \(page.body.utf8.count) bytes; \(fixture.summary)") }
        }
    }
    page("revenue", { "/" })
    page("quantity", { "/" }, query: { [("metric", "quantity")] })
    page("customers", { "/customers" })
    page("customer", { "/customers/\(DashboardFixture.customer)" })
    // The id URL-encoded, its `/` as %2F.
    let segment = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
    @Sendable func invoicePath() -> String {
        "/invoices/" + (fixture.invoiceID.addingPercentEncoding(withAllowedCharacters: segment) ?? "")
    }
    page("invoice", { invoicePath() })
    // One row of the drifted invoice: api_requests (on both rate cards) on the period's first day.
    page("explain", { invoicePath() + "/explain" }) {
        [("line_item", "api_requests"), ("day", String(fixture.invoiceID.split(separator: "/").last ?? ""))]
    }
    page("discrepancies", { "/discrepancies" })

    func read(_ name: String, _ body: @escaping (Engine) throws -> (Int, String)) {
        registerOnReadFixture("dashboard-read-\(name)-\(fixture.label)", fixture, extra: [DashboardMetric.items]) {
            _, benchmark, first in
            guard let engine = fixture.engine else { throw BenchError("dashboard: no engine") }
            benchmark.startMeasurement()
            let (items, text) = try body(engine)
            benchmark.stopMeasurement()
            benchmark.measurement(DashboardMetric.items, items)
            if first { report("dashboard read \(name): \(text); \(fixture.summary)") }
        }
    }
    read("revenue") { engine in
        let r = try engine.revenue(from: from, to: to, now: now)
        return (r.products.count, "\(r.products.count) products over \(r.from)...\(r.to)")
    }
    read("customer") { engine in
        let r = try engine.customerReport(id: DashboardFixture.customer, from: from, to: to, now: now)
        return (r.balances.count, "\(r.products.count) products, \(r.balances.count) balances")
    }
    read("projections") { engine in
        let p = try engine.balanceProjections(now: now)
        return (p.count, "\(p.count) balances projected")
    }
    read("alerts") { engine in
        let a = try engine.balanceAlerts(now: now, withinDays: 30)
        return (a.count, "\(a.count) alerts within 30 days")
    }
}
