import ArgumentParser
import DaybookCore
import DaybookEngine
import Foundation

/// The main job on an embedded default: a fresh store, the example catalog, a generated month
/// of usage, then invoices and a breakdown a person can read.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Daybook end to end on the example catalog and a generated month of usage.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Store directory (default: a new temporary directory).") var dir: String?
    @Option(help: "Random seed of the generated usage.") var seed: UInt64 = 7

    func run() throws {
        let path = dir ?? (NSTemporaryDirectory() + "daybook-demo-\(ProcessInfo.processInfo.processIdentifier)")
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        let engine = try Engine(path: path)
        let start = Day(year: 2026, month: 10, day: 1)!
        let now = try Timestamp(parsing: "2026-10-31T18:00:00Z")
        try engine.applyCatalog(ExampleCatalog.bytes, now: Timestamp(day: start))
        var generator = WorkloadGenerator(start: start)
        generator.seed = seed
        generator.days = 31
        generator.eventsPerDay = 150
        let text = generator.lines().joined(separator: "\n")
        let records = try RecordSplitter.split(Array(text.utf8), source: "demo")
        let summary = try engine.ingest(records, source: "generated", now: now)
        print("Daybook demo: store \(path), example catalog, October 2026 of generated usage, clock \(now)\n")
        print("Ingested \(records.count) records: \(summary.accepted) accepted, \(summary.duplicates) duplicates, "
              + "\(summary.deadLettered) dead-lettered, \(summary.metricRejections) metric rejections\n")
        let invoices = try engine.invoicesTable(now: now)
        print("Invoices")
        print(TableWriter.text(invoices, rightAligned: ["line_items", "subtotal", "credits_applied", "commits_applied", "total"]))
        let id = "acme-2026/2026-10-01"
        let breakdown = try engine.breakdown(invoiceID: id, now: now)
        let money = ["quantity", "unit_price", "subtotal", "credits_applied", "commits_applied", "total"]
        var days = Table(columns: breakdown.columns.filter { !["line_item_id", "quantity", "unit_price"].contains($0) })
        days.rows = breakdown.rows.filter { $0[1] == "*" }.map { [$0[0], $0[4], $0[5], $0[6], $0[7]] }
        print("Breakdown of \(id), first 10 days (daily invoice totals)")
        days.rows = Array(days.rows.prefix(10))
        print(TableWriter.text(days, rightAligned: Set(money)))
        var lines = Table(columns: breakdown.columns)
        lines.rows = breakdown.rows.filter { $0[0] == "2026-10-05" && $0[1] != "*" }
        print("Line items of \(id) on 2026-10-05")
        print(TableWriter.text(lines, rightAligned: Set(money)), terminator: "")
        print("\nTry: daybook breakdown --invoice \(id) --data \(path) --now \(now)")
    }
}
