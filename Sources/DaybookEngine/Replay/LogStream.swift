import DaybookCore
import DaybookStore
import Dispatch
import LMDB
import Synchronization

/// One logged event read back for a replay: its stored log record (copied verbatim into a
/// replayed store), the parsed event and its metric outcomes under the plan in force.
struct ReplayedEvent: Sendable {
    var seq: UInt64
    var record: [UInt8]
    var event: UsageEvent
    var outcomes: [MetricOutcome]
}

/// Streams a range of the log in sequence order, in chunks: each chunk is read on the calling
/// thread (the read transaction is bound to it), parsed and evaluated on every core while the
/// previous chunk is applied, then handed to `body` in order.
///
/// The log is already validated and deduplicated: replay only parses (no validation of raw
/// bytes beyond what parsing checks, no dedup lookups, no dead letters).
enum LogStream {
    /// Events per chunk: large enough to keep the cores busy, small enough to bound memory.
    static let chunkSize = 16_384

    static func forEachChunk(
        _ source: Store, _ txn: borrowing Transaction, seqs: ClosedRange<UInt64>, plan: PricingPlan,
        _ body: ([ReplayedEvent]) throws -> Void
    ) throws {
        var next = seqs.lowerBound
        var current = try prepare(read(source, txn, from: next, through: seqs.upperBound), plan: plan).get()
        next += UInt64(current.count)
        while !current.isEmpty {
            // Read the next chunk here, parse it on the other cores while `current` is applied.
            let raw = next <= seqs.upperBound ? try read(source, txn, from: next, through: seqs.upperBound) : []
            next += UInt64(raw.count)
            let ahead = Mutex<[ReplayedEvent]>([])
            let group = DispatchGroup()
            if !raw.isEmpty {
                DispatchQueue.global().async(group: group) {
                    let parsed = (try? prepare(raw, plan: plan).get()) ?? []
                    ahead.withLock { $0 = parsed }
                }
            }
            try body(current)
            group.wait()
            let parsed = ahead.withLock { $0 }
            // A chunk that failed to parse in the background is parsed again here, for its error.
            current = raw.isEmpty ? [] : parsed.count == raw.count ? parsed : try prepare(raw, plan: plan).get()
        }
    }

    /// Up to ``chunkSize`` log records from `seq` on (not past `last`), checking they are dense.
    private static func read(_ source: Store, _ txn: borrowing Transaction, from seq: UInt64, through last: UInt64)
        throws -> [(UInt64, [UInt8])]
    {
        var out: [(UInt64, [UInt8])] = []
        out.reserveCapacity(min(chunkSize, Int(clamping: last - seq + 1)))
        var expected = seq
        try txn.scan(in: source.log, from: Keys.seq(seq)) { key, value in
            let s = try Keys.seq(from: key, in: "log key")
            guard s == expected else {
                throw StoreCorruption("log entry \(expected) is missing (the next one is \(s))")
            }
            out.append((s, value))
            expected += 1
            return out.count < chunkSize && s < last
        }
        guard !out.isEmpty else { throw StoreCorruption("log entry \(seq) is missing (the log ends before it)") }
        return out
    }

    private static func prepare(_ raw: [(UInt64, [UInt8])], plan: PricingPlan) -> Result<[ReplayedEvent], any Error>
    {
        let parsed = parallelMap(raw) { (seq, record) -> Result<ReplayedEvent, StoreCorruption> in
            do throws(StoreCorruption) {
                let event = try LoggedEvent.event(seq: seq, decoding: record)
                return .success(ReplayedEvent(seq: seq, record: record, event: event, outcomes: plan.outcomes(for: event)))
            } catch {
                return .failure(error)
            }
        }
        var out: [ReplayedEvent] = []
        out.reserveCapacity(parsed.count)
        for r in parsed {
            switch r {
            case .success(let e): out.append(e)
            case .failure(let e): return .failure(e)
            }
        }
        return .success(out)
    }
}
