import DaybookEngine
import DaybookOutput
import Foundation
import PostgresNIO

/// Partition exports of a cluster (docs/scale-out.md §5): every partition's owner loads its own
/// customers' rows into the one warehouse, fenced by the epoch of its lease.
///
/// `invoice_breakdown.daybook_partitions(partition, epoch, exported_seq, exported_at)` holds, per
/// partition, the epoch and log seq of its last export; `daybook_partition_customers(partition,
/// customer_id)` the customers whose rows that export wrote (what the next one replaces: a
/// customer that left the catalog is replaced too). The tables' columns are the SPEC's, unchanged.
extension Warehouse {
    static let partitionsTable = "daybook_partitions"
    static let partitionCustomersTable = "daybook_partition_customers"
    /// Seconds a partition export's session may sit idle inside its transaction before the server
    /// ends it (a statement may take five times as long): a backstop only, for an owner that
    /// stopped where ``endStaleSessions(partition:epoch:)`` cannot reach it. Generous, because a
    /// live owner on a loaded machine must not lose its session between two statements.
    static let pausedOwnerTimeout = 120

    /// What a partition export did.
    public struct PartitionExportReport: Sendable, Hashable {
        /// Rows written per table.
        public var written: [String: Int64]
        /// Sessions of older owners of the partition that this export ended before it began.
        public var endedStaleSessions: Int
    }

    /// Replaces partition `partition`'s rows (those of `customers`, the partition's customers, and
    /// of the customers its last export wrote) with the rows of `customers` in `export` (a full
    /// export of the partition's store), `drift` and `corrections`, in one transaction fenced by
    /// the partition's epoch: an owner whose `epoch` is below the recorded one is refused
    /// (``WarehouseError/fenced(partition:epoch:current:)``) and nothing of its transaction is
    /// committed.
    ///
    /// The fence is the transaction's last statement, which advances the recorded epoch only while
    /// it is not above `epoch` (docs/scale-out.md §5): an older owner that was paused anywhere in
    /// its transaction and wakes after a newer owner's export commits is refused at its end. Before
    /// it begins, the export ends the sessions of older owners of the partition
    /// (`pg_terminate_backend`, found by their `application_name`), so that an owner paused inside
    /// its transaction neither holds the new owner up nor commits when it wakes.
    ///
    /// - Throws: ``WarehouseError``; nothing is committed when it throws.
    public func exportPartition(
        _ export: WarehouseExport, drift: WarehouseDrift, corrections: WarehouseCorrections, partition: Int,
        epoch: UInt64, customers: [String]
    ) async throws -> PartitionExportReport {
        precondition(export.basis == nil, "a partition export is a full export of the partition's store")
        return try await guarded {
            try await $0.loadPartition(
                export, drift: drift, corrections: corrections, partition: partition, epoch: epoch,
                customers: customers)
        }
    }

    /// The `application_name` of an export session of `partition` at `epoch`.
    public static func sessionName(partition: Int, epoch: UInt64) -> String {
        "daybook partition \(partition) epoch \(epoch)"
    }

    /// Ends the sessions of this database named as exports of `partition` at an epoch below
    /// `epoch`; how many. Their open transactions roll back and their locks go with them.
    ///
    /// Best effort: a role not allowed to signal the other session's backend gets an error here,
    /// which is ignored (the idle timeout then ends a paused owner's session, later).
    func endStaleSessions(partition: Int, epoch: UInt64) async -> Int {
        let prefix = "daybook partition \(partition) epoch "
        let older =
            "CASE WHEN substr(application_name, \(prefix.utf8.count + 1)) ~ '^[0-9]{1,19}$' "
            + "THEN substr(application_name, \(prefix.utf8.count + 1))::numeric END < \(epoch)"
        let sql =
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            + "WHERE pid <> pg_backend_pid() AND datname = current_database() "
            + "AND starts_with(application_name, '\(prefix)') AND \(older)"
        do { return Int(try await count(sql)) } catch {
            logger.warning("partition \(partition): cannot end the sessions of its older owners: \(error)")
            return 0
        }
    }

    private func loadPartition(
        _ export: WarehouseExport, drift: WarehouseDrift, corrections: WarehouseCorrections, partition: Int,
        epoch: UInt64, customers: [String]
    ) async throws -> PartitionExportReport {
        let schema = WarehouseSchema.self
        try await exec("SET application_name = '\(Self.sessionName(partition: partition, epoch: epoch))'")
        // A paused owner (SIGSTOP, a VM frozen) that nobody ended must not hold its locks for ever:
        // the server ends its session once it sits idle in the transaction, or once a statement (a
        // statement waiting on a lock) runs too long, and the locks go with it.
        try await exec("SET idle_in_transaction_session_timeout = '\(Self.pausedOwnerTimeout)s'")
        try await exec("SET statement_timeout = '\(5 * Self.pausedOwnerTimeout)s'")
        if try await !partitionTablesExist() {
            // Created once, under the database's export lock (concurrent CREATEs would collide).
            try await transaction {
                try await lock()
                try await ensurePartitionTables()
            }
        }
        let ended = await endStaleSessions(partition: partition, epoch: epoch)
        let p = "\(partition)"
        let partitions = "\(q(schema.name)).\(q(Self.partitionsTable))"
        let written = try await transaction {
            // Partitions export side by side (their customers, hence their rows, are disjoint): the
            // export lock is taken shared, so a full export still waits for them and they for it.
            try await exec("SELECT pg_advisory_xact_lock_shared(\(WarehouseSchema.lockKey))")
            try await exec("INSERT INTO \(partitions) VALUES (\(p), 0, 0, now()) ON CONFLICT DO NOTHING")
            // Early refusal of a known-stale owner; the fence itself is the last statement.
            let recorded = try await count("SELECT epoch FROM \(partitions) WHERE partition = \(p)")
            guard UInt64(recorded) <= epoch else {
                throw WarehouseError.fenced(partition: partition, epoch: epoch, current: UInt64(recorded))
            }
            // The customers of the last export and of this one lose their rows, then get this export's.
            let listed =
                "SELECT customer_id FROM \(q(schema.name)).\(q(Self.partitionCustomersTable)) WHERE partition = \(p)"
            let mine = SQLText.textArray(customers)
            for table in schema.replaced {
                try await exec(
                    "DELETE FROM \(qualified(table)) WHERE customer_id IN (\(listed)) OR customer_id = ANY(\(literal(mine))::text[])"
                )
            }
            try await exec("DELETE FROM \(q(schema.name)).\(q(Self.partitionCustomersTable)) WHERE partition = \(p)")
            try await exec("SET LOCAL search_path TO \(q(schema.name))")
            // A partition's store holds the whole catalog (its dense rows of other customers are
            // zeros): only the partition's customers' rows are its to write.
            let own = Set(customers)
            func rows(_ table: Table, _ seqs: [UInt64]) -> (Table, [UInt64]) {
                let c = table.columns.firstIndex(of: "customer_id")!
                let keep = table.rows.indices.filter { own.contains(table.rows[$0][c]) }
                return (Table(columns: table.columns, rows: keep.map { table.rows[$0] }), keep.map { seqs[$0] })
            }
            func cells(_ rows: [[String?]], _ definition: WarehouseSchema.TableDefinition) -> [[String?]] {
                let c = definition.columnNames.firstIndex(of: "customer_id")!
                return rows.filter { $0[c].map(own.contains) ?? false }
            }
            var written: [String: Int64] = [:]
            let t = export.tables
            for (name, table, seqs) in [
                ("invoices", t.invoices, export.invoiceChangedSeq),
                ("line_items", t.lineItems, export.lineItemChangedSeq),
                ("balances", t.balances, export.balanceChangedSeq),
            ] {
                let (kept, keptSeqs) = rows(table, seqs)
                written[name] = try await insert(kept, keptSeqs, into: name)
            }
            written["drift"] = try await insert(rows: cells(drift.cells, schema.drift), into: schema.drift)
            written["corrections"] = try await insert(
                rows: cells(corrections.rows, schema.corrections), into: schema.corrections)
            _ = try await insert(
                rows: customers.map { [p, $0] },
                into: WarehouseSchema.TableDefinition(
                    name: Self.partitionCustomersTable, columns: [("partition", .bigint), ("customer_id", .text)],
                    key: ["partition", "customer_id"], nullable: []))
            try await exec("SET LOCAL search_path TO DEFAULT")
            // The fence. Under READ COMMITTED this waits for a concurrent export of the partition
            // and re-reads the row it committed: a newer epoch leaves nothing to update.
            let advanced = try await count(
                "WITH u AS (UPDATE \(partitions) SET epoch = \(epoch), exported_seq = \(export.logSeq), "
                    + "exported_at = now() WHERE partition = \(p) AND epoch <= \(epoch) RETURNING 1) "
                    + "SELECT count(*) FROM u")
            guard advanced == 1 else {
                let current = try await count("SELECT epoch FROM \(partitions) WHERE partition = \(p)")
                throw WarehouseError.fenced(partition: partition, epoch: epoch, current: UInt64(current))
            }
            return written
        }
        return PartitionExportReport(written: written, endedStaleSessions: ended)
    }

    /// The recorded epoch and exported log seq of `partition`, nil before its first export.
    public func partitionState(_ partition: Int) async throws -> (epoch: UInt64, exportedSeq: UInt64)? {
        try await guarded { try await $0.recordedState(partition) }
    }

    private func recordedState(_ partition: Int) async throws -> (epoch: UInt64, exportedSeq: UInt64)? {
        guard try await schemaState() == .ours,
            try await count(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '\(WarehouseSchema.name)' AND tablename = '\(Self.partitionsTable)'"
            ) == 1
        else { return nil }
        for try await (epoch, seq) in try await query(
            "SELECT epoch, exported_seq FROM \(q(WarehouseSchema.name)).\(q(Self.partitionsTable)) WHERE partition = \(partition)"
        ).decode((Int64, Int64).self) {
            return (UInt64(epoch), UInt64(seq))
        }
        return nil
    }

    /// Whether the schema is Daybook's and holds the five tables and the two partition tables.
    private func partitionTablesExist() async throws -> Bool {
        let schema = WarehouseSchema.self
        guard try await schemaState() == .ours else { return false }
        let names = (schema.replaced.map(\.name) + [Self.partitionsTable, Self.partitionCustomersTable])
            .map { "'\($0)'" }.joined(separator: ", ")
        let found = try await count(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '\(schema.name)' AND tablename IN (\(names))")
        return found == schema.replaced.count + 2
    }

    /// The schema (marked as Daybook's), the five tables with their keys, and the partition tables.
    private func ensurePartitionTables() async throws {
        let schema = WarehouseSchema.self
        try await ensureSchema()
        for table in schema.replaced
        where try await count(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '\(schema.name)' AND tablename = '\(table.name)'") == 0
        {
            try await exec(table.create(in: schema.name))
            try await exec(table.addPrimaryKey(in: schema.name))
        }
        try await exec(
            "CREATE TABLE IF NOT EXISTS \(q(schema.name)).\(q(Self.partitionsTable)) (partition bigint PRIMARY KEY, "
                + "epoch bigint NOT NULL, exported_seq bigint NOT NULL, exported_at timestamptz NOT NULL)")
        try await exec(
            "CREATE TABLE IF NOT EXISTS \(q(schema.name)).\(q(Self.partitionCustomersTable)) (partition bigint NOT NULL, "
                + "customer_id text NOT NULL, PRIMARY KEY (partition, customer_id))")
    }

    /// A SQL string literal.
    private func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
