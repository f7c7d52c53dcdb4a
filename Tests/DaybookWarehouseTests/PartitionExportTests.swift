import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookTestSupport
import DaybookWarehouse
import DaybookWorkload
import Foundation
import Testing

/// Partition exports into one warehouse, fenced by lease epochs (docs/scale-out.md §5), against
/// a real PostgreSQL.
@Suite("Fenced partition exports", .watchdog(seconds: Watchdog.asyncBound))
struct PartitionExportTests {
    /// acme on one partition's store, globex on another's, the same events as one store holding both.
    final class Histories {
        let single = try! BillingHistory()
        let acme = try! BillingHistory()
        let globex = try! BillingHistory()
        init() throws {
            var generator = WorkloadGenerator(start: day("2026-09-01"))
            generator.days = 38
            generator.eventsPerDay = 20
            generator.seed = 14
            generator.idPrefix = "p-"
            generator.customers = ["acme", "globex"]
            for (d, lines) in generator.arrivals() {
                try single.ingest(lines, now: d.adding(days: 1))
                try acme.ingest(lines.filter { !$0.contains("\"globex\"") }, now: d.adding(days: 1))
                try globex.ingest(lines.filter { !$0.contains("\"acme\"") }, now: d.adding(days: 1))
            }
        }
    }

    @Test func partitionsTogetherEqualOneStoreAndAStaleEpochIsFencedOut() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        _ = try pg.psql("CREATE DATABASE single")
        let h = try Histories()
        let asOf = day("2026-10-09")
        func export(_ history: BillingHistory) throws -> (WarehouseExport, Engine) {
            (try history.engine.warehouseExport(asOf: asOf), history.engine)
        }

        let w = try await warehouse(pg)
        do {
            try await check(w, pg, h, export)
        } catch {
            await w.close()
            throw error
        }
        await w.close()
    }

    func check(
        _ w: Warehouse, _ pg: PostgresCluster, _ h: Histories,
        _ export: (BillingHistory) throws -> (WarehouseExport, Engine)
    ) async throws {
        let (a, ae) = try export(h.acme), (g, ge) = try export(h.globex)
        _ = try await w.exportPartition(
            a, drift: ae.warehouseDrift(a), corrections: ae.warehouseCorrections(a), partition: 5, epoch: 5,
            customers: ["acme"])
        _ = try await w.exportPartition(
            g, drift: ge.warehouseDrift(g), corrections: ge.warehouseCorrections(g), partition: 9, epoch: 3,
            customers: ["globex"])
        let single = try await warehouse(pg, database: "single")
        let (s, se) = try export(h.single)
        do {
            _ = try await single.exportFull(s, drift: se.warehouseDrift(s), corrections: se.warehouseCorrections(s))
        } catch {
            await single.close()
            throw error
        }
        await single.close()
        // Row for row, without changed_seq (each store numbers its own log).
        for shape in WarehouseDump.breakdown {
            let partitioned = try WarehouseDump.csv(pg, shape),
                whole = try WarehouseDump.csv(pg, shape, database: "single")
            #expect(partitioned == whole, "\(shape.name): \(WarehouseDump.firstDifference(partitioned, whole) ?? "")")
            #expect(partitioned.split(separator: "\n").count > 10, "\(shape.name) holds rows")
        }

        // A stale owner of partition 5 (epoch 4 < 5) is refused before it writes a row.
        let before = try WarehouseDump.all(pg)
        let globexBefore = try pg.psql(
            "SELECT line_item_id, day, quantity, total FROM invoice_breakdown.line_items WHERE customer_id = 'globex' ORDER BY 1, 2"
        )
        let emptied = try BillingHistory()
        let (stale, staleEngine) = try export(emptied)
        await #expect(throws: WarehouseError.self) {
            _ = try await w.exportPartition(
                stale, drift: staleEngine.warehouseDrift(stale), corrections: staleEngine.warehouseCorrections(stale),
                partition: 5, epoch: 4, customers: ["acme"])
        }
        #expect(try WarehouseDump.all(pg) == before, "nothing the fenced owner sent landed")
        #expect(try await w.partitionState(5)?.epoch == 5)

        // The owner of a newer term (epoch 7) replaces partition 5's rows, and only those.
        _ = try await w.exportPartition(
            stale, drift: staleEngine.warehouseDrift(stale), corrections: staleEngine.warehouseCorrections(stale),
            partition: 5, epoch: 7, customers: ["acme"])
        #expect(try await w.partitionState(5)?.epoch == 7)
        // The new owner's store has no usage: acme's rows are now its rows (fixed fees only, no
        // inference line); globex's are as they were.
        let acmeRows = stale.tables.lineItems.rows.filter { $0[1] == "acme" }
        #expect(
            try pg.psql("SELECT count(*) FROM invoice_breakdown.line_items WHERE customer_id = 'acme'")
                == "\(acmeRows.count)\n" && !acmeRows.isEmpty)
        #expect(
            try pg.psql(
                "SELECT count(*) FROM invoice_breakdown.line_items WHERE customer_id = 'acme' AND quantity <> 0 "
                    + "AND product_id = 'inference_tokens'") == "0\n", "no usage left from the fenced-out term")
        let globex =
            "SELECT line_item_id, day, quantity, total FROM invoice_breakdown.line_items "
            + "WHERE customer_id = 'globex' ORDER BY 1, 2"
        #expect(try pg.psql(globex) == globexBefore && !globexBefore.isEmpty)
    }

    /// acme's partition 5 exported at epoch 5 into a new server; the server and the connection.
    func exportedAtEpochFive(_ h: Histories) async throws -> (PostgresCluster, Warehouse, PartitionRows) {
        let pg = try PostgresCluster()
        let a = try h.acme.engine.warehouseExport(asOf: day("2026-10-09"))
        let rows = PartitionRows(
            export: a, drift: h.acme.engine.warehouseDrift(a), corrections: h.acme.engine.warehouseCorrections(a))
        let w = try await warehouse(pg)
        _ = try await rows.export(w, epoch: 5)
        return (pg, w, rows)
    }

    /// acme's rows as partition 5's owner exports them.
    struct PartitionRows: Sendable {
        var export: WarehouseExport
        var drift: WarehouseDrift
        var corrections: WarehouseCorrections
        func export(_ w: Warehouse, epoch: UInt64) async throws -> Warehouse.PartitionExportReport {
            try await w.exportPartition(
                export, drift: drift, corrections: corrections, partition: 5, epoch: epoch, customers: ["acme"])
        }
    }

    /// The state and wait of the sessions named `name`, one line each.
    func activity(_ pg: PostgresCluster, _ name: String) throws -> String {
        try pg.psql(
            "SELECT state || ' ' || coalesce(wait_event_type, '-') FROM pg_stat_activity WHERE application_name = '\(name)'"
        )
    }

    @Test func anOlderOwnerPausedInsideItsTransactionIsEndedAndWhatItHeldGoesWithIt() async throws {
        let h = try Histories()
        let (pg, first, rows) = try await exportedAtEpochFive(h)
        defer { pg.stop() }
        await first.close()  // its session bore the older owner's name
        let w = try await warehouse(pg)
        // The owner of epoch 5, stopped inside its export after its last statement: it holds acme's
        // rows (deleted, not committed) and the partition's row.
        let older = try pg.session(applicationName: Warehouse.sessionName(partition: 5, epoch: 5))
        older.send(
            "BEGIN; DELETE FROM invoice_breakdown.line_items WHERE customer_id = 'acme'; "
                + "UPDATE invoice_breakdown.daybook_partitions SET exported_at = now() WHERE partition = 5;")
        #expect(
            try await eventually(seconds: 60) {
                try activity(pg, Warehouse.sessionName(partition: 5, epoch: 5)).hasPrefix("idle in transaction")
            },
            "\((try? pg.psql("SELECT application_name, state, wait_event_type FROM pg_stat_activity")) ?? "") \(older.stderr.text)"
        )

        // The owner of epoch 7 ends that session instead of waiting for the server's idle timeout.
        let newer = await within(seconds: 60) {
            try await rows.export(w, epoch: 7)
        }
        let report = try #require(newer, "the newer owner's export ended within 60 s").get()
        #expect(report.endedStaleSessions == 1)
        #expect(try await w.partitionState(5)?.epoch == 7)
        let acmeRows = rows.export.tables.lineItems.rows.filter { $0[1] == "acme" }.count
        #expect(
            try pg.psql("SELECT count(*) FROM invoice_breakdown.line_items WHERE customer_id = 'acme'")
                == "\(acmeRows)\n" && acmeRows > 0, "acme's rows are the newer export's, the older delete rolled back")
        #expect(try activity(pg, Warehouse.sessionName(partition: 5, epoch: 5)) == "", "the older session is gone")
        older.send("SELECT 1;")
        #expect(older.finish() != 0, "the older session finds its connection ended: \(older.stderr.text)")
        await w.close()
    }

    @Test func anOlderOwnerWhoseTransactionBeganBeforeTheNewerExportCommittedIsRefusedAtItsEnd() async throws {
        let h = try Histories()
        let (pg, w, rows) = try await exportedAtEpochFive(h)
        defer { pg.stop() }
        await w.close()
        // A reader holding acme's rows stops the export of epoch 6 after its first check.
        let holder = try pg.session(applicationName: "holder")
        holder.send(
            "BEGIN; SELECT line_item_id FROM invoice_breakdown.line_items WHERE customer_id = 'acme' FOR UPDATE;")
        #expect(try await eventually(seconds: 60) { try activity(pg, "holder").hasPrefix("idle in transaction") })
        let older = Task {
            let w6 = try await warehouse(pg)
            do {
                let r = try await rows.export(w6, epoch: 6)
                await w6.close()
                return r
            } catch {
                await w6.close()
                throw error
            }
        }
        #expect(
            try await eventually(seconds: 60) {
                try activity(pg, Warehouse.sessionName(partition: 5, epoch: 6)) == "active Lock\n"
            }, "the export of epoch 6 waits for acme's rows")
        // Meanwhile the owner of epoch 8 committed an export (one that could not end epoch 6's session).
        _ = try pg.psql("UPDATE invoice_breakdown.daybook_partitions SET epoch = 8 WHERE partition = 5")
        let before = try WarehouseDump.all(pg)
        holder.send("COMMIT;")
        #expect(holder.finish() == 0)

        let outcome = await within(seconds: 60) { try await older.value }
        switch try #require(outcome, "the export of epoch 6 ended within 60 s") {
        case .failure(WarehouseError.fenced(let partition, let epoch, let current)):
            #expect(partition == 5 && epoch == 6 && current == 8)
        case .failure(let error): Issue.record("expected the fence, got \(error)")
        case .success: Issue.record("the export of epoch 6 committed after the export of epoch 8")
        }
        #expect(try WarehouseDump.all(pg) == before, "nothing of the refused export landed")
    }

    @Test func anExportOnASessionTheServerEndedFailsInsteadOfWaitingForEver() async throws {
        let h = try Histories()
        let (pg, w, rows) = try await exportedAtEpochFive(h)
        defer { pg.stop() }
        _ = try pg.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                + "AND pid <> pg_backend_pid()")
        let outcome = await within(seconds: 60) {
            try await rows.export(w, epoch: 6)
        }
        switch try #require(outcome, "the export on the ended session returned within 60 s") {
        case .failure(WarehouseError.connectionLost): break
        case .failure(let error): Issue.record("expected a lost connection, got \(error)")
        case .success: Issue.record("an export on a session the server ended succeeded")
        }
        await w.close()
    }
}
