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
@Suite("Fenced partition exports")
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
}
