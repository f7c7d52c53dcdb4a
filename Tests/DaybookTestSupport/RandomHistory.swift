import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload

/// A seeded random usage history: catalog versions and ingest batches with a moving clock.
///
/// Events spread over about three months arrive in batches, in random order, many of them
/// backdated (by up to the whole history: `max_lateness_days` is 400), with duplicates (the same
/// `transaction_id`, resent as-is or with other content), values that a metric rejects (negative,
/// non-numeric, too precise), invalid records, a few events too far in the future or the past,
/// and now and then a catalog change between batches.
public struct RandomHistory: Sendable {
    public enum Step: Sendable {
        /// Apply this catalog version.
        case catalog(CatalogModel, change: String, now: Timestamp)
        /// Ingest these NDJSON lines as one batch.
        case ingest([String], now: Timestamp)
    }

    public var seed: UInt64
    public var steps: [Step] = []

    /// - Parameters:
    ///   - batches: number of ingest batches.
    ///   - eventsPerBatch: records per batch (random in this range).
    ///   - catalogChanges: probability of a catalog change before each batch after the first.
    public init(
        seed: UInt64, batches: ClosedRange<Int> = 6...10, eventsPerBatch: ClosedRange<Int> = 15...60,
        catalogChanges: Double = 0.35
    ) {
        self.seed = seed
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 17)
        var catalog = CatalogModel.random(&rng)
        var now = Timestamp(day: Day(year: 2026, month: 1, day: 1)!).adding(seconds: Int64(rng.int(0...86_399)))
        steps.append(.catalog(catalog, change: "initial", now: now))
        var factory = EventFactory(seed: seed)
        for b in 0..<rng.int(batches) {
            now = now.adding(seconds: Int64(rng.int(3...14)) * 86_400 + Int64(rng.int(0...86_399)))
            if b > 0 && rng.chance(catalogChanges) {
                let change = catalog.mutate(&rng)
                steps.append(.catalog(catalog, change: change, now: now))
            }
            let lines = (0..<rng.int(eventsPerBatch)).map { _ in factory.line(now: now, &rng) }
            steps.append(.ingest(lines, now: now))
        }
    }
}

/// Makes random event records (NDJSON lines) for ``RandomHistory``.
public struct EventFactory: Sendable {
    var seed: UInt64
    var count = 0
    /// Every transaction id made so far and the lines sent, for duplicates.
    var ids: [String] = []
    var sent: [String] = []
    /// The earliest instant events are placed at.
    public var historyStart = Timestamp(day: Day(year: 2025, month: 12, day: 27)!)

    public init(seed: UInt64) { self.seed = seed }

    /// One record as it would arrive at `now`.
    public mutating func line(now: Timestamp, _ rng: inout SplitMix64) -> String {
        let roll = rng.int(0...99)
        if roll < 4 { return invalidLine(&rng) }
        if roll < 16 && !sent.isEmpty {
            if rng.chance(0.5) { return rng.pick(sent) }  // resent as-is
            return event(id: rng.pick(ids), now: now, &rng)  // same id, other content
        }
        count += 1
        let line = event(id: "t\(seed)-\(count)", now: now, &rng)
        ids.append("t\(seed)-\(count)")
        sent.append(line)
        return line
    }

    func timestamp(now: Timestamp, _ rng: inout SplitMix64) -> String {
        var seconds: Int64
        switch rng.int(0...99) {
        case 0...1: seconds = now.seconds + Int64(rng.int(2 * 86_400 + 60...3 * 86_400))  // in_future
        case 2: seconds = Timestamp(day: Day(year: 2024, month: 6, day: 1)!).seconds  // too_late (400 days)
        case 3...49:  // recent: the last week, up to 20 hours ahead of the clock
            seconds = now.seconds - Int64(rng.int(-72_000...7 * 86_400))
        default:  // anywhere in the history, however far back
            seconds =
                historyStart.seconds + Int64(rng.int(0...Int(max(1, now.seconds + 72_000 - historyStart.seconds))))
        }
        // Write it in some time zone.
        let (zone, offset) = rng.pick([
            ("Z", 0), ("z", 0), ("Z", 0), ("+05:30", 19_800), ("-08:00", -28_800), ("+13:45", 49_500),
        ])
        let local = seconds + Int64(offset)
        let day = Day(number: Int32((local - ((local % 86_400) + 86_400) % 86_400) / 86_400))
        let sod = Int(((local % 86_400) + 86_400) % 86_400)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var text = "\(day)\(rng.chance(0.1) ? "t" : "T")\(two(sod / 3600)):\(two(sod / 60 % 60)):\(two(sod % 60))"
        if rng.chance(0.4) { text += ".\(rng.int(100...999))" }
        return text + zone
    }

    /// Property values as long as SPEC §1 allows (1024 bytes), sharing their first 1020 bytes and
    /// needing percent-encoding in a line-item id (three of them make a 3 KB id): keys of line
    /// items, distinct values and drift records hold only their digest (issue 8).
    static let long = (0..<3).map { String(repeating: "L", count: 1020) + ",=%\($0)" }

    func event(id: String, now: Timestamp, _ rng: inout SplitMix64) -> String {
        let r = rng.int(0...99)
        let customer = r < 35 ? "c0" : r < 60 ? "c1" : r < 85 ? "c2" : "c9"
        let ts = timestamp(now: now, &rng)
        var props: [String] = []
        let type: String
        switch rng.int(0...99) {
        case 0..<40:
            type = "inference"
            if !rng.chance(0.05) {
                props.append("\"model\": \"\(rng.pick(["m-a", "m-b", "m-c", "m-a", Self.long[0], Self.long[1]]))\"")
            }
            if !rng.chance(0.05) { props.append("\"region\": \"\(rng.pick(["us", "eu", "ap", "us"]))\"") }
            switch rng.int(0...99) {
            case 0..<70: props.append("\"tokens\": \(rng.int(0...400))")
            case 70..<76: props.append("\"tokens\": \"\(rng.pick(["123", "007", "0.25", "1.0000000000"]))\"")
            case 76..<82: props.append("\"tokens\": \(rng.pick(["12.5", "1.25e2", "2.50", "1E1", "0.000000001"]))")
            case 82..<94:
                props.append(
                    "\"tokens\": \(rng.pick(["-5", "\"abc\"", "true", "\"1e3\"", "1e-10", "1e15", "\"-3\"", "null"]))")
            default: break
            }
        case 40..<60:
            type = "session"
            switch rng.int(0...11) {
            case 10: props.append("\"user\": \"\(rng.pick(Self.long))\"")
            case 11: props.append("\"user\": \(rng.pick(["1e1000", "\"1\(String(repeating: "0", count: 1000))\""]))")
            case 0: props.append("\"user\": 3")
            case 1: props.append("\"user\": \"3\"")
            case 2: props.append("\"user\": true")
            case 3: break
            default: props.append("\"user\": \"u\(rng.int(0...7))\"")
            }
            if rng.chance(0.8) { props.append("\"plan\": \"\(rng.pick(["free", "pro", "a=b", Self.long[2]]))\"") }
            if rng.chance(0.8) { props.append("\"paid\": \(rng.pick(["true", "false", "\"true\"", "1", "null"]))") }
        case 60..<75:
            type = "storage"
            let v = rng.int(0...20_000)
            switch rng.int(0...9) {
            case 0: props.append("\"gb\": \"\(v / 1000).\(v % 1000)\"")
            case 1: props.append("\"gb\": \(rng.pick(["\"-1.5\"", "\"lots\"", "-0.5"]))")
            default: props.append("\"gb\": \(v / 1000).\(v % 1000)")
            }
            let regions = ["plain", "us,east", "eu=1", "{x}", "50%", "\u{00FC}ber", Self.long[0], Self.long[2]]
            props.append("\"region\": \"\(rng.pick(regions))\"")
            if rng.chance(0.9) { props.append("\"tier\": \(rng.pick(["1", "\"1\"", "1.0", "2", "\"2\"", "3"]))") }
        case 75..<90:
            type = "gpu"
            props.append("\"gpus\": \(rng.pick(["1", "2", "4", "8", "16", "2.5", "\"8\"", "-2", "3", "12"]))")
        default:
            type = "noise"
            props.append("\"x\": 1")
        }
        let properties = rng.chance(0.03) ? "" : ", \"properties\": {\(props.joined(separator: ", "))}"
        return "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"\(type)\", "
            + "\"timestamp\": \"\(ts)\"\(properties)}"
    }

    mutating func invalidLine(_ rng: inout SplitMix64) -> String {
        // Invalid records may reuse an id: a dead-lettered record never makes a later one a duplicate.
        let id = rng.chance(0.3) ? "t\(seed)-\(count + 1)" : "bad-\(rng.int(0...1_000_000))"
        switch rng.int(0...5) {
        case 0: return "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c0\""
        case 1:
            return "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c0\", \"timestamp\": \"2026-01-05T00:00:00Z\"}"
        case 2:
            return
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c0\", \"event_type\": \"gpu\", \"timestamp\": \"2026-02-30T00:00:00Z\"}"
        case 3:
            return
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c1\", \"event_type\": \"gpu\", \"timestamp\": \"2026-01-10T00:00:00Z\", \"properties\": {\"gpus\": [1]}}"
        case 4:
            return
                "{\"transaction_id\": \"\", \"customer_id\": \"c1\", \"event_type\": \"gpu\", \"timestamp\": \"2026-01-10T00:00:00Z\"}"
        default: return "[1, 2"
        }
    }
}

/// What the log should hold after a sequence of batches (SPEC §1: validation, then duplicates,
/// then lateness), computed without the engine.
public struct LogModel: Sendable {
    /// The accepted events, in log order.
    public private(set) var events: [UsageEvent] = []
    public private(set) var ids: Set<String> = []

    public init() {}

    /// Takes a batch as the engine should at `now`; returns the expected summary.
    public mutating func ingest(_ lines: [String], now: Timestamp, catalog: Catalog) -> IngestSummary {
        var summary = IngestSummary()
        let earliest = now.adding(seconds: -Int64(catalog.maxLatenessDays) * 86_400)
        let latest = now.adding(seconds: 86_400)
        for line in lines {
            guard case .success(let event) = UsageEvent.parse(Array(line.utf8)[...]) else {
                summary.deadLettered += 1
                continue
            }
            if ids.contains(event.transactionID) {
                summary.duplicates += 1
                continue
            }
            if event.timestamp < earliest || latest < event.timestamp {
                summary.deadLettered += 1
                continue
            }
            ids.insert(event.transactionID)
            events.append(event)
            summary.accepted += 1
            for metric in catalog.metrics.values {
                if case .rejected = metric.evaluate(event) { summary.metricRejections += 1 }
            }
        }
        return summary
    }
}

extension IngestRecord {
    /// NDJSON lines as records (`line N` positions).
    public static func lines(_ lines: [String]) -> [IngestRecord] {
        lines.enumerated().map { IngestRecord(bytes: Array($1.utf8), position: "line \($0 + 1)") }
    }
}
