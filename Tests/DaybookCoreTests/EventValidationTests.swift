import DaybookCore
import Testing

@Suite("Event validation")
struct EventValidationTests {
    func parse(_ s: String) -> Result<UsageEvent, InvalidEvent> { UsageEvent.parse(Array(s.utf8)[...]) }

    @Test func acceptsAValidEventAndDropsNulls() throws {
        let e = try parse(
            """
            {"transaction_id": "b2c1-77", "customer_id": "neuratech", "event_type": "inference", "extra": [1],
             "timestamp": "2026-10-03T23:05:09.120-02:00", "properties": {"model": "model-a", "tokens": 1830, "region": null}}
            """
        ).get()
        #expect(e.transactionID == "b2c1-77")
        #expect(e.day == Day(parsing: "2026-10-04"))  // -02:00 moves 23:05 to the next UTC day
        #expect(e.properties.count == 2)
        #expect(e.properties["tokens"] == .number(DecimalText(json: "1830")!))
    }

    @Test(arguments: [
        ("{\"transaction_id\": \"a\"", DeadLetterReason.malformedJSON),
        ("{\"transaction_id\": \"a\", \"transaction_id\": \"b\"}", .malformedJSON),
        ("{\"t\": NaN}", .malformedJSON),
        ("[1]", .notAnObject),
        ("{\"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\"}", .missingField),
        (
            "{\"transaction_id\": 7, \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\"}",
            .invalidField
        ),
        (
            "{\"transaction_id\": \"\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\"}",
            .invalidField
        ),
        (
            "{\"transaction_id\": \"a\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01 00:00:00Z\"}",
            .invalidTimestamp
        ),
        (
            "{\"transaction_id\": \"a\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:60Z\"}",
            .invalidTimestamp
        ),
        (
            "{\"transaction_id\": \"a\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\", \"properties\": {\"x\": {\"y\": 1}}}",
            .invalidField
        ),
        (
            "{\"transaction_id\": \"a\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\", \"properties\": [1]}",
            .invalidField
        ),
        (
            "{\"transaction_id\": \"a\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\", \"properties\": 3}",
            .invalidField
        ),
    ])
    func deadLettersInvalidRecords(record: String, reason: DeadLetterReason) {
        guard case .failure(let invalid) = parse(record) else {
            Issue.record("accepted \(record)")
            return
        }
        #expect(invalid.reason == reason, "\(invalid)")
    }

    @Test func enforcesLimits() {
        let longID = String(repeating: "x", count: 129)
        let base = "\"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\""
        guard case .failure(let a) = parse("{\"transaction_id\": \"\(longID)\", \(base)}") else {
            Issue.record("129-byte id accepted"); return
        }
        #expect(a.reason == .limitExceeded)
        #expect(a.field == "transaction_id")
        let ok = String(repeating: "x", count: 128)
        #expect((try? parse("{\"transaction_id\": \"\(ok)\", \(base)}").get()) != nil)
        let props = (0..<101).map { "\"k\($0)\": 1" }.joined(separator: ", ")
        guard case .failure(let b) = parse("{\"transaction_id\": \"a\", \(base), \"properties\": {\(props)}}") else {
            Issue.record("101 keys accepted"); return
        }
        #expect(b.reason == .limitExceeded)
        let big = String(repeating: "v", count: 1025)
        guard case .failure(let c) = parse("{\"transaction_id\": \"a\", \(base), \"properties\": {\"s\": \"\(big)\"}}")
        else { Issue.record("1025-byte value accepted"); return }
        #expect(c.reason == .limitExceeded)
    }

    @Test func metricsMatchFiltersAndGroupWithEncoding() throws {
        let metric = Metric(
            id: "tokens", eventType: "inference", aggregation: .sum, property: "tokens",
            filters: [Metric.Filter(property: "region", allowed: ["us", "1.5"])], groupBy: ["model", "tier"])
        let e = try parse(
            """
            {"transaction_id": "a", "customer_id": "c", "event_type": "inference", "timestamp": "2026-10-01T00:00:00Z",
             "properties": {"model": "x,beta={1}%", "tokens": "12.50", "region": 1.50}}
            """
        ).get()
        #expect(
            metric.evaluate(e)
                == .contributes(.value(FixedDecimal("12.5")!), group: "{model=x%2Cbeta%3D%7B1%7D%25,tier=}"))
        var other = e
        other.properties["region"] = .string("ap")
        #expect(metric.evaluate(other) == .notMatched)
        other.properties["region"] = .string("us")
        other.properties["tokens"] = .string("-1")
        #expect(metric.evaluate(other) == .rejected(.negative))
        other.properties["tokens"] = nil
        #expect(metric.evaluate(other) == .rejected(.missing))
    }
}
