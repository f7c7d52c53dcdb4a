import DaybookCore
import DaybookEngine
import Dispatch
import Foundation
import Metrics
import Synchronization

/// Collects a line source's records into batches and submits them to the ``Writer`` with up to
/// `inFlight` ahead of their commit; each batch carries the position reached as its checkpoint.
/// A failed commit is kept and rethrown by ``check()``; nothing is submitted after it.
final class BatchSubmitter {
    private let writer: Writer
    private let source: String
    private let inFlightLimit: Int
    private let clock: @Sendable () -> Timestamp
    private let checkpoints: Bool
    private var pending: [IngestRecord] = []
    private(set) var pendingBytes = 0
    private var firstPending: ContinuousClock.Instant?
    private var place: SourcePosition.Place?
    /// A position reached with no records (blank lines only) still moves the checkpoint.
    private var placeMoved = false
    private var flight: [DispatchSemaphore] = []
    /// Written by the writer thread's completions.
    private final class Outcome: Sendable {
        let failure = Mutex<(any Error)?>(nil)
        let summary = Mutex(IngestSummary())
    }
    private let outcome = Outcome()
    /// The source's lag, stored with the next checkpoint and shown as `daybook_source_lag`.
    var lag: UInt64?
    private let lagGauge: Gauge

    /// The checkpoint the last submitted batch writes (at first: the one stored when the source started).
    private var previousCheckpoint: [UInt8]?

    init(
        writer: Writer, source: String, inFlight: Int, clock: @escaping @Sendable () -> Timestamp,
        checkpoints: Bool = true, stored: SourcePosition? = nil
    ) {
        self.previousCheckpoint = stored.map { $0.checkpoint(source: source).value }
        self.writer = writer
        self.source = source
        self.inFlightLimit = max(1, inFlight)
        self.clock = clock
        self.checkpoints = checkpoints
        self.lagGauge = SourceMetrics.lag(source)
    }

    var pendingCount: Int { pending.count }

    /// What the committed batches held so far.
    var committed: IngestSummary { outcome.summary.withLock { $0 } }

    func add(_ records: [IngestRecord], position: SourcePosition.Place?) {
        if firstPending == nil && (!records.isEmpty || position != place) { firstPending = .now }
        if position != place { placeMoved = true }
        pending += records
        pendingBytes += records.reduce(0) { $0 + $1.bytes.count }
        place = position
    }

    /// Submits what is pending when its first record has waited `window` (or now, with `force`).
    func flushIfDue(window: Duration, force: Bool = false) {
        guard let first = firstPending else { return }
        if force || ContinuousClock.now - first >= window { flush() }
    }

    /// Submits the pending records (and the position they reach) as one batch.
    func flush() {
        guard !pending.isEmpty || placeMoved else { return }
        guard outcome.failure.withLock({ $0 }) == nil else { return }
        let (outcome, lagGauge, lag) = (self.outcome, self.lagGauge, self.lag)
        let checkpoint = checkpoints ? place.map { SourcePosition(place: $0, lag: lag).checkpoint(source: source) } : nil
        var batch = IngestBatch(records: pending, source: source, now: clock(), checkpoint: checkpoint)
        if let checkpoint {
            // With batches in flight, one that failed must stop the ones after it: each requires
            // the checkpoint of the batch before it, so no checkpoint ever passes unstored lines.
            let expected = previousCheckpoint
            let source = self.source
            batch.checkpointPrecondition = { stored in
                guard stored == expected else { throw CheckpointMoved(source: source) }
            }
            previousCheckpoint = checkpoint.value
        }
        pending = []
        pendingBytes = 0
        firstPending = nil
        placeMoved = false
        let done = DispatchSemaphore(value: 0)
        writer.submit(batch) { result in
            switch result {
            case .success(let s):
                outcome.summary.withLock { $0 += s }
                if let lag { lagGauge.record(Int64(clamping: lag)) }
            case .failure(let error): outcome.failure.withLock { if $0 == nil { $0 = error } }
            }
            done.signal()
        }
        flight.append(done)
        while flight.count >= inFlightLimit { flight.removeFirst().wait() }
    }

    /// Waits for every submitted batch.
    func finish() {
        while !flight.isEmpty { flight.removeFirst().wait() }
    }

    /// Rethrows the first failed commit.
    func check() throws {
        if let error = outcome.failure.withLock({ $0 }) { throw error }
    }
}

/// A batch refused because the stored checkpoint is not the one the batch before it wrote: an
/// earlier batch failed, or another process is following the same source into this store.
struct CheckpointMoved: Error, CustomStringConvertible {
    var source: String
    var description: String {
        "\(source): the stored checkpoint is not the one this tail's previous batch wrote (an earlier batch failed, or another process follows the same source into this store); nothing of this batch was stored; restart the tail"
    }
}
