import Testing

@testable import DaybookCore

/// The event fast path must agree with the strict parser on every input: whenever it produces an
/// event, the strict path produces the same one. Checked on hand-picked edge cases and on many
/// single-byte mutations of valid events, asserting each time which path decided: the flat ASCII
/// events must be taken by the fast path, the edge cases must be deferred to the strict parser.
@Suite("Event parsing fast path")
struct FastPathTests {
    static let valid = [
        #"{"transaction_id": "b2c1-77", "customer_id": "neuratech", "event_type": "inference", "timestamp": "2026-10-03T14:05:09.120Z", "properties": {"model": "model-a", "tokens": 1830, "region": "us"}}"#,
        #"{"transaction_id":"t","customer_id":"c","event_type":"e","timestamp":"2026-09-05T23:12:38-07:00","properties":{"gb":246.505,"ok":true,"no":false,"x":null,"s":"0.25","e":1E+3,"z":-0.0}}"#,
        #"  {"properties": null, "timestamp": "2026-09-11t15:26:49z", "event_type": "s", "customer_id": "c", "transaction_id": "x", "extra": 5, "more": null}  "#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": {}}"#,
    ]

    static let edge = [
        #"{"transaction_id": "a", "transaction_id": "b", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": {"k": 1, "k": 2}}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:60Z"}"#,
        #"{"transaction_id": "", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"}"#,
        #"{"transaction_id": 5, "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": {"n": {"deep": 1}}}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": "x"}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": {"v": 01}}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": {"v": NaN}}"#,
        #"{"transaction_id": "a\u0062", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"}"#,
        #"{"transaction_id": "é", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z",}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z"} x"#,
        #"[{"transaction_id": "a"}]"#,
        "\u{FEFF}{\"transaction_id\": \"a\", \"customer_id\": \"c\", \"event_type\": \"e\", \"timestamp\": \"2026-10-01T00:00:00Z\"}",
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "properties": {"a": [1]}}"#,
        #"{"transaction_id": "a", "customer_id": "c", "event_type": "e", "timestamp": "2026-10-01T00:00:00Z", "list": [1, 2], "o": {"a": 1}}"#,
    ]

    /// The strict parser alone (the fast path disabled by an escape it refuses: none here — so
    /// compare against `validate(StrictJSON.parse(...))`, which never takes the fast path).
    func strict(_ bytes: [UInt8]) -> Result<UsageEvent, InvalidEvent> {
        do { return UsageEvent.validate(try StrictJSON.parse(bytes)) } catch {
            return .failure(InvalidEvent(.malformedJSON, "\(error)"))
        }
    }

    /// The fast path alone: the event, or nil when it defers to the strict parser.
    func fast(_ bytes: [UInt8]) -> UsageEvent? { bytes.withUnsafeBufferPointer(UsageEvent.parseFast) }

    func agree(_ bytes: [UInt8]) -> Bool {
        switch (UsageEvent.parse(bytes[...]), strict(bytes)) {
        case (.success(let a), .success(let b)): return a == b
        case (.failure(let a), .failure(let b)): return a.reason == b.reason
        default: return false
        }
    }

    /// Metrics over the properties of `valid`: filters, groups, every aggregation, values that
    /// are numbers, numeric strings, booleans, null and absent.
    static let metrics: [Metric] = {
        var all: [Metric] = []
        for type in ["inference", "e", "s"] {
            all += [
                Metric(
                    id: "\(type)-tokens", eventType: type, aggregation: .sum, property: "tokens",
                    filters: [.init(property: "region", allowed: ["us", "eu"])], groupBy: ["model"]),
                Metric(
                    id: "\(type)-count", eventType: type, aggregation: .count, property: nil, groupBy: ["ok", "no"]),
                Metric(id: "\(type)-gb", eventType: type, aggregation: .max, property: "gb"),
                Metric(
                    id: "\(type)-s", eventType: type, aggregation: .sum, property: "s",
                    filters: [.init(property: "ok", allowed: ["true"])]),
                Metric(id: "\(type)-e", eventType: type, aggregation: .sum, property: "e"),
                Metric(id: "\(type)-z", eventType: type, aggregation: .max, property: "z"),
                Metric(id: "\(type)-ok", eventType: type, aggregation: .sum, property: "ok"),
                Metric(id: "\(type)-x", eventType: type, aggregation: .sum, property: "x"),
                Metric(id: "\(type)-users", eventType: type, aggregation: .uniqueCount, property: "model"),
                Metric(id: "\(type)-flags", eventType: type, aggregation: .uniqueCount, property: "ok", groupBy: ["e"]),
            ]
        }
        return all
    }()

    /// The event read in place (`withFastEvent`) gives what the parsed event gives: the same ids,
    /// time and outcome for every metric; and it is read in place exactly when the fast path decides.
    func inPlaceAgrees(_ bytes: [UInt8]) -> Bool {
        let inPlace = UsageEvent.withFastEvent(bytes) { e in
            (e.transactionID, e.customerID, e.eventType, e.timestamp, Self.metrics.map { $0.evaluate(e) })
        }
        guard let inPlace else { return fast(bytes) == nil }
        guard case .success(let parsed) = strict(bytes), fast(bytes) != nil else { return false }
        return inPlace.0 == parsed.transactionID && inPlace.1 == parsed.customerID && inPlace.2 == parsed.eventType
            && inPlace.3 == parsed.timestamp && inPlace.4 == Self.metrics.map { $0.evaluate(parsed) }
    }

    @Test func metricsOfTheValidEventsAreNotAllTrivial() throws {
        // The comparison below must see contributions, groups and rejections, not only notMatched.
        let outcomes = Self.valid.flatMap { text in
            UsageEvent.withFastEvent(Array(text.utf8)) { e in Self.metrics.map { $0.evaluate(e) } } ?? []
        }
        #expect(outcomes.contains(.contributes(.value(FixedDecimal(1830)), group: "{model=model-a}")))
        #expect(outcomes.contains(.contributes(.distinct("true"), group: "{e=1000}")))
        #expect(outcomes.contains(.rejected(.nonNumeric)))
        #expect(outcomes.contains(.rejected(.missing)))
        #expect(outcomes.contains(.contributes(.one, group: "{ok=true,no=false}")))
    }

    @Test(arguments: valid) func validEventsTakeTheFastPathAndAgree(_ text: String) throws {
        let bytes = Array(text.utf8)
        let event = try #require(fast(bytes), "the fast path deferred on \(text)")
        #expect(try strict(bytes).get() == event)
        #expect(agree(bytes))
        #expect(inPlaceAgrees(bytes))
    }

    @Test(arguments: edge) func edgeCasesDeferToTheStrictParserAndAgree(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(fast(bytes) == nil, "the fast path decided \(text)")
        #expect(agree(bytes), "\(text)")
        #expect(inPlaceAgrees(bytes), "\(text)")
    }

    @Test func mutationsAgree() {
        var rng = SplitMixForTests(seed: 7)
        let alphabet = Array(#"{}[]":,.-+eE0123456789 tfnulrsa\"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xFF]
        var checked = 0, tookFastPath = 0
        for text in Self.valid {
            let base = Array(text.utf8)
            for _ in 0..<3_000 {
                var bytes = base
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    case 1: bytes.remove(at: at)
                    default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    }
                    if bytes.isEmpty { bytes = [0x7B] }
                }
                #expect(agree(bytes), "\(String(decoding: bytes, as: UTF8.self))")
                #expect(inPlaceAgrees(bytes), "in place: \(String(decoding: bytes, as: UTF8.self))")
                checked += 1
                if fast(bytes) != nil { tookFastPath += 1 }
            }
        }
        #expect(checked == 15_000)
        // Both paths were exercised: many mutants are still flat ASCII events, many are not.
        #expect(tookFastPath > 500)
        #expect(checked - tookFastPath > 5_000)
    }
}

struct SplitMixForTests {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
