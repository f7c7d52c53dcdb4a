import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import DaybookWarehouse
import DaybookWorkload
import Foundation
import Logging
import PostgresNIO

/// The billing history the warehouse tests export: the example catalog (acme billed monthly from
/// Jan 1 with a commit and a promo credit; globex from Sep 15 on the 15th), generated usage for
/// September and October, ingested a day at a time with the clock at the next midnight, so
/// January–September finalize on the clock.
final class BillingHistory {
    let store: TemporaryStore
    var engine: Engine { store.engine }
    private var batches = 0

    init(catalog: [UInt8] = ExampleCatalog.bytes) throws {
        store = try TemporaryStore()
        try engine.applyCatalog(catalog, now: Timestamp(day: day("2026-09-01")))
    }

    /// Generated usage for `days` days from `start`, each day ingested with the clock at its end.
    func generate(from start: String, days: Int, eventsPerDay: Int = 20, seed: UInt64) throws {
        var generator = WorkloadGenerator(start: day(start))
        generator.days = days
        generator.eventsPerDay = eventsPerDay
        generator.seed = seed
        generator.idPrefix = "s\(seed)-"
        generator.customers = ["acme", "globex"]
        for (d, lines) in generator.arrivals() { try ingest(lines, now: d.adding(days: 1)) }
    }

    func ingest(_ lines: [String], now: Day) throws {
        batches += 1
        let records = lines.enumerated().map { i, line in
            IngestRecord(bytes: Array(line.utf8), position: "\(batches):\(i)")
        }
        _ = try engine.ingest(records, source: "test", now: Timestamp(day: now))
    }

    /// `count` inference events for acme on `date`, with ids `prefix-n`.
    static func inference(_ prefix: String, count: Int, on date: String, tokens: Int = 1000) -> [String] {
        (0..<count).map { n in
            #"{"transaction_id": "\#(prefix)-\#(n)", "customer_id": "acme", "event_type": "inference", "#
                + #""timestamp": "\#(date)T12:00:00Z", "properties": {"model": "model-a", "tokens": \#(tokens), "region": "us"}}"#
        }
    }

    /// The example catalog without the `seats` rate on the standard rate card: acme's `seats`
    /// line item vanishes from every one of its invoices.
    static var catalogWithoutSeats: [UInt8] {
        let rate = #"{"product": "seats", "unit_price": "12.00"},"#
        let text = ExampleCatalog.json
        precondition(text.contains(rate), "the example catalog changed")
        return Array(text.replacingOccurrences(of: rate, with: "").utf8)
    }
}

func day(_ text: String) -> Day { Day(parsing: text)! }

/// The tables as the warehouse tests compare them: the columns of one table, how they are read
/// back as text (dates as YYYY-MM-DD, numerics as their text, which keeps the loaded scale), and
/// the spec's row order (strings as bytes: `COLLATE "C"`).
enum WarehouseDump {
    struct Shape {
        var name: String
        var columns: [String]
        var dates: Set<String>
        var order: [String]
    }

    static let invoices = Shape(
        name: "invoices", columns: BreakdownExport.invoiceColumns, dates: ["period_start", "period_end", "day"],
        order: ["invoice_id", "day"])
    static let lineItems = Shape(
        name: "line_items", columns: BreakdownExport.lineItemColumns, dates: ["day"],
        order: ["invoice_id", "line_item_id", "day"])
    static let balances = Shape(
        name: "balances", columns: BreakdownExport.balanceColumns, dates: ["day"], order: ["balance_id", "day"])
    static let drift = Shape(
        name: "drift",
        columns: [
            "invoice_id", "customer_id", "line_item_id", "finalized_quantity", "finalized_subtotal",
            "finalized_credits_applied", "finalized_commits_applied", "finalized_total", "current_quantity",
            "current_subtotal", "current_credits_applied", "current_commits_applied", "current_total", "delta_total",
            "first_detected_seq", "last_changed_seq", "late_event_count",
            "array_to_string(late_transaction_ids, ' ') AS late_transaction_ids",
            "array_to_string(via_invoices, ' ') AS via_invoices",
            "array_to_string(catalog_versions, ' ') AS catalog_versions",
        ], dates: [], order: ["invoice_id", "line_item_id"])
    static let corrections = Shape(
        name: "corrections",
        columns: [
            "correction_id", "invoice_id", "customer_id", "kind", "status", "line_item_id", "quantity_delta",
            "subtotal_delta", "credits_delta", "commits_delta", "total_delta", "proposed_seq", "issued_at",
        ], dates: [], order: ["correction_id", "line_item_id"])
    static let breakdown = [invoices, lineItems, balances]

    /// The table as CSV with a header (PostgreSQL's own CSV writer; empty strings unquoted since
    /// null is `\N`), optionally with `changed_seq` last.
    static func csv(_ pg: PostgresCluster, _ shape: Shape, database: String? = nil, changedSeq: Bool = false)
        throws -> String
    {
        var select = shape.columns.map { c in
            shape.dates.contains(c)
                ? "to_char(\(c), 'YYYY-MM-DD') AS \(c)" : c.contains(" AS ") ? c : "\(c)::text AS \(c)"
        }
        if changedSeq { select.append("changed_seq") }
        let order = shape.order.map { shape.dates.contains($0) ? $0 : "\($0) COLLATE \"C\"" }.joined(separator: ", ")
        let sql =
            "COPY (SELECT \(select.joined(separator: ", ")) FROM invoice_breakdown.\(shape.name) ORDER BY \(order)) "
            + "TO STDOUT (FORMAT csv, HEADER, NULL '\\N')"
        return try pg.psql(sql, database: database)
    }

    /// Every table with `changed_seq`, for comparing two warehouses.
    static func all(_ pg: PostgresCluster, database: String? = nil) throws -> [String: String] {
        var out: [String: String] = [:]
        for shape in breakdown { out[shape.name] = try csv(pg, shape, database: database, changedSeq: true) }
        for shape in [drift, corrections] { out[shape.name] = try csv(pg, shape, database: database) }
        return out
    }

    /// Names the first line where two dumps of one table differ.
    static func firstDifference(_ a: String, _ b: String) -> String? {
        let la = a.split(separator: "\n", omittingEmptySubsequences: false)
        let lb = b.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(la.count, lb.count) {
            let x = i < la.count ? String(la[i]) : "(none)", y = i < lb.count ? String(lb[i]) : "(none)"
            if x != y { return "line \(i + 1) of \(la.count) vs \(lb.count): \(x)  vs  \(y)" }
        }
        return nil
    }
}

/// Runs the built `daybook` with `args`, output to files (no pipe to fill), and waits.
struct DaybookRun {
    var status: Int32
    var stdout: String
    var stderr: String

    static func start(_ args: [String]) throws -> (Process, URL, URL) {
        let dir = FileManager.default.temporaryDirectory
        let out = dir.appendingPathComponent("daybook-wh-\(UUID().uuidString).out")
        let err = dir.appendingPathComponent("daybook-wh-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = TestBinaries.daybook
        process.arguments = args
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        return (process, out, err)
    }

    static func finish(_ process: Process, _ out: URL, _ err: URL) -> DaybookRun {
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        return DaybookRun(
            status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    static func run(_ args: [String]) throws -> DaybookRun {
        let (process, out, err) = try start(args)
        return finish(process, out, err)
    }
}

/// A postgres-nio connection of the test's own (a reader, a lock holder), to `pg`.
func testConnection(_ pg: PostgresCluster, id: Int = 99) async throws -> PostgresConnection {
    let configuration = PostgresConnection.Configuration(
        host: "127.0.0.1", port: pg.port, username: pg.user, password: nil, database: pg.database, tls: .disable)
    return try await PostgresConnection.connect(
        configuration: configuration, id: id, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
}

/// The warehouse of `pg` (database `database`).
func warehouse(_ pg: PostgresCluster, database: String? = nil) async throws -> Warehouse {
    try await Warehouse.connect(try WarehouseURL(parsing: database.map { pg.url(database: $0) } ?? pg.url))
}
