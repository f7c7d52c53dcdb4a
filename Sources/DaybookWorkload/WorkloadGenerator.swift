import DaybookCore

/// A realistic synthetic usage workload, seeded and reproducible (`daybook generate`).
///
/// Customers send inference (tokens per model and region), GPU samples, sessions and storage
/// readings, with a daily cycle (busy afternoons UTC) and a weekly one (quiet weekends). A share
/// of records is backdated by up to five days (never before `start`), repeated (duplicate `transaction_id`) or invalid
/// (malformed JSON, negative or non-numeric values, bad timestamps), as real tails are.
public struct WorkloadGenerator: Sendable {
    public var seed: UInt64 = 1
    public var customers: [String] = ["acme", "globex", "initech"]
    public var start: Day
    public var days: Int = 30
    /// Mean events per customer per weekday.
    public var eventsPerDay: Int = 200
    /// Fractions of records (0–1000 per mille) that are backdated, duplicated and invalid.
    public var backdatedPerMille = 50
    public var duplicatePerMille = 20
    public var invalidPerMille = 10
    /// Prefix of transaction ids, so several generated files never collide.
    public var idPrefix = "g"

    public init(start: Day) { self.start = start }

    /// The NDJSON lines, in arrival order, all in memory (small workloads: tests, the demo).
    public func lines() -> [String] {
        var all: [String] = []
        forEachLine { all.append($0) }
        return all
    }

    /// The NDJSON lines grouped by the day they arrive (backdated ones arrive after their day), all
    /// in memory; days without records are there with no lines.
    public func arrivals() -> [(day: Day, lines: [String])] { Array(dailyArrivals()) }

    /// Calls `body` with each NDJSON line, in arrival order, as it is made: nothing is kept but the
    /// small state that duplicates are drawn from, so memory does not grow with the workload.
    public func forEachLine(_ body: (String) throws -> Void) rethrows {
        var state = State(self)
        while try state.nextDay(body) != nil {}
    }

    /// The arrivals one day at a time: only the current day's lines are held.
    public func dailyArrivals() -> DailyArrivals { DailyArrivals(generator: self) }

    /// A sequence of `(day, lines)`, made lazily day by day.
    public struct DailyArrivals: Sequence, Sendable {
        let generator: WorkloadGenerator

        public func makeIterator() -> Iterator { Iterator(state: State(generator)) }

        public struct Iterator: IteratorProtocol, Sendable {
            var state: State

            public mutating func next() -> (day: Day, lines: [String])? {
                var lines: [String] = []
                guard let day = state.nextDay({ lines.append($0) }) else { return nil }
                return (day, lines)
            }
        }
    }

    /// What carries over from one day to the next: the random stream, the record counter and the
    /// lines that duplicates are drawn from (the first 10,000 valid ones sent).
    struct State: Sendable {
        let generator: WorkloadGenerator
        var rng: SplitMix64
        var sent: [String] = []
        var n = 0
        var dayIndex = 0

        init(_ generator: WorkloadGenerator) {
            self.generator = generator
            rng = SplitMix64(seed: generator.seed)
        }

        /// Makes the next day's lines, handing each to `emit`; the day, or nil after the last one.
        mutating func nextDay(_ emit: (String) throws -> Void) rethrows -> Day? {
            let g = generator
            guard dayIndex < g.days else { return nil }
            let day = g.start.adding(days: dayIndex)
            dayIndex += 1
            let weekday = Int((day.number % 7 + 7 + 3) % 7)  // 0 = Monday (1970-01-01 was a Thursday)
            let weekly = weekday >= 5 ? 4 : 10  // weekends at 40%
            for (ci, customer) in g.customers.enumerated() {
                let size = (g.customers.count - ci) * 2  // first customers are bigger
                let count = g.eventsPerDay * weekly * size / (10 * g.customers.count)
                for _ in 0..<count {
                    n += 1
                    let roll = Int(rng.next() % 1000)
                    if roll < g.duplicatePerMille, !sent.isEmpty {
                        try emit(sent[Int(rng.next() % UInt64(sent.count))])
                        continue
                    }
                    if roll < g.duplicatePerMille + g.invalidPerMille {
                        try emit(g.invalidLine(&rng, n: n, customer: customer, day: day))
                        continue
                    }
                    var eventDay = day
                    if roll < g.duplicatePerMille + g.invalidPerMille + g.backdatedPerMille {
                        // Backdated by 1–5 days, but never before the workload's first day.
                        eventDay = max(g.start, day.adding(days: -Int(1 + rng.next() % 5)))
                    }
                    let line = g.eventLine(&rng, id: "\(g.idPrefix)\(g.seed)-\(n)", customer: customer, day: eventDay)
                    try emit(line)
                    if sent.count < 10_000 { sent.append(line) }
                }
            }
            return day
        }
    }

    private func time(_ rng: inout SplitMix64, _ day: Day) -> String {
        // Diurnal: most traffic between 08:00 and 20:00 UTC.
        let hour = rng.next() % 4 == 0 ? Int(rng.next() % 24) : 8 + Int(rng.next() % 12)
        let minute = Int(rng.next() % 60), second = Int(rng.next() % 60), ms = Int(rng.next() % 1000)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(day)T\(two(hour)):\(two(minute)):\(two(second)).\(millis)Z"
    }

    private func eventLine(_ rng: inout SplitMix64, id: String, customer: String, day: Day) -> String {
        let ts = time(&rng, day)
        let head = "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", "
        switch rng.next() % 10 {
        case 0..<6:
            let models = ["model-a", "model-b", "model-c"]
            let regions = ["us", "eu", "ap"]
            let tokens = 500 + rng.next() % 20_000
            return head
                + "\"event_type\": \"inference\", \"timestamp\": \"\(ts)\", \"properties\": {\"model\": \"\(models[Int(rng.next() % 3)])\", \"tokens\": \(tokens), \"region\": \"\(regions[Int(rng.next() % 3)])\"}}"
        case 6:
            return head
                + "\"event_type\": \"gpu_sample\", \"timestamp\": \"\(ts)\", \"properties\": {\"gpus\": \(1 + rng.next() % 12)}}"
        case 7, 8:
            return head
                + "\"event_type\": \"session\", \"timestamp\": \"\(ts)\", \"properties\": {\"user_id\": \"u\(rng.next() % 40)\"}}"
        default:
            let gb = rng.next() % 500_000
            return head
                + "\"event_type\": \"storage\", \"timestamp\": \"\(ts)\", \"properties\": {\"gb_hours\": \(gb / 1000).\(gb % 1000)}}"
        }
    }

    private func invalidLine(_ rng: inout SplitMix64, n: Int, customer: String, day: Day) -> String {
        let id = "\(idPrefix)\(seed)-\(n)"
        switch rng.next() % 5 {
        case 0: return "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"inference\""
        case 1:
            return
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"inference\", \"timestamp\": \"\(day) 10:00:00Z\", \"properties\": {}}"
        case 2:
            return
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"inference\", \"timestamp\": \"\(day)T10:00:00Z\", \"properties\": {\"model\": \"model-a\", \"tokens\": -5, \"region\": \"us\"}}"
        case 3:
            return
                "{\"transaction_id\": \"\(id)\", \"customer_id\": \"\(customer)\", \"event_type\": \"storage\", \"timestamp\": \"\(day)T10:00:00Z\", \"properties\": {\"gb_hours\": \"lots\"}}"
        default:
            return
                "{\"customer_id\": \"\(customer)\", \"event_type\": \"session\", \"timestamp\": \"\(day)T10:00:00Z\"}"
        }
    }
}

/// A small, fast, seeded pseudo-random generator (SplitMix64), identical on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
