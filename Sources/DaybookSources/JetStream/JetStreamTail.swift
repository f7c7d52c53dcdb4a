import DaybookCore
import DaybookEngine
import Dispatch
import Foundation
import Logging
import Metrics
import NATS
import Synchronization

/// `daybook tail --nats`: a durable JetStream pull consumer feeding the writer, exactly once.
///
/// Each fetched batch is submitted as one ``IngestBatch`` whose checkpoint is the stream sequence
/// of its last message (committed in the same LMDB transaction as its events); its messages are
/// acknowledged only after that commit. On restart, and for every redelivery, a message at or
/// below the committed stream sequence is acknowledged and skipped: it is neither ingested again
/// nor counted as a duplicate (``Statistics/skipped`` counts it).
///
/// The stream, not the consumer's delivery state, decides what is read: messages the consumer
/// delivered but the store never committed (the tail was killed, a fetch response was lost on a
/// dropped connection) are read again from the stream by sequence before anything newer is
/// committed, so the checkpoint never passes a message that was not stored. See
/// `docs/operations.md`, "NATS JetStream".
///
/// Up to ``Configuration/maxInFlight`` batches are in flight: the next batch is fetched and
/// submitted while earlier ones commit. Batches commit in submission order, each requires the
/// checkpoint the batch before it writes (``IngestBatch/checkpointPrecondition``), so after a
/// failed commit no later batch of this source commits; the failure ends ``run(into:)`` with
/// nothing of the failed batches acknowledged.
///
/// Test hook: with `DAYBOOK_FAULT=after-commit-before-ack` in the environment the process ends
/// (`_exit(137)`) right after the first commit of a batch with messages to acknowledge, before any
/// of them is acknowledged: the crash between commit and ack, made deterministic.
public final class JetStreamTail: Source {
    /// The consumer and batching options.
    public struct Configuration: Sendable, Hashable {
        /// The server URL(s): `nats://host:4222`, several separated by commas.
        public var url: String
        public var stream: String
        /// The durable consumer's name; created on `stream` when it does not exist.
        public var consumer: String
        /// The filter subject of the consumer daybook creates (nil: the whole stream); an existing
        /// consumer must have the same filter.
        public var subject: String?
        /// Messages per fetch, and so at most per batch (1 to 100,000).
        public var batchSize: Int
        /// How long a fetch waits for its first message.
        public var fetchTimeout: Duration
        /// Batches submitted and not yet committed at most (1 to 64).
        public var maxInFlight: Int
        /// The ack wait of the consumer daybook creates: a message delivered and not acked for
        /// this long is delivered again.
        public var ackWait: Duration
        /// The pause between reconnect attempts, and between retries of a failed request.
        public var reconnectWait: Duration

        public init(
            url: String, stream: String, consumer: String, subject: String? = nil, batchSize: Int = 1000,
            fetchTimeout: Duration = .milliseconds(500), maxInFlight: Int = 2, ackWait: Duration = .seconds(30),
            reconnectWait: Duration = .milliseconds(250)
        ) {
            self.url = url
            self.stream = stream
            self.consumer = consumer
            self.subject = subject
            self.batchSize = batchSize
            self.fetchTimeout = fetchTimeout
            self.maxInFlight = maxInFlight
            self.ackWait = ackWait
            self.reconnectWait = reconnectWait
        }

        /// The max ack pending of the consumer daybook creates: twice what can be delivered and
        /// unacked at once (the batches in flight and the one being fetched), so redeliveries
        /// waiting to be skipped never stall delivery.
        public var maxAckPending: Int { 2 * batchSize * (maxInFlight + 1) }
    }

    /// What a run did so far.
    public struct Statistics: Sendable, Hashable {
        /// Messages ingested (each a record: accepted, duplicate or dead-lettered).
        public var records = 0
        /// Of those, read again from the stream by sequence (delivered before, never committed).
        public var reread = 0
        /// Deliveries at or below the committed checkpoint, acked and skipped.
        public var skipped = 0
        /// Batches committed.
        public var batches = 0
        /// The committed checkpoint (stream sequence), 0 before the first.
        public var checkpoint: UInt64 = 0
        /// The consumer's pending messages at the last commit or idle fetch.
        public var lag: UInt64 = 0
        /// How the records ended.
        public var summary = IngestSummary()
        /// Acks cnats refused (the message is delivered again and skipped then).
        public var failedAcks = 0
        /// Times the connection was lost and re-established.
        public var reconnects = 0
    }

    /// `nats:STREAM/CONSUMER`: the source of every event and dead letter, and the checkpoint's key.
    public let name: String
    /// The options the tail runs with (batch size and max in flight clamped to their ranges).
    public let configuration: Configuration
    private let clock: @Sendable () -> Timestamp
    private let logger: Logger
    private let crashAfterCommit: Bool
    private let lagGauge: Gauge
    private let fence: (@Sendable () throws -> Void)?

    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let pipeline = Mutex(Pipeline())
    private let ackQueue = DispatchQueue(label: "daybook.nats.ack")

    private struct Pipeline {
        var inFlight: [InFlight] = []
        var committed: UInt64 = 0
        var failure: (any Error)?
        var statistics = Statistics()
    }

    private struct InFlight {
        var id: Int
        var through: UInt64
        var lag: UInt64
        var records: Int
        var reread: Int
        var acks: [JetStreamMessage]
    }

    /// - Parameters:
    ///   - clock: the engine clock, read once per batch (wall clock, or `--now`).
    ///   - fence: called in each batch's write transaction before the batch is applied: throwing refuses the
    ///     batch (nothing of it stored or acknowledged) and ends the run with that error. A cluster
    ///     partition's writer passes its lease check here (docs/scale-out.md §3), so a writer whose
    ///     lease has run out stops at its next commit.
    public init(
        _ configuration: Configuration, clock: @escaping @Sendable () -> Timestamp,
        logger: Logger = Logger(label: "daybook.nats"), fence: (@Sendable () throws -> Void)? = nil
    ) {
        self.fence = fence
        var configuration = configuration
        configuration.batchSize = min(max(configuration.batchSize, 1), 100_000)
        configuration.maxInFlight = min(max(configuration.maxInFlight, 1), 64)
        self.configuration = configuration
        self.slotsFree = Mutex(configuration.maxInFlight)
        self.name = "nats:\(configuration.stream)/\(configuration.consumer)"
        self.clock = clock
        self.logger = logger
        self.crashAfterCommit = ProcessInfo.processInfo.environment["DAYBOOK_FAULT"] == "after-commit-before-ack"
        self.lagGauge = SourceMetrics.lag(name)
    }

    /// What the run did so far (safe from any thread).
    public var statistics: Statistics { pipeline.withLock { $0.statistics } }

    /// Asks ``run(into:)`` to return after the batch in flight (a fetch in progress returns within
    /// the fetch timeout); callable from any thread, idempotent.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
    }

    private var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }
    private var failed: Bool { pipeline.withLock { $0.failure != nil } }

    // MARK: Run

    /// Runs until ``stop()`` (returns once the batches in flight committed and were acknowledged) or
    /// a fatal error: a failed commit (nothing of it acknowledged), a stream or consumer that cannot
    /// be used (``JetStreamError``), a checkpoint another process moved (``JetStreamTailError``).
    /// Connection losses are not errors: the client reconnects and the tail goes on.
    public func run(into writer: Writer) throws {
        let name = self.name
        let config = configuration
        let stored = try writer.perform { try $0.sourcePosition(source: name) }
        var committed: UInt64 = 0
        if let stored {
            guard case .stream(let sequence) = stored.place else {
                throw JetStreamTailError.notAStreamCheckpoint(source: name, found: stored.description)
            }
            committed = sequence
        }
        pipeline.withLock {
            $0.committed = committed
            $0.statistics.checkpoint = committed
        }

        let connection = try NATSConnection(
            url: config.url, name: "daybook \(name)", retryFirstConnect: true, reconnectWait: config.reconnectWait)
        defer { connection.close() }
        let js = try connection.jetStream()
        if !connection.isConnected { logger.warning("\(name): waiting for the NATS server at \(config.url)") }

        guard let (consumer, subscription) = try retrying({ try self.open(js, committed: committed) }) else { return }
        lagGauge.record(consumer.pending)
        pipeline.withLock { $0.statistics.lag = consumer.pending }

        var reader = Reader(
            tail: self, js: js, filter: consumer.filterSubject, submitted: committed, lastSubmitted: committed,
            expectedDelivery: consumer.deliveredConsumerSequence + 1)
        do {
            // Delivered before and never committed (a crash, or a stop with deliveries lost on the way):
            // read again from the stream before anything newer can be committed past them.
            if consumer.deliveredStreamSequence > committed {
                guard
                    try reader.reread(
                        through: consumer.deliveredStreamSequence,
                        why:
                            "stream seq \(committed + 1) to \(consumer.deliveredStreamSequence) were delivered and not committed",
                        into: writer)
                else {
                    return try finish(connection)
                }
            }
            while !isStopping && !failed {
                guard let messages = try fetch(subscription) else { continue }
                if messages.isEmpty {
                    idle(subscription)
                    continue
                }
                guard try reader.take(messages, into: writer) else { break }
            }
        } catch {
            // Fatal: what is in flight still commits (or fails) and is acked before the error is thrown.
            try? finish(connection)
            throw error
        }
        try finish(connection)
    }

    /// One fetch; nil after a transient error (logged, paused for the reconnect wait).
    private func fetch(_ subscription: PullSubscription) throws -> [JetStreamMessage]? {
        let result = Result { () throws(JetStreamError) in
            try subscription.fetch(configuration.batchSize, timeout: configuration.fetchTimeout)
        }
        switch result {
        case .success(let messages): return messages
        case .failure(let error):
            guard error.isTransient else { throw error }
            noteTransient(error)
            pause()
            return nil
        }
    }

    /// Waits for the batches in flight, sends their acks, flushes; throws the first commit failure.
    private func finish(_ connection: NATSConnection) throws {
        let slots = configuration.maxInFlight
        waitForSlots(all: slots)
        ackQueue.sync {}
        // Acks wait in cnats's buffer while disconnected; a lost ack only means a skipped redelivery.
        if connection.isConnected { try? connection.flush(timeout: .seconds(5)) }
        pipeline.withLock { $0.statistics.reconnects = connection.reconnects }
        if let failure = pipeline.withLock({ $0.failure }) { throw failure }
    }

    // MARK: Consumer

    private func open(_ js: JetStream, committed: UInt64) throws -> (ConsumerState, PullSubscription) {
        let config = configuration
        var state = try js.consumerState(stream: config.stream, consumer: config.consumer)
        if state == nil {
            do {
                state = try js.addPullConsumer(
                    stream: config.stream, durable: config.consumer, filter: config.subject,
                    maxAckPending: config.maxAckPending, ackWait: config.ackWait, startSequence: committed + 1)
                logger.info(
                    "\(name): created durable pull consumer \(config.consumer) on stream \(config.stream), delivering from stream seq \(committed + 1)"
                )
            } catch {
                // Created meanwhile by another client: use it.
                guard error.kind == .other,
                    let existing = try js.consumerState(stream: config.stream, consumer: config.consumer)
                else {
                    throw error
                }
                state = existing
            }
        }
        let consumer = state!
        try validate(consumer)
        let subscription = try js.pullSubscription(stream: config.stream, durable: config.consumer)
        return (consumer, subscription)
    }

    private func validate(_ consumer: ConsumerState) throws {
        let config = configuration
        let label = "consumer \(config.stream)/\(config.consumer)"
        func unusable(_ why: String) -> JetStreamError {
            JetStreamError(
                kind: .unusableConsumer, operation: "opening \(label)", statusText: why,
                hint:
                    "delete it (`nats consumer rm \(config.stream) \(config.consumer)`) and let daybook create it, or give another --consumer"
            )
        }
        guard consumer.ackPolicy == .explicit else {
            throw unusable("its ack policy is \(consumer.ackPolicy), daybook needs explicit acks")
        }
        guard !consumer.isPush else { throw unusable("it is a push consumer, daybook needs a pull consumer") }
        if let subject = config.subject, consumer.filterSubject != subject {
            throw unusable("its filter subject is \(consumer.filterSubject ?? "none"), not --subject \(subject)")
        }
        let needed = config.batchSize * (config.maxInFlight + 1)
        if consumer.maxAckPending > 0 && consumer.maxAckPending < needed {
            logger.warning(
                "\(name): \(label) has max ack pending \(consumer.maxAckPending), below \(needed) (batch size × (max in flight + 1)): delivery will pause while batches commit"
            )
        }
    }

    // MARK: Batches

    /// Takes fetched messages apart into new records, redeliveries and gaps; one reader per run.
    private struct Reader {
        let tail: JetStreamTail
        let js: JetStream
        /// The consumer's filter subject (what a reread must match).
        let filter: String?
        /// Every stream sequence at or below is committed, in flight, or in the batch being built.
        var submitted: UInt64
        /// The checkpoint of the last batch submitted (the precondition of the next).
        var lastSubmitted: UInt64
        /// The consumer sequence the next delivery should have; a larger one means deliveries were lost.
        var expectedDelivery: UInt64
        /// Deliveries were lost since the last new message: the next new one may have been preceded by
        /// messages never seen.
        var gapSuspected = false

        /// Reads `(submitted, through]` again from the stream and submits it, a batch at a time.
        /// False when the run must end instead (stopped, or a commit failed).
        mutating func reread(through: UInt64, why: String, into writer: Writer) throws -> Bool {
            let first = submitted + 1
            var read = 0
            var range: RangeReader?
            while submitted < through {
                let after = submitted
                guard
                    let chunk = try tail.retrying({ () throws -> [JetStreamMessage] in
                        if range == nil {
                            range = try RangeReader(
                                js, stream: tail.configuration.stream, filter: filter, after: after, through: through,
                                fetchTimeout: tail.configuration.fetchTimeout)
                        }
                        do {
                            return try range!.next(tail.configuration.batchSize)
                        } catch {
                            range = nil  // a new reader from where this one stopped
                            throw error
                        }
                    })
                else { return false }
                guard let last = chunk.last else {
                    // Nothing else matching the filter up to `through`: the next batch's checkpoint covers it.
                    submitted = through
                    break
                }
                read += chunk.count
                guard
                    try submit(
                        chunk.map(Self.record), acks: [], reread: chunk.count, through: last.streamSequence,
                        lag: last.pending, into: writer)
                else { return false }
            }
            range?.close()
            if read > 0 || why.hasPrefix("stream") {
                tail.logger.notice(
                    "\(tail.name): \(why): read \(read) messages of stream seq \(first) to \(through) again from the stream"
                )
            }
            return true
        }

        /// Handles one fetch. False when the run must end (stopped, or a commit failed).
        mutating func take(_ messages: [JetStreamMessage], into writer: Writer) throws -> Bool {
            var records: [IngestRecord] = []
            var acks: [JetStreamMessage] = []
            var lag: UInt64 = 0
            for message in messages {
                let seq = message.streamSequence
                if message.consumerSequence > expectedDelivery { gapSuspected = true }
                expectedDelivery = message.consumerSequence + 1
                if seq <= submitted {
                    if seq > lastSubmitted {
                        acks.append(message)  // a repeat of a message of this very batch
                        tail.pipeline.withLock { $0.statistics.skipped += 1 }
                    } else {
                        tail.redelivered(message)
                    }
                    continue
                }
                if gapSuspected && seq > submitted + 1 {
                    // First deliveries come in stream order: lost ones lie between the last new
                    // message and this one. What was taken so far goes first, then the gap.
                    if !records.isEmpty {
                        guard try submit(records, acks: acks, reread: 0, through: submitted, lag: lag, into: writer)
                        else { return false }
                        records = []
                        acks = []
                    }
                    guard try reread(through: seq - 1, why: "deliveries were lost on the way", into: writer) else {
                        return false
                    }
                }
                gapSuspected = false
                records.append(Self.record(message))
                acks.append(message)
                submitted = seq
                lag = message.pending
            }
            guard !records.isEmpty else { return true }
            return try submit(records, acks: acks, reread: 0, through: submitted, lag: lag, into: writer)
        }

        static func record(_ message: JetStreamMessage) -> IngestRecord {
            IngestRecord(bytes: message.data, position: "stream seq \(message.streamSequence)")
        }

        /// Submits one batch once a slot is free. False when the run must end instead.
        mutating func submit(
            _ records: [IngestRecord], acks: [JetStreamMessage], reread: Int, through: UInt64, lag: UInt64,
            into writer: Writer
        ) throws -> Bool {
            guard tail.acquireSlot() else { return false }
            submitted = max(submitted, through)
            let previous = lastSubmitted
            lastSubmitted = through
            try tail.submit(records, acks: acks, reread: reread, through: through, lag: lag, after: previous, writer)
            return true
        }
    }

    private let nextID = Atomic<Int>(0)

    private func submit(
        _ records: [IngestRecord], acks: [JetStreamMessage], reread: Int, through: UInt64, lag: UInt64,
        after previous: UInt64, _ writer: Writer
    ) throws {
        let name = self.name
        var batch = IngestBatch(
            records: records, source: name, now: clock(),
            checkpoint: SourcePosition(place: .stream(sequence: through), lag: lag).checkpoint(source: name))
        let fence = self.fence
        batch.checkpointPrecondition = { stored in
            try fence?()
            let found =
                try stored.map { bytes -> UInt64 in
                    guard case .stream(let sequence) = try SourcePosition(decoding: bytes).place else { return 0 }
                    return sequence
                } ?? 0
            guard found == previous else {
                throw JetStreamTailError.checkpointMoved(source: name, expected: previous, found: found)
            }
        }
        let id = nextID.add(1, ordering: .relaxed).newValue
        pipeline.withLock {
            $0.inFlight.append(
                InFlight(id: id, through: through, lag: lag, records: records.count, reread: reread, acks: acks))
        }
        writer.submit(batch) { [self] result in committed(id, result) }
    }

    /// The completion of batch `id` (on the writer thread, in submission order).
    private func committed(_ id: Int, _ result: Result<IngestSummary, any Error>) {
        switch result {
        case .success(let summary):
            let batch = pipeline.withLock { p -> InFlight in
                let batch = p.inFlight.removeFirst()
                p.committed = batch.through
                p.statistics.checkpoint = batch.through
                p.statistics.lag = batch.lag
                p.statistics.batches += 1
                p.statistics.records += batch.records
                p.statistics.reread += batch.reread
                p.statistics.summary += summary
                return batch
            }
            if crashAfterCommit && !batch.acks.isEmpty {
                // Test hook (DAYBOOK_FAULT=after-commit-before-ack): the crash between commit and ack.
                _exit(137)
            }
            ackQueue.async { [self] in
                var failures = 0
                for message in batch.acks {
                    do { try message.ack() } catch { failures += 1 }
                }
                if failures > 0 { pipeline.withLock { $0.statistics.failedAcks += failures } }
                lagGauge.record(batch.lag)
                releaseSlot()
            }
        case .failure(let error):
            pipeline.withLock { p in
                _ = p.inFlight.removeFirst()
                // Later batches then fail their precondition: the first failure is the one to report.
                if p.failure == nil { p.failure = error }
            }
            wake.signal()
            ackQueue.async { [self] in releaseSlot() }
        }
    }

    /// A redelivery of a message at or below the last batch submitted: acked now when committed,
    /// else after the last batch in flight commits (its own batch commits no later).
    private func redelivered(_ message: JetStreamMessage) {
        let now = pipeline.withLock { p -> Bool in
            p.statistics.skipped += 1
            if message.streamSequence <= p.committed { return true }
            if !p.inFlight.isEmpty {
                p.inFlight[p.inFlight.count - 1].acks.append(message)
            }
            // Neither committed nor in flight: its batch failed and the run is ending; not acked.
            return false
        }
        if now {
            do { try message.ack() } catch { pipeline.withLock { $0.statistics.failedAcks += 1 } }
        }
    }

    // MARK: Slots

    private let slotsFree: Mutex<Int>
    private let slotSignal = DispatchSemaphore(value: 0)

    /// Takes a slot for one more batch in flight; false when the run must end instead.
    private func acquireSlot() -> Bool {
        while true {
            if failed { return false }
            let got = slotsFree.withLock { free -> Bool in
                guard free > 0 else { return false }
                free -= 1
                return true
            }
            if got { return true }
            _ = slotSignal.wait(timeout: .now() + .milliseconds(100))
        }
    }

    private func releaseSlot() {
        slotsFree.withLock { $0 += 1 }
        slotSignal.signal()
    }

    /// Waits until every batch in flight has completed and its acks went out.
    private func waitForSlots(all: Int) {
        while slotsFree.withLock({ $0 < all }) {
            _ = slotSignal.wait(timeout: .now() + .milliseconds(100))
        }
    }

    // MARK: Retries

    /// Runs `body` until it succeeds, retrying transient errors (nil when stopped meanwhile).
    fileprivate func retrying<R>(_ body: () throws -> R) throws -> R? {
        while !isStopping {
            do {
                return try body()
            } catch let error as JetStreamError where error.isTransient {
                noteTransient(error)
                pause()
            }
        }
        return nil
    }

    private let lastTransientLog = Mutex<ContinuousClock.Instant?>(nil)

    /// Logs a transient error at most every 10 s (the client is reconnecting).
    private func noteTransient(_ error: JetStreamError) {
        let now = ContinuousClock.now
        let log = lastTransientLog.withLock { last -> Bool in
            if let last, now - last < .seconds(10) { return false }
            last = now
            return true
        }
        if log { logger.warning("\(name): \(error)") }
    }

    /// Waits the reconnect wait, or less when stopped.
    private func pause() {
        _ = wake.wait(timeout: .now() + .milliseconds(Int(configuration.reconnectWait.milliseconds)))
        if isStopping { wake.signal() }
    }

    /// No message within the fetch timeout: the consumer's pending count is the lag.
    private func idle(_ subscription: PullSubscription) {
        guard let state = try? subscription.consumerState() else { return }
        let busy = pipeline.withLock { p -> Bool in
            guard p.inFlight.isEmpty else { return true }
            p.statistics.lag = state.pending
            return false
        }
        if !busy { lagGauge.record(state.pending) }
    }
}

/// Reads the messages matching `filter` with stream sequence in `(after, through]`, in order,
/// through an ephemeral consumer without acks (deleted by ``close()``, or by the server a minute
/// after its last use).
private final class RangeReader {
    private let subscription: PullSubscription
    private let through: UInt64
    private let fetchTimeout: Duration
    private var done = false

    init(_ js: JetStream, stream: String, filter: String?, after: UInt64, through: UInt64, fetchTimeout: Duration)
        throws
    {
        self.through = through
        self.fetchTimeout = fetchTimeout
        subscription = try js.pullSubscription(stream: stream, filter: filter, from: after + 1)
        done = through <= after
        if !done { done = try subscription.consumerState().pending == 0 }
    }

    deinit { subscription.unsubscribe() }

    func close() { subscription.unsubscribe() }

    /// Up to `max` more messages; empty once the range is read.
    func next(_ max: Int) throws -> [JetStreamMessage] {
        var found: [JetStreamMessage] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while !done && found.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw JetStreamError(
                    kind: .timeout, operation: "reading stream seq up to \(through) again",
                    statusText: "the stream delivered nothing for 60 s although messages are pending",
                    hint: "check the nats-server log; the tail retries")
            }
            let messages = try subscription.fetch(max, timeout: fetchTimeout)
            if messages.isEmpty {
                done = try subscription.consumerState().pending == 0
                continue
            }
            for message in messages {
                if message.streamSequence > through {
                    done = true
                    break
                }
                found.append(message)
                if message.pending == 0 || message.streamSequence == through {
                    done = true
                    break
                }
            }
        }
        return found
    }
}

/// Why a ``JetStreamTail`` stopped, besides a ``JetStreamError`` or a commit failure.
public enum JetStreamTailError: Error, Sendable, CustomStringConvertible {
    /// The source's stored checkpoint is not a stream sequence.
    case notAStreamCheckpoint(source: String, found: String)
    /// The stored checkpoint is not the one the batch follows: another process tails the same
    /// consumer into this store, or an earlier batch of this run failed.
    case checkpointMoved(source: String, expected: UInt64, found: UInt64)

    public var description: String {
        switch self {
        case .notAStreamCheckpoint(let source, let found):
            "the checkpoint stored for \(source) is \(found), not a stream sequence; the store is not one this consumer fed (check --data)"
        case .checkpointMoved(let source, let expected, let found):
            "the checkpoint of \(source) is stream seq \(found), expected \(expected): another process tails the same consumer into this store; run one `daybook tail` per consumer and store (nothing of this batch was stored or acknowledged)"
        }
    }
}
