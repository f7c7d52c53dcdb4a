import DaybookCore
import Testing

/// A record far larger than any valid event is dead-lettered as too large before it is parsed.
@Suite("Record size limit")
struct RecordSizeTests {
    @Test func aRecordOver2MiBIsDeadLetteredAsTooLargeWithoutBeingParsed() {
        // A valid event but for an ignored top-level field of 3 MB.
        let record = Array(
            ("{\"transaction_id\": \"t\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-03T00:00:00Z\", \"pad\": \""
                + String(repeating: "x", count: 3 << 20) + "\"}").utf8)
        guard case .failure(let invalid) = UsageEvent.parse(record[...]) else {
            Issue.record("a \(record.count)-byte record was accepted")
            return
        }
        #expect(invalid.reason == .limitExceeded)
        #expect(
            invalid.message
                == "the record is \(record.count) bytes; the limit is 2097152 bytes (2 MiB, well above any valid event)"
        )
    }

    @Test func theLargestValidEventIsUnderTheLimitAndParses() throws {
        // 100 properties whose 1024-byte keys and values are written entirely as \u escapes.
        func escaped(_ s: String) -> String { s.unicodeScalars.map { "\\u00" + String($0.value, radix: 16) }.joined() }
        let properties = (0..<100).map { i -> String in
            let key = "k" + String(1000 + i) + String(repeating: "a", count: 1019)
            return "\"\(escaped(key))\": \"\(escaped(String(repeating: "v", count: 1024)))\""
        }
        let tid = escaped(String(repeating: "t", count: 128))
        let record = Array(
            ("{\"transaction_id\": \"\(tid)\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-03T00:00:00Z\", \"properties\": {"
                + properties.joined(separator: ", ") + "}}").utf8)
        #expect(record.count > 1_200_000 && record.count <= UsageEvent.maxRecordBytes)
        let event = try UsageEvent.parse(record[...]).get()
        #expect(event.properties.count == 100)
    }
}
