import DaybookCore
import DaybookEngine
import DaybookTestSupport
import DaybookWarehouse
import Foundation
import Testing

/// `invoice_breakdown.corrections` (SPEC §5): every correction × line item, loaded by full and
/// incremental exports, checked against hand-worked values.
@Suite("Warehouse corrections", .watchdog(seconds: Watchdog.asyncBound))
struct WarehouseCorrectionsTests {
    static func event(_ id: String, _ customer: String, _ date: String, tokens: Int) -> [String] {
        [CorrectionsFixture.event(id, customer, date, tokens: tokens)]
    }

    /// The corrections table read back: numerics as their text (the loaded scale), `issued_at` in
    /// UTC or `null`, rows by (correction_id, line_item_id) as bytes.
    static func rows(_ pg: PostgresCluster, database: String) throws -> [String] {
        try pg.psql(
            """
            select correction_id, invoice_id, customer_id, kind, status, line_item_id, quantity_delta::text,
                   subtotal_delta::text, credits_delta::text, commits_delta::text, total_delta::text, proposed_seq,
                   coalesce(to_char(issued_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'null')
            from invoice_breakdown.corrections order by correction_id collate "C", line_item_id collate "C"
            """, database: database
        ).split(separator: "\n").map(String.init)
    }

    /// After late events, an issued, a rejected and an open correction, a full export loads exactly
    /// those rows; after more (a second issue, a new proposal past a rejected delta) the incremental
    /// and `--changed-since` exports replace them with the new set, as a full export does, and the
    /// `exports` rows count them.
    @Test func correctionsTableHoldsTheHandWorkedRows() async throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        for database in ["incremental", "since", "complete"] { try pg.psql("create database \(database)") }
        let history = try BillingHistory(catalog: Array(CorrectionsFixture.catalog.utf8))
        let engine = history.engine
        // September: c 100 tokens (1.00, seq 1), d 300 (3.00, seq 2); finalized on Oct 3.
        try history.ingest(Self.event("t1", "c", "2026-09-05", tokens: 100), now: day("2026-09-20"))
        try history.ingest(Self.event("t2", "d", "2026-09-06", tokens: 300), now: day("2026-09-20"))
        _ = try engine.finalize(now: try Timestamp(parsing: "2026-10-03T00:00:00Z"))
        // Late: c +50 tokens (+0.50, seq 3), d +40 (+0.40, seq 4).
        try history.ingest(Self.event("t3", "c", "2026-09-10", tokens: 50), now: day("2026-10-04"))
        try history.ingest(Self.event("t4", "d", "2026-09-11", tokens: 40), now: day("2026-10-04"))
        _ = try engine.issueCorrection("k/2026-09-01/c1", now: try Timestamp(parsing: "2026-10-05T00:00:00Z"))
        _ = try engine.rejectCorrection(
            "m/2026-09-01/c1", reason: "goodwill", now: try Timestamp(parsing: "2026-10-05T01:00:00Z"))
        // c +20 more (+0.20, seq 5): proposed as c2, beside the issued c1.
        try history.ingest(Self.event("t5", "c", "2026-09-11", tokens: 20), now: day("2026-10-06"))

        let data = history.store.path
        func export(_ database: String, _ extra: [String] = []) throws -> DaybookRun {
            let run = try DaybookRun.run(
                ["export", "--as-of", "2026-10-06", "--postgres", pg.url(database: database), "--data", data] + extra)
            #expect(run.status == 0, "\(database): \(run.stderr)")
            return run
        }
        for database in ["incremental", "since"] {
            let full = try export(database)
            #expect(full.stdout.contains("corrections: 3 rows written, 0 deleted, 3 in the table"), "\(full.stdout)")
        }
        let first = [
            "k/2026-09-01/c1|k/2026-09-01|c|true_up|issued|tok|50|0.50|0.00|0.00|0.50|3|2026-10-05T00:00:00Z",
            "k/2026-09-01/c2|k/2026-09-01|c|true_up|proposed|tok|20|0.20|0.00|0.00|0.20|5|null",
            "m/2026-09-01/c1|m/2026-09-01|d|true_up|rejected|tok|40|0.40|0.00|0.00|0.40|4|null",
        ]
        #expect(try Self.rows(pg, database: "incremental") == first)
        // The numerics are the decimals themselves, not text that looks like them.
        #expect(
            try pg.psql(
                "select sum(total_delta), sum(quantity_delta) from invoice_breakdown.corrections where status <> 'rejected'",
                database: "incremental") == "0.70|70\n")
        #expect(
            try pg.psql(
                "select count(*) from invoice_breakdown.corrections where subtotal_delta = 0.5 and issued_at = "
                    + "'2026-10-05T00:00:00Z'::timestamptz", database: "incremental") == "1\n")
        #expect(
            try pg.psql("select corrections_rows from invoice_breakdown.exports", database: "incremental") == "3\n")

        // c2 issued (it has not moved since seq 5); d: +10 tokens (+0.10, seq 6), proposed as m c2
        // without the rejected 0.40.
        _ = try engine.issueCorrection("k/2026-09-01/c2", now: try Timestamp(parsing: "2026-10-07T00:00:00Z"))
        try history.ingest(Self.event("t6", "d", "2026-09-12", tokens: 10), now: day("2026-10-07"))
        let second = [
            "k/2026-09-01/c1|k/2026-09-01|c|true_up|issued|tok|50|0.50|0.00|0.00|0.50|3|2026-10-05T00:00:00Z",
            "k/2026-09-01/c2|k/2026-09-01|c|true_up|issued|tok|20|0.20|0.00|0.00|0.20|5|2026-10-07T00:00:00Z",
            "m/2026-09-01/c1|m/2026-09-01|d|true_up|rejected|tok|40|0.40|0.00|0.00|0.40|4|null",
            "m/2026-09-01/c2|m/2026-09-01|d|true_up|proposed|tok|10|0.10|0.00|0.00|0.10|6|null",
        ]
        let incremental = try export("incremental", ["--incremental"])
        #expect(
            incremental.stdout.contains("corrections: 4 rows written, 3 deleted, 4 in the table"),
            "\(incremental.stdout)")
        _ = try export("since", ["--changed-since", "5"])
        _ = try export("complete")
        for database in ["incremental", "since", "complete"] {
            #expect(try Self.rows(pg, database: database) == second, "\(database)")
            #expect(
                try pg.psql(
                    "select kind, corrections_rows from invoice_breakdown.exports order by id desc limit 1",
                    database: database) == (database == "complete" ? "full|4\n" : "incremental|4\n"), "\(database)")
        }
    }
}
