import DaybookTestSupport
import Foundation
import Testing

/// Issue 8, item 1, as filed: a valid event with a long property value must not block ingest.
@Suite("daybook ingest of long values", .watchdog(seconds: 600))
struct LongValuesCLITests {
    @Test func aUniqueCountValueOf500BytesIsAcceptedAndCounted() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let applied = try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-01-01T00:00:00Z")
        try #require(applied.status == 0, "\(applied.stderr)")
        let user = String(repeating: "u", count: 500)
        let file = try cli.write(
            "e.ndjson",
            "{\"transaction_id\": \"s1\", \"customer_id\": \"acme\", \"event_type\": \"session\", "
                + "\"timestamp\": \"2026-10-20T04:05:41Z\", \"properties\": {\"user_id\": \"\(user)\"}}\n")
        let r = try cli.run(["ingest", file, "--format", "json"], now: "2026-11-01T12:00:00Z")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "{\"accepted\": 1, \"duplicates\": 0, \"dead_lettered\": 0, \"metric_rejections\": 0}\n")
        // One active user on Oct 20, at the example catalog's 12 per seat.
        let breakdown = try cli.run(
            ["breakdown", "--invoice", "acme-2026/2026-10-01", "--format", "csv"], now: "2026-11-01T12:00:00Z")
        #expect(breakdown.stdout.contains("\n2026-10-20,seats,1,12,12.00,"), "\(breakdown.stdout)")
        // Again: a duplicate now, not a failure.
        let again = try cli.run(["ingest", file, "--format", "json"], now: "2026-11-01T12:00:00Z")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.hasPrefix("{\"accepted\": 0, \"duplicates\": 1,"))
    }
}
