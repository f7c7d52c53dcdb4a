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
    /// Seconds a partition export's session may sit idle inside its transaction (a statement may
    /// take three times as long) before the server ends it.
    static let pausedOwnerTimeout = 10
    static let partitionCustomersTable = "daybook_partition_customers"

    /// Replaces partition `partition`'s rows (those of `customers`, the partition's customers, and
    /// of the customers its last export wrote) with the rows of `customers` in `export` (a full
    /// export of the partition's store), `drift` and `corrections`, in one transaction that first
    /// checks and advances the partition's epoch: an owner whose `epoch` is below the recorded one
    /// is refused (``WarehouseError/fenced(partition:epoch:current:)``) before it writes a row.
    ///
    /// - Returns: rows written per table.
    public func exportPartition(
        _ export: WarehouseExport, drift: WarehouseDrift, corrections: WarehouseCorrections, partition: Int,
        epoch: UInt64, customers: [String]
    ) async throws -> [String: Int64] {
        precondition(export.basis == nil, "a partition export is a full export of the partition's store")
        let schema = WarehouseSchema.self
        // A paused owner (SIGSTOP, a VM frozen) must not hold the export lock for ever: the server
        // ends its session once it sits idle in the transaction, or once a statement (a COPY
        // waiting for data that never comes) runs too long, and the lock goes with it.
        try await exec("SET idle_in_transaction_session_timeout = '\(Self.pausedOwnerTimeout)s'")
        try await exec("SET statement_timeout = '\(3 * Self.pausedOwnerTimeout)s'")
        if try await !partitionTablesExist() {
            // Created once, under the database's export lock (concurrent CREATEs would collide).
            try await transaction {
                try await lock()
                try await ensurePartitionTables()
            }
        }
        return try await transaction {
            // Partitions export side by side (their customers, hence their rows, are disjoint): the
            // export lock is taken shared, so a full export still waits for them and they for it,
            // and the partition's row lock below serializes the owners of one partition.
            try await exec("SELECT pg_advisory_xact_lock_shared(\(WarehouseSchema.lockKey))")
            let p = "\(partition)"
            try await exec(
                "INSERT INTO \(q(schema.name)).\(q(Self.partitionsTable)) VALUES (\(p), 0, 0, now()) ON CONFLICT DO NOTHING"
            )
            let current = try await count(
                "SELECT epoch FROM \(q(schema.name)).\(q(Self.partitionsTable)) WHERE partition = \(p) FOR UPDATE")
            guard UInt64(current) <= epoch else {
                throw WarehouseError.fenced(partition: partition, epoch: epoch, current: UInt64(current))
            }
            // The customers of the last export and of this one lose their rows, then get this export's.
            let listed =
                "SELECT customer_id FROM \(q(schema.name)).\(q(Self.partitionCustomersTable)) WHERE partition = \(p)"
            let mine = CopyText.textArray(customers)
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
                written[name] = try await copy(kept, keptSeqs, into: name)
            }
            written["drift"] = try await copy(rows: cells(drift.cells, schema.drift), into: schema.drift)
            written["corrections"] = try await copy(
                rows: cells(corrections.rows, schema.corrections), into: schema.corrections)
            _ = try await copy(
                rows: customers.map { [p, $0] },
                into: WarehouseSchema.TableDefinition(
                    name: Self.partitionCustomersTable, columns: [("partition", .bigint), ("customer_id", .text)],
                    key: ["partition", "customer_id"], nullable: []))
            try await exec("SET LOCAL search_path TO DEFAULT")
            try await exec(
                "UPDATE \(q(schema.name)).\(q(Self.partitionsTable)) SET epoch = \(epoch), exported_seq = \(export.logSeq), "
                    + "exported_at = now() WHERE partition = \(p)")
            return written
        }
    }

    /// The recorded epoch and exported log seq of `partition`, nil before its first export.
    public func partitionState(_ partition: Int) async throws -> (epoch: UInt64, exportedSeq: UInt64)? {
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
