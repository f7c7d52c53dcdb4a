import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookServer
import DaybookStore
import DaybookWorkload
import Foundation

/// The main job on an embedded default: a fresh store, the example catalog, a generated month
/// of usage, then invoices and a breakdown a person can read.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Daybook end to end on the example catalog and a generated month of usage.")
    @OptionGroup var ignored: IgnoredGlobalOptions
    @Option(help: "Store directory (default: a new temporary directory).") var dir: String?
    @Option(parsing: .unconditional, help: "Random seed of the generated usage.") var seed: UInt64 = 7
    @Flag(
        help: """
            Then serve the dashboard on the demo store (127.0.0.1, the demo's last clock) until \
            SIGINT or SIGTERM; prints `Dashboard: http://127.0.0.1:PORT/`.
            """)
    var serve = false
    // `.unconditional`: `--port -1` is the value -1 (rejected by the range check), not a missing value.
    @Option(parsing: .unconditional, help: "The port of --serve, 0 to 65535 (0: a free port).") var port = 8080

    /// The clock of the demo's last act: the dashboard is served as of it.
    static let lastClock = "2026-11-03T09:00:00Z"

    func validate() throws {
        try requireRange(port, 0...65535, option: "--port")
    }

    func run() throws {
        // First, before any thread starts: SIGTERM/SIGINT are taken by the service's signal thread.
        if serve { DaybookService.prepareProcess() }
        let path = dir ?? (NSTemporaryDirectory() + "daybook-demo-\(ProcessInfo.processInfo.processIdentifier)")
        try demo(path)
        guard serve else { return }
        // The demo's engine is gone (demo(_:) returned): the service opens the store on its own.
        let now = try Timestamp(parsing: Self.lastClock)
        var options = ServeOptions(data: path, clock: { now })
        options.port = port
        let service = try DaybookService(options)
        print("")
        fflush(nil)  // the demo's report before the address, also into a pipe
        try Serve.run(service) { "Dashboard: \($0)/  (as of \(now); Ctrl-C stops it)\n" }
    }

    func demo(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        let engine = try Engine(path: path)
        let start = Day(year: 2026, month: 10, day: 1)!
        let now = try Timestamp(parsing: "2026-10-31T18:00:00Z")
        try engine.applyCatalog(ExampleCatalog.bytes, now: Timestamp(day: start))
        var generator = WorkloadGenerator(start: start)
        generator.seed = seed
        generator.days = 31
        generator.eventsPerDay = 150
        // Act one: a month of usage arrives day by day (one batch per day, clock at the day's end).
        var summary = IngestSummary()
        var count = 0
        for arrival in generator.dailyArrivals() {
            let records = try RecordSplitter.split(Array(arrival.lines.joined(separator: "\n").utf8), source: "demo")
            count += records.count
            summary += try engine.ingest(
                records, source: "generated", now: Timestamp(day: arrival.day).adding(seconds: 23 * 3600))
        }
        print("Daybook demo: store \(path), example catalog, October 2026 of generated usage arriving day by day\n")
        print(
            "Ingested \(count) records: \(summary.accepted) accepted, \(summary.duplicates) duplicates, "
                + "\(summary.deadLettered) dead-lettered, \(summary.metricRejections) metric rejections\n")
        let invoices = try engine.invoicesTable(now: now)
        print("Invoices")
        print(
            TableWriter.text(
                invoices, rightAligned: ["line_items", "subtotal", "credits_applied", "commits_applied", "total"]))
        let id = "acme-2026/2026-10-01"
        let breakdown = try engine.breakdown(invoiceID: id, now: now)
        let money = ["quantity", "unit_price", "subtotal", "credits_applied", "commits_applied", "total"]
        var days = Table(
            columns: breakdown.columns.filter { !["line_item_id", "quantity", "unit_price"].contains($0) })
        days.rows = breakdown.rows.filter { $0[1] == "*" }.map { [$0[0], $0[4], $0[5], $0[6], $0[7]] }
        print("Breakdown of \(id), first 10 days (daily invoice totals)")
        days.rows = Array(days.rows.prefix(10))
        print(TableWriter.text(days, rightAligned: Set(money)))
        var lines = Table(columns: breakdown.columns)
        lines.rows = breakdown.rows.filter { $0[0] == "2026-10-05" && $0[1] != "*" }
        print("Line items of \(id) on 2026-10-05")
        print(TableWriter.text(lines, rightAligned: Set(money)), terminator: "")

        // Act two: the month closes, then backdated usage lands in the finalized invoice.
        let closing = try Timestamp(parsing: "2026-11-02T06:00:00Z")
        let finalized = try engine.finalize(now: closing)
        print("\nAct two: at \(closing) the October invoices are finalized (\(finalized.joined(separator: ", "))).")
        var late = WorkloadGenerator(start: Day(year: 2026, month: 10, day: 20)!)
        late.seed = seed + 1
        late.days = 10
        late.eventsPerDay = 20
        late.idPrefix = "late"
        late.customers = ["acme"]
        late.duplicatePerMille = 0
        late.invalidPerMille = 0
        let lateRecords = try RecordSplitter.split(
            Array(late.lines().joined(separator: "\n").utf8), source: "demo-late")
        let lateSummary = try engine.ingest(
            lateRecords, source: "backfill", now: try Timestamp(parsing: Self.lastClock))
        print("A backfill of \(lateSummary.accepted) acme events dated Oct 20–29 arrives on Nov 3.\n")
        let drifts = try engine.discrepancies()
        print("Discrepancies: finalized invoices that no longer match the live breakdown")
        printDiscrepancyReport(engine, drifts, causes: false)
        let proposals = try engine.corrections(status: .proposed)
        let d = engine.catalog?.currencyDecimals ?? 2
        print("\nProposed corrections (what to send the customers):")
        for c in proposals {
            print("  \(c.id): \(c.kind.rawValue) of \(c.totals.total.formatted(atLeast: d)), \(c.lines.count) lines")
        }
        print("\nTry: daybook discrepancies --format json --data \(path)")
        print("     daybook invoice show \(id) --data \(path) --now 2026-11-03T09:00:00Z")
        if let first = proposals.first {
            print("     daybook corrections show \(first.id) --data \(path)")
            // --as-shown: the amount the reader saw (the proposal moved with the backfill's batches).
            print(
                "     daybook corrections issue \(first.id) --as-shown \(first.totals.total.formatted(atLeast: d)) "
                    + "--note \"sent\" --data \(path) --now 2026-11-03T10:00:00Z")
        }
    }
}
