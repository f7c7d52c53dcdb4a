import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

extension Engine {
    // MARK: Ingest

    /// Ingests one batch in one durable write transaction (SPEC §1): validate, deduplicate,
    /// check lateness, append, update the breakdown, store the checkpoint. Nothing is
    /// acknowledged (returned) before the transaction has committed.
    ///
    /// Before the batch, invoices due by the engine clock are finalized (SPEC §4).
    public func ingest(
        _ records: [IngestRecord], source: String, now: Timestamp,
        checkpoint: Checkpoint? = nil
    ) throws -> IngestSummary {
        let batch = IngestBatch(records: records, source: source, now: now, checkpoint: checkpoint)
        return try write([PreparedBatch(batch, plan: plan)])[0]
    }

    /// Ingests consecutive batches, each in its own durable transaction, preparing the next
    /// batch (parsing, validation, metric evaluation) on other cores while the current one is
    /// written. `committed` is called after each commit, in order, with the batch and its summary.
    public func ingest(
        batches: [[IngestRecord]], source: String, now: Timestamp,
        committed: ([IngestRecord], IngestSummary) throws -> Void = { _, _ in }
    ) throws -> IngestSummary {
        var total = IngestSummary()
        // An empty input still runs one (empty) batch: the clock's finalization check and horizon.
        let all = batches.isEmpty ? [[]] : batches
        func prepare(_ i: Int) -> PreparedBatch {
            PreparedBatch(IngestBatch(records: all[i], source: source, now: now), plan: plan)
        }
        var next = prepare(0)
        for i in all.indices {
            let current = next
            // Queued behind the current batch's slices: prepared while the current batch is written.
            if i + 1 < all.count { next = prepare(i + 1) }
            let summary = try write([current])[0]
            total += summary
            try committed(all[i], summary)
        }
        return total
    }

    /// The serial part of ingest: one durable write transaction for the batches (group commit),
    /// each applied in order with its own finalization check, checkpoint and summary. A batch
    /// prepared with another catalog version than the one stored is evaluated again first.
    ///
    /// After the last of `batches`, `more` is asked for another batch to add to the same
    /// transaction (nil: commit now): a writer with more input ready extends the group instead of
    /// paying another commit. Each batch it returns gets a summary, in order after `batches`'.
    func write(_ batches: [PreparedBatch], more: () -> PreparedBatch? = { nil }) throws -> [IngestSummary] {
        let now = batches.first?.batch.now ?? Timestamp(seconds: 0)
        let estimate = batches.reduce(Self.transactionOverheadBytes) { $0 + $1.batch.estimatedStoreBytes }
        var group = batches
        return try transaction(now: now, reserving: estimate) { txn, ws, state in
            var summaries: [IngestSummary] = []
            var journal: [JournalEntry.Batch] = []
            let firstSeq = state.lastSeq + 1
            // (Run again after the map grew: the batches taken so far come first.)
            for i in 0... {
                if i == group.count {
                    guard let next = more() else { break }
                    group.append(next)
                }
                var prepared = group[i]
                if prepared.planVersion != ws.plan.version { prepared = PreparedBatch(prepared.batch, plan: ws.plan) }
                ws.drift?.now = prepared.batch.now
                let summary = try apply(prepared, ws, &state, txn)
                summaries.append(summary)
                journal.append(JournalEntry.Batch(now: prepared.batch.now, events: UInt64(summary.accepted)))
            }
            return (summaries, .ingest(firstSeq: firstSeq, batches: journal))
        }
    }

    /// What one ingest transaction writes besides its records: the engine state, invoices,
    /// checkpoints, and the B-tree pages copied on write (an upper estimate).
    static let transactionOverheadBytes = 1 << 20

    /// Applies one prepared batch inside the current write transaction.
    private func apply(
        _ prepared: PreparedBatch, _ ws: WorkingSet, _ state: inout EngineState, _ txn: borrowing Transaction
    ) throws -> IngestSummary {
        let store = self.store
        let plan = ws.plan
        let (records, source, now) = (prepared.batch.records, prepared.batch.source, prepared.batch.now)
        if let precondition = prepared.batch.checkpointPrecondition {
            try precondition(try store.checkpoint(source: prepared.batch.checkpoint?.source ?? source, txn))
        }
        try advanceHorizon(ws, &state, to: now.day, txn)
        try finalizeDue(ws, &state, now: now, through: nil, txn)

        var summary = IngestSummary()
        let wantsResults = prepared.batch.wantsResults
        if wantsResults { summary.results.reserveCapacity(records.count) }
        /// The seq the log gave `tid` (a duplicate's original), read only when results are asked for.
        func originalSeq(_ tid: ArraySlice<UInt8>) throws -> UInt64? {
            try txn.get(tid, in: store.transactions).map { Keys.readSeq($0) }
        }
        var accepted = AcceptedEvents()
        var chunks: [PreparedChunk] = []
        chunks.reserveCapacity(prepared.sliceCount)
        let window = Lateness.Window(now: now, maxLatenessDays: plan.catalog.maxLatenessDays)
        var index = 0
        for c in 0..<prepared.sliceCount {
            // Each slice as soon as it is prepared, while the later ones still are.
            var chunk = try prepared.slice(c)
            accepted.take(&chunk)
            for slot in chunk.order {
                let i = index  // the record itself is read only for dead letters and errors
                index += 1
                // Whatever fails while storing one record names it: a batch that keeps failing is found by its line.
                do {
                    guard slot >= 0 else {
                        let invalid = chunk.invalids[Int(-1 - slot)]
                        try deadLetter(records[i], invalid, source: source, now: now, &state, txn)
                        summary.deadLettered += 1
                        if wantsResults {
                            summary.results.append(
                                RecordResult(
                                    status: .deadLettered,
                                    transactionID: RecordResult.transactionID(in: records[i].bytes),
                                    reason: invalid.description))
                        }
                        continue
                    }
                    let v = Int(slot)
                    let id = chunk.ids[v]
                    func transactionID() -> String { String(decoding: id, as: UTF8.self) }
                    // SPEC §1 order: a logged id is a duplicate before lateness is looked at. (The
                    // transaction sees its own writes: a repeat inside this batch is found too.)
                    if let late = window.rejection(chunk.timestamps[v]) {
                        if try txn.contains(id, in: store.transactions) {
                            summary.duplicates += 1
                            if wantsResults {
                                summary.results.append(
                                    RecordResult(
                                        status: .duplicate, transactionID: transactionID(), seq: try originalSeq(id)))
                            }
                            continue
                        }
                        try deadLetter(records[i], late, source: source, now: now, &state, txn)
                        summary.deadLettered += 1
                        if wantsResults {
                            summary.results.append(
                                RecordResult(
                                    status: .deadLettered, transactionID: transactionID(), reason: late.description))
                        }
                        continue
                    }
                    // On time: one B-tree descent both checks and records the id.
                    guard try txn.insertIfAbsent(id, seq: state.lastSeq + 1, in: store.transactions) else {
                        summary.duplicates += 1
                        if wantsResults {
                            summary.results.append(
                                RecordResult(
                                    status: .duplicate, transactionID: transactionID(), seq: try originalSeq(id)))
                        }
                        continue
                    }
                    let rejections = chunk.rejections(of: v)
                    let seq = try appendLog(chunk.logRecords[v], rejections: rejections, &state, txn)
                    accepted.add(v, of: chunk, number: c, seq: seq)
                    summary.metricRejections += rejections.count
                    summary.accepted += 1
                    if wantsResults {
                        summary.results.append(
                            RecordResult(status: .accepted, transactionID: transactionID(), seq: seq))
                    }
                } catch {
                    throw IngestError.record(source: source, position: records[i].position, underlying: error)
                }
            }
            chunks.append(chunk)
        }
        try accepted.apply(to: ws, self, &state, txn, chunks: chunks)
        if let checkpoint = prepared.batch.checkpoint {
            try store.saveCheckpoint(source: checkpoint.source, checkpoint.value, txn)
        }
        state.counters.events += UInt64(summary.accepted)
        state.counters.duplicates += UInt64(summary.duplicates)
        state.counters.deadLetters += UInt64(summary.deadLettered)
        state.counters.metricRejections += UInt64(summary.metricRejections)
        return summary
    }

    /// Appends an accepted event's log record (its transaction id already recorded) under the
    /// next seq, with its metric rejections: what ingest and replay both write for every event
    /// that enters the log. Returns the seq.
    func appendLog(
        _ logRecord: ArraySlice<UInt8>, rejections: ArraySlice<(metric: String, why: ValueRejection)>,
        _ state: inout EngineState,
        _ txn: borrowing Transaction
    ) throws -> UInt64 {
        state.lastSeq += 1
        let seq = state.lastSeq
        try txn.put(seq: seq, logRecord, in: store.log, flags: .append)
        for (metric, why) in rejections {
            try txn.put(Keys.rejection(seq: seq, metric: metric), Array(why.rawValue.utf8), in: store.rejections)
        }
        return seq
    }

    /// Appends one event to the log and `by_day` and bills it on its own: replay's path (ingest
    /// admits a whole batch, then bills it per cell through ``AcceptedEvents``). Returns its seq.
    func append(
        _ event: UsageEvent, _ outcomes: [MetricOutcome], _ logRecord: [UInt8], _ ws: WorkingSet,
        _ state: inout EngineState, _ txn: borrowing Transaction
    ) throws -> UInt64 {
        let metrics = ws.plan.metricsByEventType[event.eventType] ?? []
        let rejections = zip(metrics, outcomes).compactMap {
            metric, outcome -> (metric: String, why: ValueRejection)? in
            if case .rejected(let why) = outcome { (metric.id, why) } else { nil }
        }
        let seq = try appendLog(logRecord[...], rejections: rejections[...], &state, txn)
        try txn.put(Keys.customerDay(event.customerID, day: event.day, seq: seq), [], in: store.byDay)
        if let h = state.horizon, event.day > h { try advanceHorizon(ws, &state, to: event.day, txn) }
        try ws.apply(event, seq: seq, outcomes: outcomes, txn)
        return seq
    }

    /// Stores a dead letter for `record`, unless one from the same source, at the same position,
    /// with the same bytes is stored already (a resumed or repeated ingest of the same input):
    /// such a record is the same record again, and its first letter stands. Either way the
    /// record's outcome is dead-lettered (the caller counts it).
    ///
    /// `dead_letter_keys` is searched by the digest of (source, position, raw); each letter found
    /// under it is compared in full, so a digest collision never drops a letter.
    ///
    /// - Returns: whether a new letter was stored.
    @discardableResult
    func deadLetter(
        _ record: IngestRecord, _ invalid: InvalidEvent, source: String, now: Timestamp,
        _ state: inout EngineState, _ txn: borrowing Transaction
    ) throws -> Bool {
        let store = self.store
        if state.lastDeadLetter > 0, try txn.count(in: store.deadLetterKeys) == 0 {
            try indexDeadLetters(txn)  // a store written before the index existed
        }
        let digest = Keys.deadLetterDigest(source: source, position: record.position, raw: record.bytes)
        var repeated = false
        try txn.scan(in: store.deadLetterKeys, prefix: digest) { key, _ in
            let number = Keys.readSeq(key, at: digest.count)
            guard let bytes = try txn.get(Keys.seq(number), in: store.deadLetters) else { return true }
            let stored = try DeadLetter(number: number, decoding: bytes)
            repeated = stored.source == source && stored.position == record.position && stored.raw == record.bytes
            return !repeated
        }
        if repeated { return false }
        state.lastDeadLetter += 1
        let letter = DeadLetter(
            number: state.lastDeadLetter, reason: invalid.reason, field: invalid.field,
            message: invalid.message, source: source, position: record.position,
            ingestTime: now, raw: record.bytes)
        try txn.put(Keys.seq(state.lastDeadLetter), letter.encoded(), in: store.deadLetters, flags: .append)
        try txn.put(Keys.deadLetterKey(digest: digest, number: state.lastDeadLetter), [], in: store.deadLetterKeys)
        return true
    }

    /// Adds every stored dead letter to `dead_letter_keys` (once, for a store from before it).
    private func indexDeadLetters(_ txn: borrowing Transaction) throws {
        let store = self.store
        var keys: [[UInt8]] = []
        try txn.scan(in: store.deadLetters) { key, value in
            let letter = try DeadLetter(number: Keys.readSeq(key), decoding: value)
            let digest = Keys.deadLetterDigest(source: letter.source, position: letter.position, raw: letter.raw)
            keys.append(Keys.deadLetterKey(digest: digest, number: letter.number))
            return true
        }
        for key in keys { try txn.put(key, [], in: store.deadLetterKeys) }
    }

    /// The stored checkpoint of a source (byte offset, stream sequence), if any.
    public func checkpoint(source: String) throws -> [UInt8]? {
        let store = self.store
        return try store.env.read { txn in try store.checkpoint(source: source, txn) }
    }

}

extension PricingPlan {
    /// The event evaluated against every metric of its type (aligned with `metricsByEventType`).
    func outcomes(for event: UsageEvent) -> [MetricOutcome] {
        guard let metrics = metricsByEventType[event.eventType] else { return [] }
        return metrics.map { $0.evaluate(event) }
    }
}

/// A batch of input records from one source, with the source position it reaches.
public struct IngestBatch: Sendable {
    public var records: [IngestRecord]
    /// `file:PATH`, `stdin`, `nats:STREAM/CONSUMER`, `http`: stored with every event and dead letter.
    public var source: String
    /// The engine clock for this batch (ingest time, lateness, finalization).
    public var now: Timestamp
    /// Committed in the same transaction as the batch's events.
    public var checkpoint: Checkpoint?
    /// Whether the summary lists every record's outcome (``IngestSummary/results``), as HTTP answers.
    public var wantsResults: Bool
    /// Checked inside the batch's write transaction before anything of the batch is applied, with
    /// the checkpoint then stored for the batch's checkpoint source (nil: none yet). Throwing
    /// refuses the batch: nothing of it is stored and its completion gets the error.
    ///
    /// A source that keeps several batches in flight sets it so that a batch never commits after
    /// an earlier batch of the same source failed: each batch requires the checkpoint the batch
    /// before it writes, so a failure cannot leave a stored checkpoint past records that were
    /// never stored.
    public var checkpointPrecondition: (@Sendable (_ stored: [UInt8]?) throws -> Void)?
    public init(
        records: [IngestRecord], source: String, now: Timestamp, checkpoint: Checkpoint? = nil, results: Bool = false
    ) {
        self.records = records
        self.source = source
        self.now = now
        self.checkpoint = checkpoint
        self.wantsResults = results
        self.checkpointPrecondition = nil
    }

    /// The raw size of the batch: the bytes of its records (what batches and group commits are bounded by).
    public var bytes: Int { records.reduce(0) { $0 + $1.bytes.count } }

    /// About how many bytes the batch adds to the store, for growing the map before its transaction:
    /// each record's raw bytes twice (the log entry or dead letter holds them once; B-tree pages
    /// are split half full, large values take whole overflow pages) plus 512 bytes for its keys,
    /// index entries, source and position.
    var estimatedStoreBytes: Int { records.reduce(0) { $0 + 2 * $1.bytes.count + 512 } }
}

/// One input record: its bytes and where it came from inside its source.
public struct IngestRecord: Sendable, Hashable {
    public var bytes: [UInt8]
    /// `line 12`, `element 3`, `offset 4096`, `stream seq 77`.
    public var position: String
    /// The record's length in its source: `bytes.count`, unless the record was longer than a
    /// reader keeps (``LineAccumulator/maxLineBytes``) and `bytes` holds only its start.
    public var length: Int
    public init(bytes: [UInt8], position: String, length: Int? = nil) {
        self.bytes = bytes
        self.position = position
        self.length = max(length ?? bytes.count, bytes.count)
    }
}

/// A source's read position, committed in the same transaction as the events read up to it.
public struct Checkpoint: Sendable, Hashable {
    public var source: String
    public var value: [UInt8]
    public init(source: String, value: [UInt8]) {
        self.source = source
        self.value = value
    }
}

/// How the records of an ingest ended (SPEC §7): every record is exactly one of accepted,
/// duplicate or dead-lettered; metric rejections count (event, metric) pairs of accepted events.
public struct IngestSummary: Sendable, Hashable {
    public var accepted = 0
    public var duplicates = 0
    public var deadLettered = 0
    public var metricRejections = 0
    /// One outcome per record, in input order, when the batch asked for them (``IngestBatch/wantsResults``);
    /// empty otherwise.
    public var results: [RecordResult] = []
    public init() {}

    public static func += (a: inout IngestSummary, b: IngestSummary) {
        a.accepted += b.accepted
        a.duplicates += b.duplicates
        a.deadLettered += b.deadLettered
        a.metricRejections += b.metricRejections
        a.results += b.results
    }

    /// `{"accepted": n, "duplicates": n, "dead_lettered": n, "metric_rejections": n}` (SPEC §7).
    public var json: String {
        "{\"accepted\": \(accepted), \"duplicates\": \(duplicates), \"dead_lettered\": \(deadLettered), \"metric_rejections\": \(metricRejections)}"
    }
}

/// How one input record ended (SPEC §7 `POST /v1/ingest` results).
public struct RecordResult: Sendable, Hashable {
    public enum Status: String, Sendable {
        case accepted, duplicate
        case deadLettered = "dead_lettered"
    }
    public var status: Status
    /// The record's `transaction_id`; for a dead letter, nil when the record has no readable string id.
    public var transactionID: String?
    /// Accepted: the event's seq in the log; duplicate: the seq of the event first logged with the
    /// id (so a retrying client learns its first attempt landed); nil for dead letters.
    public var seq: UInt64?
    /// Dead letters only: `reason (field): message`.
    public var reason: String?

    public init(status: Status, transactionID: String?, seq: UInt64? = nil, reason: String? = nil) {
        self.status = status
        self.transactionID = transactionID
        self.seq = seq
        self.reason = reason
    }

    /// The string `transaction_id` of a record that did not validate, if it is a JSON object that
    /// has one (a record that is not JSON at all has none).
    static func transactionID(in bytes: [UInt8]) -> String? {
        guard case .object(let object)? = try? StrictJSON.parse(bytes), case .string(let id)? = object["transaction_id"]
        else { return nil }
        return id
    }
}
