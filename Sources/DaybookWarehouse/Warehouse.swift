import DaybookCore
import DaybookEngine
import DaybookOutput
import Logging
import PostgresNIO

/// A row of `invoice_breakdown.exports`: one export that committed.
public struct WarehouseExportRecord: Sendable, Hashable, CustomStringConvertible {
    public var id: Int64
    /// `full` or `incremental`.
    public var kind: String
    public var asOf: Day
    public var logSeq: UInt64
    /// The journal position of the store the export reflects: the basis of the next `--incremental`.
    public var position: UInt64
    /// The basis position of an incremental export (nil for a full one).
    public var changedSincePosition: UInt64?
    /// Rows in the tables after the export: invoices, line_items, balances, drift, corrections.
    public var rowCounts: [String: Int64]

    public var description: String {
        "export \(id) (\(kind), as of \(asOf), log seq \(logSeq), journal position \(position))"
    }
}

/// What one export did.
public struct WarehouseReport: Sendable, Hashable {
    /// The `exports` row it committed.
    public var record: WarehouseExportRecord
    /// Rows written (inserted or updated) and deleted, per table name.
    public var written: [String: Int64]
    public var deleted: [String: Int64]
    public var duration: Duration

    public var rowsWritten: Int64 { written.values.reduce(0, +) }
    public var rowsDeleted: Int64 { deleted.values.reduce(0, +) }
}

/// The PostgreSQL warehouse (SPEC §5 `daybook export --postgres`): schema `invoice_breakdown`
/// with the tables of the CSV export (``WarehouseSchema``), loaded by full or incremental exports.
///
/// Every export is one transaction under an advisory lock (one export at a time per database):
/// it commits whole or not at all, so a failed or killed export leaves the previous tables as they
/// were, and running it again is safe.
///
/// - Full (``exportFull(_:drift:corrections:)``): the rows are bulk-loaded (JSON batches, ``insert(count:into:columns:row:)``) into new
///   tables in a schema private to the transaction, keyed, then swapped in (the old tables
///   dropped, the new ones moved into `invoice_breakdown`) and the `exports` row inserted, all
///   before the one commit. A reader sees the old tables or the new ones, never a mix: a reader
///   holding the old tables delays the commit, one that arrives during the swap waits for it.
/// - Incremental (``exportIncremental(_:drift:corrections:basedOn:)``): the changed rows are copied into
///   temporary tables, upserted (`INSERT … ON CONFLICT … DO UPDATE`), the vanished keys deleted,
///   `drift` and `corrections` replaced; cost follows the rows changed, not the tables' size.
///
/// ```swift
/// let warehouse = try await Warehouse.connect(try WarehouseURL(parsing: "postgres://u@127.0.0.1/db"))
/// let report = try await warehouse.exportFull(export, drift: drift, corrections: corrections)
/// await warehouse.close()
/// ```
public final class Warehouse: Sendable {
    public let url: WarehouseURL
    let connection: PostgresConnection
    let logger: Logger

    private init(url: WarehouseURL, connection: PostgresConnection, logger: Logger) {
        self.url = url
        self.connection = connection
        self.logger = logger
    }

    /// Connects to `url` (10 s connect timeout).
    ///
    /// - Throws: ``WarehouseError`` `.unreachable` (no server at the address), `.authentication`,
    ///   `.server` (for instance no such database), `.badURL` (a TLS setting that cannot be made).
    public static func connect(_ url: WarehouseURL, logger: Logger? = nil) async throws -> Warehouse {
        var logger = logger ?? Logger(label: "daybook.warehouse")
        if logger.logLevel < .error && logger.label == "daybook.warehouse" { logger.logLevel = .error }
        let tls: PostgresConnection.Configuration.TLS
        do {
            var config = TLSConfiguration.makeClientConfiguration()
            if url.tls != .verifyFull { config.certificateVerification = .none }
            switch url.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: config))
            case .require, .verifyFull: tls = .require(try NIOSSLContext(configuration: config))
            }
        } catch {
            throw WarehouseError.badURL("--postgres \(url): cannot set up TLS (\(error)); try sslmode=disable")
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            return Warehouse(url: url, connection: connection, logger: logger)
        } catch {
            throw WarehouseError.from(error, address: url.address, user: url.user, statement: "connect")
        }
    }

    /// Closes the connection.
    public func close() async {
        try? await connection.close()
    }

    // MARK: - Exports

    /// The last committed export, or nil when there is none (no schema, or no row yet).
    ///
    /// - Throws: ``WarehouseError`` `.schemaMismatch` when `invoice_breakdown` is not Daybook's.
    public func lastExport() async throws -> WarehouseExportRecord? {
        try await guarded { w in
            guard try await w.schemaState() == .ours else { return nil }
            return try await w.lastExportRow()
        }
    }

    /// Replaces the tables with `export` (which must be a full export: no basis), `drift` and
    /// `corrections`.
    ///
    /// - Throws: ``WarehouseError``; nothing is committed when it throws.
    public func exportFull(
        _ export: WarehouseExport, drift: WarehouseDrift = WarehouseDrift(),
        corrections: WarehouseCorrections = WarehouseCorrections()
    ) async throws -> WarehouseReport {
        precondition(export.basis == nil, "exportFull takes a full export (no basis)")
        return try await guarded { try await $0.loadFull(export, drift: drift, corrections: corrections) }
    }

    private func loadFull(_ export: WarehouseExport, drift: WarehouseDrift, corrections: WarehouseCorrections)
        async throws -> WarehouseReport
    {
        let clock = ContinuousClock()
        let began = clock.now
        let schema = WarehouseSchema.self
        let load = schema.loadName
        return try await transaction {
            try await lock()
            try await ensureSchema()
            try await exec(schema.createExports)
            // Private to this transaction: another session never sees the load schema.
            try await exec("DROP SCHEMA IF EXISTS \(q(load)) CASCADE")
            try await exec("CREATE SCHEMA \(q(load))")
            for table in schema.replaced { try await exec(table.create(in: load)) }
            try await exec("SET LOCAL search_path TO \(q(load))")
            var written: [String: Int64] = [:]
            written["invoices"] = try await insert(export.tables.invoices, export.invoiceChangedSeq, into: "invoices")
            written["line_items"] = try await insert(
                export.tables.lineItems, export.lineItemChangedSeq, into: "line_items")
            written["balances"] = try await insert(export.tables.balances, export.balanceChangedSeq, into: "balances")
            written["drift"] = try await insert(rows: drift.cells, into: schema.drift)
            written["corrections"] = try await insert(rows: corrections.rows, into: schema.corrections)
            for table in schema.replaced { try await exec(table.addPrimaryKey(in: load)) }
            try await swapIn()
            try await exec("DROP SCHEMA \(q(load))")
            try await exec("SET LOCAL search_path TO DEFAULT")
            let counts = written
            let record = try await insertExport(
                kind: "full", export, changedSince: nil, counts: counts, written: written.values.reduce(0, +),
                deleted: 0, duration: clock.now - began)
            return WarehouseReport(record: record, written: written, deleted: [:], duration: clock.now - began)
        }
    }

    /// Applies an incremental `export` (one with a basis) to the tables of export `last`:
    /// upserts its rows, deletes its vanished keys, replaces `drift` and `corrections` with those given.
    ///
    /// - Parameter last: the export the basis was taken from (``lastExport()``); if another
    ///   export committed since, nothing is written (`.basisMoved`).
    /// - Throws: ``WarehouseError``; nothing is committed when it throws.
    public func exportIncremental(
        _ export: WarehouseExport, drift: WarehouseDrift = WarehouseDrift(),
        corrections: WarehouseCorrections = WarehouseCorrections(), basedOn last: WarehouseExportRecord
    ) async throws -> WarehouseReport {
        precondition(export.basis != nil, "exportIncremental takes an incremental export (with a basis)")
        return try await guarded {
            try await $0.loadIncremental(export, drift: drift, corrections: corrections, basedOn: last)
        }
    }

    private func loadIncremental(
        _ export: WarehouseExport, drift: WarehouseDrift, corrections: WarehouseCorrections,
        basedOn last: WarehouseExportRecord
    ) async throws -> WarehouseReport {
        let clock = ContinuousClock()
        let began = clock.now
        let schema = WarehouseSchema.self
        return try await transaction {
            try await lock()
            switch try await schemaState() {
            case .ours: break
            case .absent, .empty: throw WarehouseError.noPreviousExport
            case .foreign:
                throw WarehouseError.schemaMismatch(
                    "schema invoice_breakdown was not made by this version of daybook: run a full export first")
            }
            guard let current = try await lastExportRow() else { throw WarehouseError.noPreviousExport }
            guard current.id == last.id else {
                throw WarehouseError.basisMoved(expected: "\(last)", found: "\(current)")
            }
            var written: [String: Int64] = [:], deleted: [String: Int64] = [:]
            var counts = current.rowCounts
            let parts: [(WarehouseSchema.TableDefinition, Table, [UInt64], Table)] = [
                (schema.invoices, export.tables.invoices, export.invoiceChangedSeq, export.deletedInvoices),
                (schema.lineItems, export.tables.lineItems, export.lineItemChangedSeq, export.deletedLineItems),
                (schema.balances, export.tables.balances, export.balanceChangedSeq, export.deletedBalances),
            ]
            for (table, rows, seqs, gone) in parts {
                let (n, inserted) = try await upsert(rows, seqs, into: table)
                let removed = try await delete(gone, from: table)
                written[table.name] = n
                deleted[table.name] = removed
                counts[table.name, default: 0] += inserted - removed
            }
            // Drift and corrections are small: replaced whole.
            try await exec("SET LOCAL search_path TO \(q(schema.name))")
            for (table, rows) in [(schema.drift, drift.cells), (schema.corrections, corrections.rows)] {
                deleted[table.name] = try await count(
                    "WITH d AS (DELETE FROM \(qualified(table)) RETURNING 1) SELECT count(*) FROM d")
                written[table.name] = try await insert(rows: rows, into: table)
                counts[table.name] = Int64(rows.count)
            }
            try await exec("SET LOCAL search_path TO DEFAULT")
            let totalWritten = written.values.reduce(0, +), totalDeleted = deleted.values.reduce(0, +)
            let record = try await insertExport(
                kind: "incremental", export, changedSince: export.basis?.position, counts: counts,
                written: totalWritten, deleted: totalDeleted, duration: clock.now - began)
            return WarehouseReport(record: record, written: written, deleted: deleted, duration: clock.now - began)
        }
    }

    // MARK: - Steps

    enum SchemaState: Equatable {
        case absent, empty, ours
        case foreign(comment: String?)
    }

    /// Creates `invoice_breakdown` with Daybook's comment when it is missing (or marks it when it is
    /// empty); throws `.schemaMismatch` when it is someone else's.
    func ensureSchema() async throws {
        let schema = WarehouseSchema.self
        switch try await schemaState() {
        case .absent:
            try await exec("CREATE SCHEMA \(q(schema.name))")
            try await exec("COMMENT ON SCHEMA \(q(schema.name)) IS '\(schema.marker)'")
        case .empty:
            try await exec("COMMENT ON SCHEMA \(q(schema.name)) IS '\(schema.marker)'")
        case .ours:
            break
        case .foreign(let comment):
            throw WarehouseError.schemaMismatch(
                "schema invoice_breakdown exists and was not made by this version of daybook (its comment is "
                    + "\(comment.map { "\"\($0)\"" } ?? "empty")); drop it (DROP SCHEMA invoice_breakdown CASCADE) "
                    + "or export to another database")
        }
    }

    /// Whether `invoice_breakdown` exists, is ours (our comment), or someone else's.
    func schemaState() async throws -> SchemaState {
        let rows = try await query(
            """
            SELECT obj_description(n.oid, 'pg_namespace'),
                   (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid)
            FROM pg_namespace n WHERE n.nspname = '\(WarehouseSchema.name)'
            """)
        var state = SchemaState.absent
        for try await (comment, relations) in rows.decode((String?, Int64).self) {
            state =
                comment == WarehouseSchema.marker ? .ours : relations == 0 ? .empty : .foreign(comment: comment)
        }
        return state
    }

    func lastExportRow() async throws -> WarehouseExportRecord? {
        let rows = try await query(
            """
            SELECT id, kind, as_of::text, log_seq, journal_position, changed_since_position, invoices_rows,
                   line_items_rows, balances_rows, drift_rows, corrections_rows
            FROM "invoice_breakdown"."exports" ORDER BY id DESC LIMIT 1
            """)
        for try await (id, kind, asOf, seq, position, since, i, l, b, d, c) in rows.decode(
            (Int64, String, String, Int64, Int64, Int64?, Int64, Int64, Int64, Int64, Int64).self)
        {
            guard let day = Day(parsing: asOf) else {
                throw WarehouseError.schemaMismatch("invoice_breakdown.exports row \(id) has as_of \(asOf)")
            }
            return WarehouseExportRecord(
                id: id, kind: kind, asOf: day, logSeq: UInt64(seq), position: UInt64(position),
                changedSincePosition: since.map(UInt64.init),
                rowCounts: ["invoices": i, "line_items": l, "balances": b, "drift": d, "corrections": c])
        }
        return nil
    }

    /// One export at a time per database, until this transaction ends (a killed exporter's
    /// session ends with it, and so does the lock).
    func lock() async throws {
        try await exec("SELECT pg_advisory_xact_lock(\(WarehouseSchema.lockKey))")
    }

    /// Drops the old tables and moves the loaded ones in. A reader that holds an old table and
    /// then asks for one this transaction already took is a deadlock PostgreSQL breaks by
    /// failing one side; when that is this side, the swap is undone to its savepoint and retried.
    func swapIn() async throws {
        let schema = WarehouseSchema.self
        let old = schema.replaced.map { "\(q(schema.name)).\(q($0.name))" }.joined(separator: ", ")
        var attempt = 0
        while true {
            attempt += 1
            try await exec("SAVEPOINT swap")
            do {
                try await exec("DROP TABLE IF EXISTS \(old)")
                for table in schema.replaced {
                    try await exec("ALTER TABLE \(q(schema.loadName)).\(q(table.name)) SET SCHEMA \(q(schema.name))")
                }
                try await exec("RELEASE SAVEPOINT swap")
                return
            } catch WarehouseError.server(let message, let state, let detail, let hint, let statement)
                where state == "40P01" && attempt < 5
            {
                logger.info(
                    "swap deadlocked with a reader, retrying: \(message) \(detail ?? "") \(hint ?? "") \(statement)")
                try await exec("ROLLBACK TO SAVEPOINT swap")
            }
        }
    }

    /// Inserts `table`'s rows with `changedSeq` appended into `name` (on the search path); returns
    /// the number of rows.
    func insert(_ table: Table, _ changedSeq: [UInt64], into name: String) async throws -> Int64 {
        precondition(
            table.rows.count == changedSeq.count, "\(name): \(table.rows.count) rows, \(changedSeq.count) seqs")
        return try await insert(count: table.rows.count, into: name, columns: table.columns + ["changed_seq"]) {
            i, keys, json in
            SQLText.appendObject(
                keys: keys, cells: table.rows[i].lazy.map { Optional($0) } + [Optional("\(changedSeq[i])")], to: &json)
        }
    }

    /// Inserts `rows` (cells in `table`'s column order, nil for null) into `table` (on the search path).
    func insert(rows: [[String?]], into table: WarehouseSchema.TableDefinition) async throws -> Int64 {
        try await insert(count: rows.count, into: table.name, columns: table.columnNames) { i, keys, json in
            SQLText.appendObject(keys: keys, cells: rows[i], to: &json)
        }
    }

    /// Bytes of JSON per insert statement.
    static let insertChunkBytes = 4 << 20

    /// Inserts `count` rows into `name` (on the search path); `row(i, keys, &json)` appends row `i`
    /// as a JSON object (``SQLText/appendObject(keys:cells:to:)`` with `keys`, the encoded
    /// `columns`); returns `count`.
    ///
    /// The rows travel as one JSON array per statement of about ``insertChunkBytes``:
    /// `INSERT INTO name (columns) SELECT columns FROM json_populate_recordset(NULL::name, $1)`,
    /// which feeds every string cell to its column type's input function, as `COPY`'s text format
    /// does. Not `COPY FROM STDIN`: postgres-nio 1.33 traps (a `preconditionFailure`, the process
    /// dies) when the connection closes during a `COPY`, and the server ending an older owner's
    /// session is how partition exports are fenced (docs/decisions.md, "Warehouse loads").
    func insert(
        count: Int, into name: String, columns: [String], row: (Int, [[UInt8]], inout [UInt8]) -> Void
    ) async throws -> Int64 {
        guard count > 0 else { return 0 }
        let keys = columns.map(SQLText.key)
        let list = columns.map(q).joined(separator: ", ")
        let sql =
            "INSERT INTO \(q(name)) (\(list)) SELECT \(list) FROM json_populate_recordset(NULL::\(q(name)), $1::json)"
        var json: [UInt8] = []
        json.reserveCapacity(Self.insertChunkBytes + (64 << 10))
        func send() async throws {
            json.append(UInt8(ascii: "]"))
            var binds = PostgresBindings()
            binds.append(String(decoding: json, as: UTF8.self))
            json.removeAll(keepingCapacity: true)
            try await drain(try await run(PostgresQuery(unsafeSQL: sql, binds: binds), "INSERT INTO \(name)"), sql)
        }
        for i in 0..<count {
            json.append(UInt8(ascii: json.isEmpty ? "[" : ","))
            row(i, keys, &json)
            if json.count >= Self.insertChunkBytes { try await send() }
        }
        if !json.isEmpty { try await send() }
        return Int64(count)
    }

    /// Upserts rows through a temporary table; returns (rows written, rows that were new).
    func upsert(_ rows: Table, _ seqs: [UInt64], into table: WarehouseSchema.TableDefinition) async throws
        -> (Int64, Int64)
    {
        guard !rows.rows.isEmpty else { return (0, 0) }
        let temp = "load_\(table.name)"
        try await exec("CREATE TEMP TABLE \(q(temp)) (LIKE \(qualified(table))) ON COMMIT DROP")
        _ = try await insert(rows, seqs, into: temp)
        let columns = table.columnNames
        let keys = Set(table.key)
        let updates = columns.filter { !keys.contains($0) }.map { "\(q($0)) = EXCLUDED.\(q($0))" }
        let list = columns.map(q).joined(separator: ", ")
        // xmax = 0 on a row this statement inserted (an updated row carries this transaction's id).
        let rows = try await query(
            """
            WITH w AS (
              INSERT INTO \(qualified(table)) (\(list)) SELECT \(list) FROM \(q(temp))
              ON CONFLICT (\(table.key.map(q).joined(separator: ", "))) DO UPDATE SET \(updates.joined(separator: ", "))
              RETURNING (xmax = 0) AS inserted)
            SELECT count(*), count(*) FILTER (WHERE inserted) FROM w
            """)
        for try await (written, inserted) in rows.decode((Int64, Int64).self) { return (written, inserted) }
        return (0, 0)
    }

    /// Deletes the rows whose keys are in `keys` (columns named as the table's key columns).
    func delete(_ keys: Table, from table: WarehouseSchema.TableDefinition) async throws -> Int64 {
        guard !keys.rows.isEmpty else { return 0 }
        precondition(keys.columns == table.key, "\(table.name): deleted keys \(keys.columns), key \(table.key)")
        let temp = "gone_\(table.name)"
        let columns = table.key.map(q).joined(separator: ", ")
        try await exec(
            "CREATE TEMP TABLE \(q(temp)) ON COMMIT DROP AS SELECT \(columns) FROM \(qualified(table)) WITH NO DATA")
        _ = try await insert(count: keys.rows.count, into: temp, columns: table.key) { i, names, json in
            SQLText.appendObject(keys: names, cells: keys.rows[i].lazy.map { Optional($0) }, to: &json)
        }
        let match = table.key.map { "t.\(q($0)) = g.\(q($0))" }.joined(separator: " AND ")
        return try await count(
            "WITH d AS (DELETE FROM \(qualified(table)) t USING \(q(temp)) g WHERE \(match) RETURNING 1) "
                + "SELECT count(*) FROM d")
    }

    func insertExport(
        kind: String, _ export: WarehouseExport, changedSince: UInt64?, counts: [String: Int64], written: Int64,
        deleted: Int64, duration: Duration
    ) async throws -> WarehouseExportRecord {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let since = changedSince.map { Int64($0) }
        let asOf = "\(export.asOf)"
        let (i, l, b) = (counts["invoices"] ?? 0, counts["line_items"] ?? 0, counts["balances"] ?? 0)
        let (d, c) = (counts["drift"] ?? 0, counts["corrections"] ?? 0)
        let statement: PostgresQuery = """
            INSERT INTO "invoice_breakdown"."exports" (kind, as_of, log_seq, journal_position, changed_since_position,
              invoices_rows, line_items_rows, balances_rows, drift_rows, corrections_rows, rows_written, rows_deleted,
              exported_at, duration)
            VALUES (\(kind), \(asOf)::date, \(Int64(export.logSeq)), \(Int64(export.position)), \(since),
              \(i), \(l), \(b), \(d), \(c), \(written), \(deleted), clock_timestamp(), \(ms) * interval '1 millisecond')
            RETURNING id
            """
        let rows = try await run(statement, "INSERT INTO exports")
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        return WarehouseExportRecord(
            id: id, kind: kind, asOf: export.asOf, logSeq: export.logSeq, position: export.position,
            changedSincePosition: changedSince, rowCounts: counts)
    }

    // MARK: - SQL

    /// Runs `body` between BEGIN and COMMIT; ROLLBACK (best effort) when it throws.
    func transaction<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await exec("BEGIN")
        do {
            let result = try await body()
            try await exec("COMMIT")
            return result
        } catch {
            // Not on a closed connection: a statement sent there may never be answered (``guarded``).
            if !connection.isClosed { try? await exec("ROLLBACK") }
            throw WarehouseError.from(error, address: url.address, user: url.user, statement: "export")
        }
    }

    func exec(_ sql: String) async throws {
        try await drain(try await query(sql), sql)
    }

    /// Reads `rows` to their end (a statement's errors can come with its last message).
    func drain(_ rows: PostgresRowSequence, _ sql: String) async throws {
        do {
            for try await _ in rows {}
        } catch {
            throw WarehouseError.from(error, address: url.address, user: url.user, statement: sql)
        }
    }

    func count(_ sql: String) async throws -> Int64 {
        let rows = try await query(sql)
        do {
            for try await n in rows.decode(Int64.self) { return n }
        } catch {
            throw WarehouseError.from(error, address: url.address, user: url.user, statement: sql)
        }
        return 0
    }

    func query(_ sql: String) async throws -> PostgresRowSequence {
        try await run(PostgresQuery(unsafeSQL: sql), sql)
    }

    func run(_ statement: PostgresQuery, _ text: String) async throws -> PostgresRowSequence {
        do {
            return try await connection.query(statement, logger: logger)
        } catch {
            throw WarehouseError.from(error, address: url.address, user: url.user, statement: text)
        }
    }

    func q(_ identifier: String) -> String { WarehouseSchema.quoted(identifier) }
    func qualified(_ table: WarehouseSchema.TableDefinition) -> String {
        "\(q(WarehouseSchema.name)).\(q(table.name))"
    }
}
