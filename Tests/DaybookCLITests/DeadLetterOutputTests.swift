import DaybookTestSupport
import Foundation
import Testing

/// `daybook dead-letters`: every dead letter printable, whatever its size or bytes.
@Suite("daybook dead-letters output", .watchdog(seconds: 600))
struct DeadLetterOutputTests {
    /// A store with the CLI tests' catalog; `lines` ingested as one NDJSON file.
    static func store(_ cli: CLI, lines: [Data]) throws -> CLI.Result {
        try #require(
            try cli.run(["catalog", "apply", try cli.write("catalog.json", CLITests.catalog)], now: "2026-10-01")
                .status == 0)
        var file = Data()
        for line in lines { file += line + Data([0x0A]) }
        let url = cli.file("events.ndjson")
        try file.write(to: url)
        return try cli.run(["ingest", url.path, "--format", "json"], now: "2026-10-05")
    }

    /// 5,000 small dead letters and one of 2 MB. The text table used to build, for every row, the
    /// padding to the widest raw record (5,001 × 2 MB of spaces: 222 s) and would print a cell
    /// of 2 MB. Now cells are shown cut to a display width and widths come from what is shown.
    /// Two guards: the table is smaller than the CSV (which carries every raw byte, twice: as
    /// text and as base64), and it prints within 10 s. That bound is not a speed target (a
    /// debug build prints it in well under a second); it turns the hang into a failure instead of
    /// a stuck test run, which is why a time bound is acceptable here.
    static let bigRecordBytes = 2_000_000

    @Test func aLargeDeadLetterLeavesTheTableLinearInSize() throws {
        let cli = try CLI()
        defer { cli.remove() }
        var lines = (1...5_000).map { Data("{\"n\": \($0)}".utf8) }  // missing fields
        let big = Data("{\"transaction_id\": \"".utf8) + Data(repeating: UInt8(ascii: "x"), count: Self.bigRecordBytes)
        lines.insert(big, at: 2_500)  // an unterminated string: malformed
        let ingest = try Self.store(cli, lines: lines)
        #expect(
            ingest.stdout
                == "{\"accepted\": 0, \"duplicates\": 0, \"dead_lettered\": 5001, \"metric_rejections\": 0}\n",
            "\(ingest.stderr)")

        let csv = try cli.run(["dead-letters", "--format", "csv"])
        #expect(csv.status == 0)
        #expect(csv.stdout.utf8.count > Self.bigRecordBytes)  // the big record is there in full
        let started = ContinuousClock.now
        let table = try cli.run(["dead-letters", "--format", "table"])
        let elapsed = ContinuousClock.now - started
        #expect(table.status == 0, "\(table.stderr)")
        #expect(elapsed < .seconds(10))
        #expect(table.stdout.utf8.count < 2 * csv.stdout.utf8.count)
        let rows = table.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(rows.count == 5_001 + 3)  // header, rule, rows, and the empty piece after the last \n
        let bigRow = try #require(rows.first { $0.contains("line 2501 ") })
        // `raw` is shown in at most 60 characters: 59 of the record and "…".
        #expect(bigRow.hasSuffix("  {\"transaction_id\": \"" + String(repeating: "x", count: 39) + "…"), "\(bigRow)")
        // Widths come from what is shown, so no row is padded to the 2 MB record.
        #expect(rows.allSatisfy { $0.utf8.count < 500 })
    }

    /// Bytes that are not UTF-8 (0xFF 0xFE) and a control character: `raw` shows them visibly,
    /// `raw_base64` keeps them exactly, in CSV and JSON; the table escapes the control character.
    @Test func invalidUTF8RoundTripsThroughRawBase64() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let invalid = Data("{\"transaction_id\": \"a".utf8) + Data([0xFF, 0xFE]) + Data("\", \"x\": 1}".utf8)
        let control = Data("{\"transaction_id\": \"b\u{1B}[31m\", \"x\": 2}".utf8)
        let ingest = try Self.store(cli, lines: [invalid, control])
        #expect(ingest.stdout.contains("\"dead_lettered\": 2"), "\(ingest.stderr)")
        let shown = [
            "{\"transaction_id\": \"a\\xFF\\xFE\", \"x\": 1}", "{\"transaction_id\": \"b\u{1B}[31m\", \"x\": 2}",
        ]

        let csv = try cli.run(["dead-letters", "--format", "csv"])
        let records = Self.parseCSV(csv.stdout)
        let header = try #require(records.first)
        let raw = try #require(header.firstIndex(of: "raw"))
        let base64 = try #require(header.firstIndex(of: "raw_base64"))
        #expect(base64 == raw + 1)
        #expect(records.dropFirst().map { $0[raw] } == shown)
        #expect(records.dropFirst().map { Data(base64Encoded: $0[base64]) } == [invalid, control])

        let json = try cli.run(["dead-letters", "--format", "json"])
        let objects = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(objects.map { $0["raw"] as? String } == shown)
        #expect(
            objects.map { ($0["raw_base64"] as? String).flatMap { Data(base64Encoded: $0) } } == [invalid, control])

        let table = try cli.run(["dead-letters", "--format", "table"])
        #expect(!table.stdout.utf8.contains(0x1B))
        #expect(table.stdout.contains("\"b\\u{1B}[31m\""), "\(table.stdout)")
        #expect(table.stdout.contains("a\\xFF\\xFE"))
        #expect(!table.stdout.contains("raw_base64"))
    }

    /// RFC 4180 records (quoted fields may hold `,`, `"` and newlines).
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" {
                        field.unicodeScalars.append(c)
                        chars.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c == "\n" {
                record.append(field)
                records.append(record)
                (record, field) = ([], "")
            } else {
                field.unicodeScalars.append(c)
            }
        }
        return records
    }
}
