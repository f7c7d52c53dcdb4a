import DaybookCore
import Dispatch
import LMDB
import Synchronization

/// A Daybook store: the event log in LMDB and the per-day invoice breakdown kept up to date
/// from it incrementally.
///
/// An `Engine` is used from one thread: it is the store's only writer in this process
/// (LMDB allows one write transaction at a time; all writes happen inside
/// ``ingest(_:source:now:checkpoint:)``, ``applyCatalog(_:now:)`` and ``finalize(now:through:)``).
///
/// ```swift
/// let engine = try Engine(path: "./daybook-data")
/// try engine.applyCatalog(catalogBytes, now: now)
/// let summary = try engine.ingest(records, source: "file:events.ndjson", now: now)
/// ```
public final class Engine {
    let store: Store
    private(set) var plan: PricingPlan

    /// Opens (creating if needed) the store at `path`.
    ///
    /// - Parameter durable: sync every commit to disk (the default; only scratch stores turn it off).
    public init(path: String, durable: Bool = true) throws {
        store = try Store(path: path, durable: durable)
        let store = self.store
        plan = try store.env.read { txn in try Engine.loadPlan(store, txn) }
    }

    /// The catalog in force, if one was applied.
    public var catalog: Catalog? { plan.version == 0 ? nil : plan.catalog }

    static func loadPlan(_ store: Store, _ txn: borrowing Transaction) throws -> PricingPlan {
        let state = try EngineState.load(store, txn)
        guard state.catalogVersion > 0,
            let bytes = try txn.get(Keys.version(state.catalogVersion), in: store.catalogs)
        else {
            return PricingPlan(catalog: .empty, version: 0)
        }
        let version = try CatalogVersion(version: state.catalogVersion, decoding: bytes)
        do {
            return PricingPlan(catalog: try Catalog.parse(version.document), version: state.catalogVersion)
        } catch {
            throw StoreCorruption("stored catalog version \(state.catalogVersion) no longer validates")
        }
    }

    // MARK: Catalog

    /// Validates and stores a new catalog version, then recomputes exactly the contracts whose
    /// billing it changes (SPEC §2 "Catalog changes"): their invoices are rebuilt from the log;
    /// finalization snapshots are never touched.
    ///
    /// - Throws: ``CatalogError`` (nothing is changed) or a store error.
    @discardableResult
    public func applyCatalog(_ document: [UInt8], now: Timestamp) throws -> CatalogChange {
        let catalog = try Catalog.parse(document)
        let store = self.store
        let old = plan
        let result: (PricingPlan, CatalogChange) = try transaction(now: now) { txn, ws, state in
            let version = state.catalogVersion + 1
            try txn.put(
                Keys.version(version),
                CatalogVersion(version: version, appliedAt: now, afterSeq: state.lastSeq, document: document).encoded(),
                in: store.catalogs)
            let new = PricingPlan(catalog: catalog, version: version)
            var change = CatalogChange(version: version)
            var droppedFinalized: [String: [([UInt8], InvoiceState)]] = [:]
            for (id, contract) in old.contracts.sorted(by: { $0.key.utf8Precedes($1.key) })
            where new.contracts[id]?.fingerprint != contract.fingerprint {
                droppedFinalized[id] = try dropInvoices(ofContract: id, txn)
                if new.contracts[id] == nil { change.removed.append(id) }
            }
            ws.plan = new
            ws.drift?.catalogVersion = version
            let horizon = max(state.horizon ?? now.day, now.day)
            for (id, contract) in new.contracts.sorted(by: { $0.key.utf8Precedes($1.key) }) {
                // Every contract, changed or not, gets the periods begun by the (possibly later) horizon.
                try ws.materialize(contract, through: horizon, txn)
                guard old.contracts[id]?.fingerprint != contract.fingerprint else { continue }
                if old.contracts[id] == nil { change.added.append(id) } else { change.changed.append(id) }
                try rebuild(contract, ws, txn)
            }
            // Finalized invoices whose period no longer exists (contract removed, anchor or dates
            // changed) have no live breakdown any more: they drift to zero.
            for (_, dropped) in droppedFinalized.sorted(by: { $0.key.utf8Precedes($1.key) }) {
                for (key, _) in dropped where ws.entries[key] == nil {
                    guard let snapshot = try txn.get(key, in: store.snapshots).map({ try Snapshot(decoding: $0) })
                    else { continue }
                    try txn.put(Keys.catalogCause(invoice: key, version: version), [], in: store.causes)
                    try ws.updateDrift(key: key, state: nil, snapshot: snapshot, ws.drift!, txn)
                }
            }
            state.horizon = horizon
            state.catalogVersion = version
            change.eventsReread = ws.counters.eventsReread
            return (new, change)
        }
        plan = result.0
        return result.1
    }

    /// Deletes the materialized invoices of a contract (not its snapshots).
    @discardableResult
    private func dropInvoices(ofContract id: String, _ txn: borrowing Transaction) throws -> [([UInt8], InvoiceState)] {
        var keys: [([UInt8], InvoiceState)] = []
        try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: id)) { key, value in
            keys.append((key, try InvoiceState(decoding: value)))
            return true
        }
        for (key, state) in keys {
            try txn.delete(key, in: store.invoices)
            try txn.delete(Keys.openInvoice(end: state.period.end, invoice: key), in: store.openInvoices)
            var distinct: [[UInt8]] = []
            try txn.scan(in: store.distinct, prefix: Keys.distinctPrefix(invoice: key)) { k, _ in
                distinct.append(k)
                return true
            }
            for k in distinct { try txn.delete(k, in: store.distinct) }
        }
        return keys
    }

    /// Re-applies the logged events of the contract's customer inside its range.
    private func rebuild(_ contract: ContractPlan, _ ws: WorkingSet, _ txn: borrowing Transaction) throws {
        let c = contract.contract
        var seqs: [UInt64] = []
        let prefix = Keys.customerPrefix(c.customerID)
        try txn.scan(in: store.byCustomer, prefix: prefix) { key, value in
            if c.covers(Keys.readDay(value, at: 0)) { seqs.append(Keys.readSeq(key, at: prefix.count)) }
            return true
        }
        for seq in seqs {
            guard let bytes = try txn.get(Keys.seq(seq), in: store.log) else {
                throw StoreCorruption("index names missing log entry \(seq)")
            }
            let event = try LoggedEvent(seq: seq, decoding: bytes).event()
            ws.counters.eventsReread += 1
            try ws.apply(event, outcomes: ws.plan.outcomes(for: event), txn)
        }
    }

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
        try write(
            records, Self.prepare(records, plan: plan, source: source, now: now), source: source, now: now,
            checkpoint: checkpoint)
    }

    /// Ingests consecutive batches, each in its own durable transaction, preparing the next
    /// batch (parsing, validation, metric evaluation) on other cores while the current one is
    /// written. `committed` is called after each commit, in order, with the batch and its summary.
    public func ingest(
        batches: [[IngestRecord]], source: String, now: Timestamp,
        committed: ([IngestRecord], IngestSummary) throws -> Void = { _, _ in }
    ) throws -> IngestSummary {
        var iterator = batches.makeIterator()
        return try ingest(nextBatch: { iterator.next() }, source: source, now: now, committed: committed)
    }

    /// Ingests the batches `nextBatch` returns until it returns nil (a stream read as it goes:
    /// only the batch being written and the one being prepared are in memory). An empty input
    /// is one empty batch, so the clock's finalization check still runs.
    public func ingest(
        nextBatch: () throws -> [IngestRecord]?, source: String, now: Timestamp,
        committed: ([IngestRecord], IngestSummary) throws -> Void = { _, _ in }
    ) throws -> IngestSummary {
        var total = IngestSummary()
        let plan = self.plan
        // An empty input still runs one (empty) batch: the clock's finalization check and horizon.
        var current = try nextBatch() ?? []
        var prepared = Self.prepare(current, plan: plan, source: source, now: now)
        while true {
            let next = try nextBatch()
            let ahead = Mutex<[PreparedRecord]?>(nil)
            let group = DispatchGroup()
            if let next {
                DispatchQueue.global().async(group: group) {
                    let result = Self.prepare(next, plan: plan, source: source, now: now)
                    ahead.withLock { $0 = result }
                }
            }
            let summary = try write(current, prepared, source: source, now: now, checkpoint: nil)
            total += summary
            try committed(current, summary)
            group.wait()
            guard let next else { return total }
            current = next
            prepared = ahead.withLock { $0 } ?? []
        }
    }

    /// The pure part of ingest, on every core: parse, validate, evaluate metrics, encode the log record.
    private static func prepare(
        _ records: [IngestRecord], plan: PricingPlan, source: String,
        now: Timestamp
    ) -> [PreparedRecord] {
        parallelMap(records) { record in
            switch UsageEvent.parse(record.bytes[...]) {
            case .failure(let invalid): return .invalid(invalid)
            case .success(let event):
                let logged = LoggedEvent(
                    seq: 0, ingestTime: now, source: source, position: record.position, raw: record.bytes)
                return .valid(event, plan.outcomes(for: event), logged.encoded())
            }
        }
    }

    /// The serial part of ingest: one durable write transaction for the batch.
    private func write(
        _ records: [IngestRecord], _ prepared: [PreparedRecord], source: String, now: Timestamp,
        checkpoint: Checkpoint?
    ) throws -> IngestSummary {
        let store = self.store
        let plan = self.plan
        return try transaction(now: now) { txn, ws, state in
            try advanceHorizon(ws, &state, to: now.day, txn)
            try finalizeDue(ws, &state, now: now, through: nil, txn)

            var summary = IngestSummary()
            let lateness = Int64(plan.catalog.maxLatenessDays) * 86_400
            let earliest = now.adding(seconds: -lateness)
            let latest = now.adding(seconds: 86_400)
            for (record, prepared) in zip(records, prepared) {
                let event: UsageEvent, outcomes: [MetricOutcome], logRecord: [UInt8]
                switch prepared {
                case .invalid(let invalid):
                    try deadLetter(record, invalid, source: source, now: now, &state, txn)
                    summary.deadLettered += 1
                    continue
                case .valid(let e, let o, let l): (event, outcomes, logRecord) = (e, o, l)
                }
                let tid = Array(event.transactionID.utf8)
                // SPEC §1 order: a logged id is a duplicate before lateness is looked at. (The
                // transaction sees its own writes: a repeat inside this batch is found too.)
                if event.timestamp < earliest || event.timestamp > latest {
                    if try txn.contains(tid, in: store.transactions) {
                        summary.duplicates += 1
                        continue
                    }
                    let tooLate = event.timestamp < earliest
                    let message =
                        tooLate
                        ? "timestamp \(event.timestamp) is more than \(plan.catalog.maxLatenessDays) days before ingest time \(now)"
                        : "timestamp \(event.timestamp) is more than 1 day after ingest time \(now)"
                    try deadLetter(
                        record, InvalidEvent(tooLate ? .tooLate : .inFuture, field: "timestamp", message),
                        source: source, now: now, &state, txn)
                    summary.deadLettered += 1
                    continue
                }
                // On time: one B-tree descent both checks and records the id.
                let seqKey = Keys.seq(state.lastSeq + 1)
                guard try txn.insertIfAbsent(tid, seqKey, in: store.transactions) else {
                    summary.duplicates += 1
                    continue
                }
                state.lastSeq += 1
                let seq = state.lastSeq
                try txn.put(seqKey, logRecord, in: store.log, flags: .append)
                try txn.put(
                    Keys.customerEvent(event.customerID, seq: seq), Keys.dayValue(event.day), in: store.byCustomer)
                if let metrics = plan.metricsByEventType[event.eventType] {
                    for (i, outcome) in outcomes.enumerated() {
                        guard case .rejected(let why) = outcome else { continue }
                        try txn.put(
                            Keys.rejection(seq: seq, metric: metrics[i].id), Array(why.rawValue.utf8),
                            in: store.rejections)
                        summary.metricRejections += 1
                    }
                }
                if let h = state.horizon, event.day > h { try advanceHorizon(ws, &state, to: event.day, txn) }
                try ws.apply(event, seq: seq, outcomes: outcomes, txn)
                summary.accepted += 1
            }
            if let checkpoint { try txn.put(Array(checkpoint.source.utf8), checkpoint.value, in: store.checkpoints) }
            state.counters.events += UInt64(summary.accepted)
            state.counters.duplicates += UInt64(summary.duplicates)
            state.counters.deadLetters += UInt64(summary.deadLettered)
            state.counters.metricRejections += UInt64(summary.metricRejections)
            return summary
        }
    }

    private func deadLetter(
        _ record: IngestRecord, _ invalid: InvalidEvent, source: String, now: Timestamp,
        _ state: inout EngineState, _ txn: borrowing Transaction
    ) throws {
        state.lastDeadLetter += 1
        let letter = DeadLetter(
            number: state.lastDeadLetter, reason: invalid.reason, field: invalid.field,
            message: invalid.message, source: source, position: record.position,
            ingestTime: now, raw: record.bytes)
        try txn.put(Keys.seq(state.lastDeadLetter), letter.encoded(), in: store.deadLetters, flags: .append)
    }

    /// The stored checkpoint of a source (byte offset, stream sequence), if any.
    public func checkpoint(source: String) throws -> [UInt8]? {
        let store = self.store
        return try store.env.read { txn in try txn.get(Array(source.utf8), in: store.checkpoints) }
    }

    // MARK: Horizon and finalization

    /// Materializes every contract's invoices whose period begins on or before `day`.
    func advanceHorizon(_ ws: WorkingSet, _ state: inout EngineState, to day: Day, _ txn: borrowing Transaction) throws
    {
        if let h = state.horizon, day <= h { return }
        for contract in ws.plan.contracts.values { try ws.materialize(contract, through: day, txn) }
        state.horizon = day
    }

    /// Freezes a snapshot of every open invoice due by the clock (period end + grace ≤ now) or
    /// whose period ends on or before `through`.
    func finalizeDue(
        _ ws: WorkingSet, _ state: inout EngineState, now: Timestamp, through: Day?,
        _ txn: borrowing Transaction
    ) throws -> [String] {
        try ws.settle(txn)
        let grace = Int64(ws.plan.catalog.finalizationGraceHours) * 3600
        var due: [[UInt8]] = []
        try txn.scan(in: store.openInvoices) { key, _ in
            let end = Keys.readDay(key, at: 0)
            let byClock = Timestamp(day: end).adding(seconds: grace) <= now
            guard byClock || through.map({ end <= $0 }) == true else { return false }
            due.append(key)
            return true
        }
        var finalized: [String] = []
        for openKey in due {
            try txn.delete(openKey, in: store.openInvoices)
            let key = Array(openKey[4...])
            let invoice: InvoiceState
            if let entry = ws.entries[key] {
                invoice = entry.state
            } else if let bytes = try txn.get(key, in: store.invoices) {
                invoice = try InvoiceState(decoding: bytes)
            } else {
                continue  // its contract was removed from the catalog
            }
            guard let contract = ws.plan.contracts[invoice.contractID] else { continue }
            let id = contract.contract.invoiceID(invoice.period)
            let snapshot = Snapshot(
                invoiceID: id, customerID: contract.contract.customerID, contractID: contract.contract.id,
                finalizedAt: now, seq: state.lastSeq,
                lines: invoice.lineItems.map { Snapshot.Line(lineItemID: $0.id, totals: $0.periodTotals) })
            try txn.put(key, snapshot.encoded(), in: store.snapshots)
            ws.entries[key]?.didFinalize(snapshot)
            state.counters.invoicesFinalized += 1
            finalized.append(id)
        }
        return finalized
    }

    /// Finalizes what is due by the clock and, with `through`, every invoice whose period ends
    /// on or before that date (SPEC §4). Returns the ids of the invoices finalized.
    @discardableResult
    public func finalize(now: Timestamp, through: Day? = nil) throws -> [String] {
        try transaction(now: now) { txn, ws, state in
            try advanceHorizon(ws, &state, to: max(now.day, through.map { $0.adding(days: -1) } ?? now.day), txn)
            return try finalizeDue(ws, &state, now: now, through: through, txn)
        }
    }

    /// One write transaction of the engine: loads the engine state, runs `body` with a working
    /// set over the current plan (drift tracked), then recomputes and writes back what changed,
    /// adds the recompute counters and saves the state. All of it commits together or not at all.
    private func transaction<R>(
        now: Timestamp,
        _ body: (borrowing Transaction, WorkingSet, inout EngineState) throws -> R
    ) throws -> R {
        let store = self.store
        let plan = self.plan
        return try store.env.write { txn in
            var state = try EngineState.load(store, txn)
            let ws = WorkingSet(store: store, plan: plan)
            ws.drift = DriftContext(seq: state.lastSeq, now: now)
            let result = try body(txn, ws, &state)
            ws.drift?.seq = state.lastSeq
            try ws.flush(txn, seq: state.lastSeq)
            state.counters.add(ws.counters)
            try state.save(store, txn)
            return result
        }
    }

    // MARK: Reading

    /// Runs `body` on the live state materialized through `day`, in a transaction that is
    /// rolled back afterwards: reads never change the store, yet see every invoice that has
    /// begun by then (fixed fees and draw-down included).
    func withLiveView<R>(through day: Day, _ body: (borrowing Transaction, EngineState) throws -> R) throws -> R {
        let store = self.store
        let plan = self.plan
        return try store.env.scratchWrite { txn in
            var state = try EngineState.load(store, txn)
            let ws = WorkingSet(store: store, plan: plan)
            try advanceHorizon(ws, &state, to: day, txn)
            try ws.flush(txn, seq: state.lastSeq)
            return try body(txn, state)
        }
    }

    /// Loads every materialized invoice of the plan's contracts, ordered by invoice id.
    func loadInvoices(_ txn: borrowing Transaction) throws -> [(
        key: [UInt8], id: String, contract: ContractPlan, state: InvoiceState
    )] {
        var result: [(key: [UInt8], id: String, contract: ContractPlan, state: InvoiceState)] = []
        for contract in plan.contracts.values {
            try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: contract.contract.id)) { key, value in
                let state = try InvoiceState(decoding: value)
                result.append((key, contract.contract.invoiceID(state.period), contract, state))
                return true
            }
        }
        return result.sorted { $0.id.utf8Precedes($1.id) }
    }
}

extension Catalog {
    /// A catalog with nothing in it (before the first `catalog apply`).
    static let empty = Catalog(
        currency: "USD", currencyDecimals: 2, maxLatenessDays: 34, finalizationGraceHours: 24,
        metrics: [:], products: [:], rateCards: [:], customers: [])
}

extension PricingPlan {
    /// The event evaluated against every metric of its type (aligned with `metricsByEventType`).
    func outcomes(for event: UsageEvent) -> [MetricOutcome] {
        guard let metrics = metricsByEventType[event.eventType] else { return [] }
        return metrics.map { $0.evaluate(event) }
    }
}

/// A record after the pure part of ingest: invalid, or a valid event with its metric outcomes
/// and its encoded log entry.
enum PreparedRecord: Sendable {
    case invalid(InvalidEvent)
    case valid(UsageEvent, [MetricOutcome], [UInt8])
}

/// What a catalog version changed.
public struct CatalogChange: Sendable, Hashable {
    public var version: UInt32
    public var added: [String] = []
    public var changed: [String] = []
    public var removed: [String] = []
    public var eventsReread: UInt64 = 0
}

/// One input record: its bytes and where it came from inside its source.
public struct IngestRecord: Sendable, Hashable {
    public var bytes: [UInt8]
    /// `line 12`, `element 3`, `offset 4096`, `stream seq 77`.
    public var position: String
    public init(bytes: [UInt8], position: String) {
        self.bytes = bytes
        self.position = position
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
    public init() {}

    public static func += (a: inout IngestSummary, b: IngestSummary) {
        a.accepted += b.accepted
        a.duplicates += b.duplicates
        a.deadLettered += b.deadLettered
        a.metricRejections += b.metricRejections
    }

    /// `{"accepted": n, "duplicates": n, "dead_lettered": n, "metric_rejections": n}` (SPEC §7).
    public var json: String {
        "{\"accepted\": \(accepted), \"duplicates\": \(duplicates), \"dead_lettered\": \(deadLettered), \"metric_rejections\": \(metricRejections)}"
    }
}
