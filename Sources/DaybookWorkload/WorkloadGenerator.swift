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

    /// The NDJSON lines, in arrival order.
    public func lines() -> [String] { arrivals().flatMap(\.lines) }

    /// The NDJSON lines grouped by the day they arrive (backdated ones arrive after their day).
    public func arrivals() -> [(day: Day, lines: [String])] {
        var rng = SplitMix64(seed: seed)
        var result: [(day: Day, lines: [String])] = []
        var sent: [String] = []
        var n = 0
        for d in 0..<days {
            let day = start.adding(days: d)
            var out: [String] = []
            defer { result.append((day, out)) }
            let weekday = Int((day.number % 7 + 7 + 3) % 7)  // 0 = Monday (1970-01-01 was a Thursday)
            let weekly = weekday >= 5 ? 4 : 10  // weekends at 40%
            for (ci, customer) in customers.enumerated() {
                let size = (customers.count - ci) * 2  // first customers are bigger
                let count = eventsPerDay * weekly * size / (10 * customers.count)
                for _ in 0..<count {
                    n += 1
                    let roll = Int(rng.next() % 1000)
                    if roll < duplicatePerMille, !sent.isEmpty {
                        out.append(sent[Int(rng.next() % UInt64(sent.count))])
                        continue
                    }
                    if roll < duplicatePerMille + invalidPerMille {
                        out.append(invalidLine(&rng, n: n, customer: customer, day: day))
                        continue
                    }
                    var eventDay = day
                    if roll < duplicatePerMille + invalidPerMille + backdatedPerMille {
                        // Backdated by 1–5 days, but never before the workload's first day.
                        eventDay = max(start, day.adding(days: -Int(1 + rng.next() % 5)))
                    }
                    let line = eventLine(&rng, id: "\(idPrefix)\(seed)-\(n)", customer: customer, day: eventDay)
                    out.append(line)
                    if sent.count < 10_000 { sent.append(line) }
                }
            }
        }
        return result
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
