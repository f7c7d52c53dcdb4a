import DaybookTestSupport
import Foundation
import Testing

/// `daybook discrepancies --invoice ID --causes`: every late event of one invoice, streamed.
@Suite("daybook discrepancies --causes", .watchdog(seconds: 600))
struct LateEventsCLITests {
    static let catalog = """
        {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 60, "finalization_grace_hours": 24,
         "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens"}],
         "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}],
         "rate_cards": [{"id": "r", "rates": [{"product": "tok", "unit_price": "0.01"}]}],
         "customers": [{"id": "c", "name": "C", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-10-01", "ends": null}]}]}
        """

    struct Late: Equatable {
        var id: String
        var seq: Int
        var timestamp: String
        var ingestTime: String
    }

    static func event(_ id: String, _ timestamp: String, tokens: Int = 1) -> String {
        "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"\(timestamp)\", \"properties\": {\"tokens\": \(tokens)}}"
    }

    /// Late event `i`'s October time, some with a millisecond fraction (written canonically: UTC, no trailing zero).
    static func time(_ i: Int) -> String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let fraction = i % 3 == 0 ? ".\(i % 9 + 1)\(i % 7 + 1)" : ""
        return "2026-10-\(two(1 + i % 31))T\(two(i % 24)):\(two(i % 60)):\(two(i * 7 % 60))\(fraction)Z"
    }

    /// October with two on-time events, then 250 late ones in two ingests (Nov 3 finalizes
    /// October first), mixed with November events that are not late. Returns the late events
    /// as expected: seq counted from the lines the test wrote.
    static func store(_ cli: CLI) throws -> [Late] {
        try #require(
            try cli.run(["catalog", "apply", try cli.write("catalog.json", catalog)], now: "2026-10-01T00:00:00Z")
                .status == 0)
        var seq = 0
        var expected: [Late] = []
        let onTime = [event("on-1", "2026-10-03T10:00:00Z", tokens: 100), event("on-2", "2026-10-09T10:00:00Z")]
        try #require(
            try cli.run(
                ["ingest", try cli.write("on.ndjson", onTime.joined(separator: "\n"))], now: "2026-10-25T00:00:00Z"
            )
            .status == 0)
        seq += onTime.count
        for (batch, (range, now)) in [(0..<120, "2026-11-03T00:00:00Z"), (120..<250, "2026-11-04T06:30:00Z")]
            .enumerated()
        {
            var lines: [String] = []
            for i in range {
                if i % 40 == 7 {
                    lines.append(event("nov-\(i)", "2026-11-02T09:00:00Z"))  // November: a draft, not late
                    seq += 1
                }
                let id = "late-\(i)"
                lines.append(event(id, time(i)))
                seq += 1
                expected.append(Late(id: id, seq: seq, timestamp: time(i), ingestTime: now))
            }
            let r = try cli.run(
                ["ingest", try cli.write("late\(batch).ndjson", lines.joined(separator: "\n"))], now: now)
            try #require(r.status == 0, "\(r.stderr)")
        }
        return expected
    }

    @Test func causesListsEveryLateEventOfTheInvoiceInEachFormat() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let expected = try Self.store(cli)
        #expect(expected.count == 250)
        let now = "2026-11-04T06:30:00Z"

        let json = try cli.run(
            ["discrepancies", "--invoice", "k/2026-10-01", "--causes", "--format", "json"], now: now)
        try #require(json.status == 0, "\(json.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(objects.allSatisfy { Set($0.keys) == ["transaction_id", "seq", "timestamp", "ingest_time"] })
        let listed = objects.map {
            Late(
                id: $0["transaction_id"] as? String ?? "", seq: $0["seq"] as? Int ?? -1,
                timestamp: $0["timestamp"] as? String ?? "", ingestTime: $0["ingest_time"] as? String ?? "")
        }
        #expect(listed == expected)

        let csv = try cli.run(["discrepancies", "--invoice", "k/2026-10-01", "--causes", "--format", "csv"], now: now)
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "transaction_id,seq,timestamp,ingest_time")
        #expect(Array(lines.dropFirst()) == expected.map { "\($0.id),\($0.seq),\($0.timestamp),\($0.ingestTime)" })

        let table = try cli.run(
            ["discrepancies", "--invoice", "k/2026-10-01", "--causes", "--format", "table"], now: now)
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows.count == 2 + 250)
        #expect(rows.first?.split(separator: " ") == ["transaction_id", "seq", "timestamp", "ingest_time"])
        #expect(
            rows.dropFirst(2).map { $0.split(separator: " ").map(String.init) }
                == expected.map { ["\($0.id)", "\($0.seq)", $0.timestamp, $0.ingestTime] })
        // Aligned: every row puts the ingest time at the same column.
        #expect(Set(rows.dropFirst(2).map { $0.count }).count == 1)

        // The report itself stays bounded: the count, and the first 100 ids.
        let report = try cli.run(["discrepancies", "--invoice", "k/2026-10-01", "--format", "json"], now: now)
        let records = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [[String: Any]])
        try #require(records.count == 1)
        let causes = try #require(records[0]["causes"] as? [String: Any])
        #expect(causes["late_event_count"] as? Int == 250)
        #expect(causes["late_transaction_ids"] as? [String] == expected.prefix(100).map(\.id))
        // November has no drift and nothing late.
        let november = try cli.run(
            ["discrepancies", "--invoice", "k/2026-11-01", "--causes", "--format", "json"], now: now)
        #expect(november.status == 0 && november.stdout == "[]\n")
        // `invoices` shows the drifted line item count.
        let invoices = try cli.run(["invoices", "--format", "csv"], now: now)
        #expect(
            invoices.stdout.contains(
                "k/2026-10-01,c,2026-10-01,2026-11-01,finalized,2026-11-03T00:00:00Z,1 line items,"))
    }

    @Test func unknownInvoiceOrMissingInvoiceIsAUsageError() throws {
        let cli = try CLI()
        defer { cli.remove() }
        _ = try Self.store(cli)
        for args in [
            ["discrepancies", "--invoice", "k/2026-10-02", "--causes"],
            ["discrepancies", "--invoice", "nope/2026-10-01", "--causes", "--format", "json"],
            ["discrepancies", "--invoice", "k-2026-10-01", "--format", "csv"],
            ["discrepancies", "--causes"],
        ] {
            let r = try cli.run(args, now: "2026-11-05T00:00:00Z")
            #expect(r.status == 2, "\(args)")
            #expect(r.stdout.isEmpty, "\(args)")
            #expect(r.stderr.contains("invoice"), "\(args): \(r.stderr)")
        }
    }
}
