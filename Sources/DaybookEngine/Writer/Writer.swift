import DaybookCore
import DaybookStore
import Dispatch
import Foundation
import Synchronization

/// The store's one writer, as a service: a dedicated thread that owns the ``Engine`` and takes
/// batches from any number of producers (file tails, NATS, HTTP handlers, `daybook ingest`).
///
/// A producer submits a batch with its source and checkpoint and gets its summary back only
/// after the durable commit that holds the batch's events *and* its checkpoint. Parsing,
/// validation and metric evaluation run on other cores as soon as a batch is submitted, slice by
/// slice, and the writer thread starts on a batch's first prepared slice; it does only the serial
/// part. Batches that are ready together share one LMDB transaction (group commit), and a batch
/// whose first slice is ready when the writer reaches the end of the group joins it (within the
/// group bounds), each applied in order with its own finalization check, checkpoint and summary;
/// if such a shared transaction fails, its batches are retried one by one, so one failing batch
/// never fails the others.
///
/// ```swift
/// let writer = try Writer(path: "./daybook-data")
/// let summary = try await writer.submit(IngestBatch(records: records, source: "http", now: now))
/// writer.close()
/// ```
public final class Writer: Sendable {
    private let core: WriterCore

    /// Opens the store at `path` on a new writer thread. Throws what opening the store throws.
    ///
    /// - Parameters:
    ///   - maxGroupRecords: records per shared transaction at most (a group never splits a batch).
    ///   - maxGroupBytes: raw record bytes per shared transaction at most (32 MiB by default): batches
    ///     of large records are not grouped into one huge transaction. A batch larger than this
    ///     still commits, alone.
    public init(
        path: String, durable: Bool = true, maxGroupRecords: Int = 100_000,
        maxGroupBytes: Int = IngestPipeline.defaultMaxBatchBytes
    ) throws {
        let opened = Completion<PricingPlan>()
        let core = WriterCore(maxGroupRecords: max(1, maxGroupRecords), maxGroupBytes: max(1, maxGroupBytes))
        // The engine is created on the writer thread and never leaves it.
        let thread = Thread { [core] in
            let engine: Engine
            do {
                engine = try Engine(path: path, durable: durable)
            } catch {
                opened.fulfil(.failure(error))
                return
            }
            opened.fulfil(.success(engine.plan))
            core.loop(engine)
        }
        thread.name = "daybook-writer"
        thread.start()
        let first = try opened.wait()
        core.preparePlan.withLock { $0 = first }
        self.core = core
    }

    deinit { core.close() }

    /// Submits a batch; `completion` is called on the writer thread after the batch's durable
    /// commit (with its summary) or its failure. Batches commit in submission order.
    public func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<IngestSummary, any Error>) -> Void)
    {
        core.submit(batch, completion: completion)
    }

    /// Submits a batch and returns its summary after its durable commit.
    public func submit(_ batch: IngestBatch) async throws -> IngestSummary {
        try await withCheckedThrowingContinuation { continuation in
            core.submit(batch) { continuation.resume(with: $0) }
        }
    }

    /// Submits a batch and blocks the calling thread until its durable commit (for synchronous
    /// callers such as the CLI; never call it from a completion handler, which runs on the writer).
    public func submitAndWait(_ batch: IngestBatch) throws -> IngestSummary {
        let done = Completion<IngestSummary>()
        core.submit(batch) { done.fulfil($0) }
        return try done.wait()
    }

    /// Runs `body` with the engine on the writer thread, between batches (catalog apply,
    /// finalize, reads that must see the writer's own state), and returns its result.
    public func perform<R: Sendable>(_ body: @escaping @Sendable (Engine) throws -> R) throws -> R {
        try core.perform(body)
    }

    /// Stops taking batches, lets every submitted one commit, then ends the writer thread.
    /// Idempotent; also done when the last reference goes away.
    public func close() { core.close() }

    /// Adds `observer`, called on the writer thread after every committed ingest transaction
    /// (metrics, lag). It must return quickly and never call back into the writer.
    public func observe(_ observer: @escaping @Sendable (CommitReport) -> Void) {
        core.observers.withLock { $0.append(observer) }
    }

    /// How many transactions and batches the writer committed (group commit shows as fewer
    /// transactions than batches).
    public var statistics: WriterCounters { core.counters.withLock { $0 } }

    /// Batches queued and already prepared, not yet taken by the writer thread (for tests).
    package var queuedAndPrepared: Int { core.queuedAndPrepared }
}

/// The writer's queue and thread loop (shared by the thread and the ``Writer`` handle, so the
/// handle's deinit can stop the thread).
private final class WriterCore: Sendable {
    let maxGroupRecords: Int
    let maxGroupBytes: Int
    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    /// The plan batches are prepared with; refreshed by the writer thread after each transaction.
    let preparePlan = Mutex<PricingPlan?>(nil)
    let counters = Mutex(WriterCounters())
    let observers = Mutex<[@Sendable (CommitReport) -> Void]>([])

    init(maxGroupRecords: Int, maxGroupBytes: Int) {
        self.maxGroupRecords = maxGroupRecords
        self.maxGroupBytes = maxGroupBytes
    }

    private struct Queue {
        var nextTicket: UInt64 = 0
        var items: [Item] = []
        var closed = false
        var finished = false
    }

    private struct Item: Sendable {
        let ticket: UInt64
        let work: Work
        /// The batch's raw record bytes (0 for an operation).
        let bytes: Int
        init(ticket: UInt64, work: Work) {
            self.ticket = ticket
            self.work = work
            if case .batch(let prepared, _) = work { bytes = prepared.batch.bytes } else { bytes = 0 }
        }
    }

    private enum Work: Sendable {
        /// A batch, being prepared on other cores from the moment it was submitted.
        case batch(PreparedBatch, @Sendable (Result<IngestSummary, any Error>) -> Void)
        case operation(@Sendable (Engine) -> Void)
    }

    // MARK: Producers

    /// Submits a batch; `completion` is called on the writer thread after the batch's durable
    /// commit (with its summary) or its failure. Batches of one producer commit in submission order.
    func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<IngestSummary, any Error>) -> Void) {
        let plan = preparePlan.withLock { $0 }!
        let accepted = queue.withLock { q -> Bool in
            guard !q.closed else { return false }
            q.nextTicket += 1
            // The pure part runs on other cores while the writer thread writes earlier batches;
            // each prepared slice wakes the writer, which starts on the batch's first one.
            let prepared = PreparedBatch(batch, plan: plan) { [wake] in wake.signal() }
            q.items.append(Item(ticket: q.nextTicket, work: .batch(prepared, completion)))
            return true
        }
        if !accepted { completion(.failure(WriterError.closed)) }
    }

    func perform<R: Sendable>(_ body: @escaping @Sendable (Engine) throws -> R) throws -> R {
        let done = Completion<R>()
        let accepted = queue.withLock { q -> Bool in
            guard !q.closed else { return false }
            q.nextTicket += 1
            q.items.append(
                Item(ticket: q.nextTicket, work: .operation({ engine in done.fulfil(Result { try body(engine) }) })))
            return true
        }
        guard accepted else { throw WriterError.closed }
        wake.signal()
        return try done.wait()
    }

    var queuedAndPrepared: Int {
        queue.withLock { q in
            q.items.filter { if case .batch(let prepared, _) = $0.work { prepared.isPrepared } else { false } }.count
        }
    }

    func close() {
        let first = queue.withLock { q -> Bool in
            defer { q.closed = true }
            return !q.closed && !q.finished
        }
        guard first else { return }
        wake.signal()
        stopped.wait()
    }

    // MARK: The writer thread

    func loop(_ engine: Engine) {
        while true {
            wake.wait()
            while let group = takeReady() {
                switch group {
                case .operation(let body):
                    body(engine)
                case .batch(let prepared, let completion):
                    commit([(prepared, completion)], engine)
                }
                preparePlan.withLock { $0 = engine.plan }
            }
            let finished = queue.withLock { q -> Bool in
                q.finished = q.closed && q.items.isEmpty
                return q.finished
            }
            if finished {
                stopped.signal()
                return
            }
        }
    }

    private enum Ready {
        case operation(@Sendable (Engine) -> Void)
        case batch(PreparedBatch, @Sendable (Result<IngestSummary, any Error>) -> Void)
    }

    /// The operation at the head of the queue, or the batch there once its first slice is
    /// prepared; nil when the head's first slice is still being prepared. (The batches after it
    /// join its transaction as it is written: ``takeStarted(records:bytes:)``.)
    private func takeReady() -> Ready? {
        queue.withLock { q -> Ready? in
            guard let head = q.items.first else { return nil }
            switch head.work {
            case .operation(let body):
                q.items.removeFirst()
                return .operation(body)
            case .batch(let prepared, let completion):
                guard prepared.isStarted else { return nil }
                q.items.removeFirst()
                return .batch(prepared, completion)
            }
        }
    }

    /// The batch at the head of the queue if the writer can start on it and it fits the group
    /// (`records` and `bytes` so far, updated); nil otherwise.
    private func takeStarted(
        records: inout Int, bytes: inout Int
    ) -> (PreparedBatch, @Sendable (Result<IngestSummary, any Error>) -> Void)? {
        queue.withLock { q in
            guard let head = q.items.first, case .batch(let prepared, let completion) = head.work,
                prepared.isStarted, records + prepared.batch.records.count <= maxGroupRecords,
                bytes + head.bytes <= maxGroupBytes
            else { return nil }
            q.items.removeFirst()
            records += prepared.batch.records.count
            bytes += head.bytes
            return (prepared, completion)
        }
    }

    /// Commits `items` in one transaction. When `extending`, the transaction takes along each batch
    /// whose first slice is ready at the head of the queue by the time the last one is written
    /// (group commit, within the group bounds): batches ready together share one commit.
    private func commit(
        _ items: [(PreparedBatch, @Sendable (Result<IngestSummary, any Error>) -> Void)], _ engine: Engine,
        extending: Bool = true
    ) {
        var items = items
        do {
            let start = ContinuousClock.now
            var records = items.reduce(0) { $0 + $1.0.batch.records.count }
            var bytes = items.reduce(0) { $0 + $1.0.batch.bytes }
            // Input that keeps coming joins the transaction: one commit for what is ready by its end.
            let summaries = try engine.write(items.map(\.0)) {
                guard extending, let next = takeStarted(records: &records, bytes: &bytes) else { return nil }
                items.append(next)
                return next.0
            }
            let duration = ContinuousClock.now - start
            counters.withLock {
                $0.transactions += 1
                $0.batches += UInt64(items.count)
            }
            let observers = self.observers.withLock { $0 }
            if !observers.isEmpty {
                let report = CommitReport(
                    duration: duration,
                    batches: zip(items, summaries).map { BatchReport(source: $0.0.0.batch.source, summary: $0.1) },
                    lastSeq: engine.lastWritten.lastSeq, counters: engine.lastWritten.counters)
                for observer in observers { observer(report) }
            }
            for (item, summary) in zip(items, summaries) { item.1(.success(summary)) }
            // Freeing a batch's records (tens of thousands of arrays) is not the writer's work:
            // the last reference goes to another thread.
            let done = items
            DispatchQueue.global(qos: .utility).async { withExtendedLifetime(done) {} }
        } catch {
            guard items.count > 1 else {
                items[0].1(.failure(error))
                return
            }
            // Nothing of the shared transaction committed: give each batch its own (taking no
            // later batch along, which would commit it before the rest of these).
            for item in items { commit([item], engine, extending: false) }
        }
    }
}

/// One committed ingest transaction, as ``Writer/observe(_:)`` reports it.
public struct CommitReport: Sendable {
    /// The write transaction, its durable sync included.
    public var duration: Duration
    /// The batches it held, in commit order.
    public var batches: [BatchReport]
    /// The log's last seq after the commit.
    public var lastSeq: UInt64
    /// The store's cumulative counters after the commit (the same as `daybook stats`).
    public var counters: EngineCounters
}

/// One batch of a ``CommitReport``.
public struct BatchReport: Sendable {
    public var source: String
    public var summary: IngestSummary
}

/// Transactions and batches a ``Writer`` committed.
public struct WriterCounters: Sendable, Hashable {
    public var transactions: UInt64 = 0
    public var batches: UInt64 = 0
}

/// Why a ``Writer`` refused work.
public enum WriterError: Error, Sendable, CustomStringConvertible {
    /// The writer was closed; nothing of the batch was stored.
    case closed

    public var description: String {
        switch self {
        case .closed: "the writer is closed: nothing of this batch was stored; open a new Writer"
        }
    }
}

/// A one-shot result handed from one thread to others: fulfilled once, waited for any number of times.
final class Completion<R: Sendable>: Sendable {
    private let result = Mutex<Result<R, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func fulfil(_ value: Result<R, any Error>) {
        result.withLock { $0 = value }
        done.signal()
    }

    var isFulfilled: Bool { result.withLock { $0 != nil } }

    func wait() throws -> R {
        if let r = result.withLock({ $0 }) { return try r.get() }
        done.wait()
        done.signal()  // for the next waiter
        return try result.withLock { $0 }!.get()
    }
}
