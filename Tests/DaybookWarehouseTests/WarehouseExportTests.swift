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
import Synchronization
import Testing

/// `daybook export --postgres` (SPEC §5) against a real PostgreSQL each test starts (PostgresCluster).
@Suite("Warehouse export to PostgreSQL", .watchdog(seconds: Watchdog.asyncBound))
struct WarehouseExportTests {
    /// The loaded tables equal the CSV export row for row, with the spec's types and keys; the
    /// drift table holds the discrepancy report; a second full export leaves the same tables.
    @Test func fullExportEqualsTheCSVExport() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let history = try BillingHistory()
        try history.generate(from: "2026-09-01", days: 38, seed: 7)
        // Late usage in finalized September: drift with causes.
        try history.ingest(BillingHistory.inference("late", count: 3, on: "2026-09-10"), now: day("2026-10-09"))
        let engine = history.engine
        let asOf = day("2026-10-09")
        let drift = try engine.discrepancies()
        try #require(!drift.isEmpty, "the history has drift to export")

        let w = try await warehouse(pg)
        let export = try engine.warehouseExport(asOf: asOf)
        #expect(export.drift == drift, "the export reads the drift in its own transaction")
        let report = try await w.exportFull(export, drift: engine.warehouseDrift(export))
        await w.close()

        let files = try engine.export(asOf: asOf)
        for (shape, table) in zip(WarehouseDump.breakdown, [files.invoices, files.lineItems, files.balances]) {
            let loaded = try WarehouseDump.csv(pg, shape)
            let expected = TableWriter.csv(table)
            #expect(loaded == expected, "\(shape.name): \(WarehouseDump.firstDifference(loaded, expected) ?? "")")
            #expect(report.record.rowCounts[shape.name] == Int64(table.rows.count))
        }
        #expect(!files.lineItems.rows.isEmpty && !files.balances.rows.isEmpty)
        let driftCSV = TableWriter.csv(engine.discrepanciesTable(drift))
        #expect(try WarehouseDump.csv(pg, WarehouseDump.drift) == driftCSV)
        #expect(try pg.psql("select count(*) from invoice_breakdown.corrections") == "0\n")

        // Types and keys as SPEC §5 says.
        let types = try pg.psql(
            """
            select table_name || '.' || column_name || '=' || data_type from information_schema.columns
            where table_schema = 'invoice_breakdown' and table_name in ('invoices', 'balances')
            order by table_name, ordinal_position
            """
        ).split(separator: "\n")
        #expect(types.contains("invoices.period_start=date") && types.contains("invoices.day=date"))
        #expect(types.contains("invoices.total=numeric") && types.contains("invoices.status=text"))
        #expect(types.contains("balances.closing=numeric") && types.contains("invoices.changed_seq=bigint"))
        let keys = try pg.psql(
            """
            select c.relname || ':' || string_agg(a.attname, ',' order by k.n)
            from pg_index i join pg_class c on c.oid = i.indrelid
            join pg_namespace s on s.oid = c.relnamespace and s.nspname = 'invoice_breakdown'
            cross join lateral unnest(i.indkey) with ordinality k(attnum, n)
            join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
            where i.indisprimary group by c.relname order by c.relname
            """)
        #expect(keys.contains("invoices:invoice_id,day\n"))
        #expect(keys.contains("line_items:invoice_id,line_item_id,day\n"))
        #expect(keys.contains("balances:balance_id,day\n"))
        // The exports row: as-of date, log seq, row counts.
        let state = try engine.warehouseExport(asOf: asOf)
        let row = try pg.psql(
            "select kind, as_of, log_seq, invoices_rows, line_items_rows, balances_rows, drift_rows from invoice_breakdown.exports"
        )
        #expect(
            row
                == "full|2026-10-09|\(state.logSeq)|\(files.invoices.rows.count)|\(files.lineItems.rows.count)|"
                + "\(files.balances.rows.count)|\(drift.count)\n")

        // Again: the same tables, a second exports row.
        let before = try WarehouseDump.all(pg)
        let again = try await warehouse(pg)
        _ = try await again.exportFull(export, drift: engine.warehouseDrift(export))
        await again.close()
        #expect(try WarehouseDump.all(pg) == before)
        #expect(try pg.psql("select count(*) from invoice_breakdown.exports") == "2\n")
    }

    /// After late events, a catalog change that removes a line item and new days, an incremental
    /// export (`--incremental`, and `--changed-since` the first export's log seq) leaves the tables
    /// equal to a full export, and writes fewer rows than the tables hold.
    @Test func incrementalExportEqualsAFullOne() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        for database in ["incremental", "since", "complete"] { try pg.psql("create database \(database)") }
        let history = try BillingHistory()
        try history.generate(from: "2026-09-01", days: 39, seed: 11)
        let data = history.store.path
        for database in ["incremental", "since"] {
            let run = try DaybookRun.run([
                "export", "--as-of", "2026-10-10", "--postgres", pg.url(database: database), "--data", data,
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let firstSeq = try history.engine.warehouseExport(asOf: day("2026-10-10")).logSeq
        // Late events in finalized September; acme loses its seats line item; five more days.
        try history.ingest(BillingHistory.inference("late", count: 4, on: "2026-09-12"), now: day("2026-10-11"))
        try history.engine.applyCatalog(BillingHistory.catalogWithoutSeats, now: Timestamp(day: day("2026-10-11")))
        try history.generate(from: "2026-10-10", days: 5, seed: 12)
        #expect(!(try history.engine.discrepancies().isEmpty))

        let incremental = try DaybookRun.run([
            "export", "--as-of", "2026-10-15", "--postgres", pg.url(database: "incremental"), "--incremental",
            "--data", data,
        ])
        #expect(incremental.status == 0, "\(incremental.stderr)")
        let since = try DaybookRun.run([
            "export", "--as-of", "2026-10-15", "--postgres", pg.url(database: "since"), "--changed-since",
            "\(firstSeq)", "--data", data,
        ])
        #expect(since.status == 0, "\(since.stderr)")
        let full = try DaybookRun.run([
            "export", "--as-of", "2026-10-15", "--postgres", pg.url(database: "complete"), "--data", data,
        ])
        #expect(full.status == 0, "\(full.stderr)")

        // The full export is the CSV export; the incremental ones equal it, changed_seq included.
        let files = try history.engine.export(asOf: day("2026-10-15"))
        #expect(
            try WarehouseDump.csv(pg, WarehouseDump.lineItems, database: "complete") == TableWriter.csv(files.lineItems)
        )
        let expected = try WarehouseDump.all(pg, database: "complete")
        for database in ["incremental", "since"] {
            let actual = try WarehouseDump.all(pg, database: database)
            for (table, text) in expected {
                #expect(
                    actual[table] == text,
                    "\(database).\(table): \(WarehouseDump.firstDifference(actual[table] ?? "", text) ?? "")")
            }
        }
        // The seats rows are gone, not left behind by the upsert.
        #expect(
            try pg.psql(
                "select count(*) from invoice_breakdown.line_items where product_id = 'seats'", database: "incremental")
                == "0\n")
        // Cost follows the change: fewer rows written than the tables hold, deletions reported.
        let counts = try pg.psql(
            "select rows_written, rows_deleted, invoices_rows + line_items_rows + balances_rows from invoice_breakdown.exports "
                + "where kind = 'incremental'", database: "incremental"
        ).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").compactMap { Int($0) }
        try #require(counts.count == 3)
        #expect(counts[0] < counts[2], "rows written \(counts[0]) vs \(counts[2]) in the tables")
        #expect(counts[1] > 0, "the seats rows were deleted")
        #expect(incremental.stdout.contains("incremental export"))

        // Retried: the same tables (and nothing left to write).
        let retry = try DaybookRun.run([
            "export", "--as-of", "2026-10-15", "--postgres", pg.url(database: "incremental"), "--incremental",
            "--data", data,
        ])
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try WarehouseDump.all(pg, database: "incremental") == expected)
        #expect(retry.stdout.contains("line_items: 0 rows written, 0 deleted"), "\(retry.stdout)")
    }

    /// A reader querying in a loop on its own connection while full exports of two different
    /// snapshots alternate sees, every time, the row counts and totals of one of them.
    @Test func readerDuringFullExportsSeesOneSnapshot() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let history = try BillingHistory()
        try history.generate(from: "2026-09-01", days: 20, seed: 5)
        let exports = [
            try history.engine.warehouseExport(asOf: day("2026-09-10")),
            try history.engine.warehouseExport(asOf: day("2026-09-21")),
        ]
        // Expected per snapshot, computed from the rows: counts and sums of `total` (exact decimals).
        func summary(_ e: WarehouseExport) -> String {
            func sum(_ t: Table) -> String {
                let column = t.columns.firstIndex(of: "total")!
                return t.rows.reduce(FixedDecimal.zero) { $0 + FixedDecimal($1[column])! }.formatted(decimals: 2)
            }
            return "\(e.tables.invoices.rows.count)|\(sum(e.tables.invoices))|\(e.tables.lineItems.rows.count)|"
                + "\(sum(e.tables.lineItems))|\(e.tables.balances.rows.count)"
        }
        let allowed = Set(exports.map(summary))
        #expect(allowed.count == 2)

        let w = try await warehouse(pg)
        _ = try await w.exportFull(exports[0])
        let reader = try await testConnection(pg)
        let seen = Mutex<[String: Int]>([:])
        let stop = Atomic<Bool>(false)
        let logger = Logger(label: "reader", factory: { _ in SwiftLogNoOpLogHandler() })
        let readerTask = Task {
            // One statement: every table it names is resolved and locked before it reads.
            let sql: PostgresQuery = """
                select (select count(*) from invoice_breakdown.invoices)::text,
                       (select sum(total) from invoice_breakdown.invoices)::text,
                       (select count(*) from invoice_breakdown.line_items)::text,
                       (select sum(total) from invoice_breakdown.line_items)::text,
                       (select count(*) from invoice_breakdown.balances)::text
                """
            while !stop.load(ordering: .relaxed) {
                for try await (a, b, c, d, e) in try await reader.query(sql, logger: logger).decode(
                    (String, String, String, String, String).self)
                {
                    seen.withLock { $0["\(a)|\(b)|\(c)|\(d)|\(e)", default: 0] += 1 }
                }
            }
        }
        for i in 1...8 { _ = try await w.exportFull(exports[i % 2]) }
        stop.store(true, ordering: .relaxed)
        try await readerTask.value
        try await reader.close()
        await w.close()
        let observed = seen.withLock { $0 }
        #expect(Set(observed.keys).isSubset(of: allowed), "seen \(observed), allowed \(allowed)")
        #expect(observed.values.reduce(0, +) >= 8, "the reader ran during the exports: \(observed)")
        #expect(observed.count == 2, "the reader saw the tables swapped: \(observed)")
    }

    /// `daybook export --postgres` killed (SIGKILL) while its loaded tables wait to be swapped in
    /// (a reader holds the old ones) leaves the previous snapshot, and the next export works.
    @Test func killedExporterLeavesThePreviousSnapshot() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let history = try BillingHistory()
        try history.generate(from: "2026-09-01", days: 30, seed: 3)
        let data = history.store.path
        let first = try DaybookRun.run(["export", "--as-of", "2026-09-15", "--postgres", pg.url, "--data", data])
        try #require(first.status == 0, "\(first.stderr)")
        let before = try WarehouseDump.all(pg)

        // A reader's open transaction holds the old invoices table: the exporter loads everything,
        // then waits for it to swap.
        let reader = try await testConnection(pg)
        let logger = Logger(label: "reader", factory: { _ in SwiftLogNoOpLogHandler() })
        for sql: PostgresQuery in ["begin", "select count(*) from invoice_breakdown.invoices"] {
            for try await _ in try await reader.query(sql, logger: logger) {}
        }
        let (process, out, err) = try DaybookRun.start([
            "export", "--as-of", "2026-10-01", "--postgres", pg.url, "--data", data,
        ])
        let waiting = try waitUntil(seconds: 60) {
            try pg.psql(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like 'DROP TABLE%'")
                == "1\n" || !process.isRunning
        }
        #expect(waiting && process.isRunning, "the exporter reached the swap")
        kill(process.processIdentifier, SIGKILL)
        let killed = DaybookRun.finish(process, out, err)
        #expect(killed.status == SIGKILL && process.terminationReason == .uncaughtSignal)
        for try await _ in try await reader.query("rollback", logger: logger) {}
        try await reader.close()

        // The server ends the killed session's transaction: the previous tables, nothing else.
        let gone = waitUntil(seconds: 30) {
            (try? pg.psql("select count(*) from pg_stat_activity where wait_event_type = 'Lock'")) == "0\n"
        }
        #expect(gone)
        #expect(try WarehouseDump.all(pg) == before)
        #expect(try pg.psql("select count(*) from invoice_breakdown.exports") == "1\n")
        #expect(try pg.psql("select count(*) from pg_namespace where nspname like 'invoice_breakdown%'") == "1\n")
        let next = try DaybookRun.run(["export", "--as-of", "2026-10-01", "--postgres", pg.url, "--data", data])
        #expect(next.status == 0, "\(next.stderr)")
        let files = try history.engine.export(asOf: day("2026-10-01"))
        #expect(try WarehouseDump.csv(pg, WarehouseDump.invoices) == TableWriter.csv(files.invoices))
    }

    /// Failures say why and what to do, with SPEC §7 exit codes, and commit nothing: no server
    /// (exit 1, naming host:port), a bad URL (exit 2), `--incremental` with no export yet, a
    /// constraint the server enforces (the previous tables stay), the server gone.
    @Test func failedExportsSayWhyAndLeaveThePreviousTables() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let history = try BillingHistory()
        try history.generate(from: "2026-09-01", days: 12, seed: 9)
        let data = history.store.path
        func export(_ extra: [String], url: String? = nil) throws -> DaybookRun {
            try DaybookRun.run(
                ["export", "--as-of", "2026-09-10", "--postgres", url ?? pg.url, "--data", data] + extra)
        }
        let bad = try export([], url: "mysql://x@127.0.0.1/db")
        #expect(bad.status == 2 && bad.stderr.contains("postgres://"), "\(bad.stderr)")
        let both = try DaybookRun.run([
            "export", "--as-of", "2026-09-10", "--postgres", pg.url, "--out", "/tmp/x", "--data", data,
        ])
        #expect(both.status == 2 && both.stderr.contains("exclusive"), "\(both.stderr)")
        let first = try export(["--incremental"])
        #expect(first.status == 1 && first.stderr.contains("run a full export first"), "\(first.stderr)")

        #expect(try export([]).status == 0)
        let before = try WarehouseDump.all(pg)
        // A rule of the warehouse's owner that this export breaks: refused at the exports row, the
        // last statement before the commit, after the load and the swap.
        try pg.psql("alter table invoice_breakdown.exports add constraint frozen check (as_of < '2026-09-11')")
        let refused = try DaybookRun.run([
            "export", "--as-of", "2026-09-11", "--postgres", pg.url, "--data", data,
        ])
        #expect(refused.status == 1 && refused.stderr.contains("frozen"), "\(refused.stderr)")
        #expect(refused.stderr.contains("previous export are untouched"), "\(refused.stderr)")
        #expect(try WarehouseDump.all(pg) == before)

        let port = pg.port
        pg.stop()
        let gone = try export([])
        #expect(gone.status == 1, "\(gone.stderr)")
        #expect(gone.stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:\(port)"), "\(gone.stderr)")
    }

    @Test func urlsParseAsLibpqDoes() throws {
        let u = try WarehouseURL(parsing: "postgresql://bob:p%40ss@db.example.com:6543/bill%20ing?sslmode=require")
        #expect(u.user == "bob" && u.password == "p@ss" && u.host == "db.example.com" && u.port == 6543)
        #expect(u.database == "bill ing" && u.tls == .require)
        #expect(!u.description.contains("p@ss"))
        let local = try WarehouseURL(parsing: "postgres://me@127.0.0.1/db")
        #expect(local.port == 5432 && local.tls == .disable && local.password == nil)
        #expect(try WarehouseURL(parsing: "postgres://me@db.example.com").database == "me")
        #expect(try WarehouseURL(parsing: "postgres://me@db.example.com/x").tls == .prefer)
        #expect(try WarehouseURL(parsing: "postgres://me@[::1]:7000/x").address == "[::1]:7000")
        for text in ["http://a/b", "postgres:///db", "postgres://a@h/db?sslmode=maybe", "postgres://a@h/db?x=1"] {
            #expect(throws: WarehouseError.self, "\(text)") { try WarehouseURL(parsing: text) }
        }
        do {
            _ = try WarehouseURL(parsing: "ftp://u:secret@h/db")
        } catch {
            #expect(error.isUsage && !"\(error)".contains("secret"))
        }
    }
}
