import DaybookCore
import DaybookOutput
import DaybookStore
import Dispatch
import LMDB
import Synchronization

/// A Daybook store: the event log in LMDB and the per-day invoice breakdown kept up to date
/// from it incrementally.
///
/// An `Engine` is used from one thread: it is the store's only writer in this process
/// (LMDB allows one write transaction at a time; all writes happen inside
/// ``ingest(_:source:now:checkpoint:)``, ``applyCatalog(_:now:)``, ``finalize(now:through:)``,
/// ``issueCorrection(_:note:asShown:now:)`` and ``rejectCorrection(_:reason:now:)``).
///
/// ```swift
/// let engine = try Engine(path: "./daybook-data")
/// try engine.applyCatalog(catalogBytes, now: now)
/// let summary = try engine.ingest(records, source: "file:events.ndjson", now: now)
/// ```
public final class Engine {
    let store: Store
    var plan: PricingPlan
    /// The log position and counters the last write transaction saved (valid once it committed).
    var lastWritten: (lastSeq: UInt64, counters: EngineCounters) = (0, EngineCounters())

    /// Opens the store at `path`: with `.write` access (the default) creating it if needed, with
    /// `.read` access only an existing store, read-only (every write method then throws).
    ///
    /// The store is checked before anything is written: a damaged store (truncated `data.mdb`,
    /// unknown format marker, databases missing, free pages that do not add up) throws
    /// ``StoreError`` or the `LMDBError` LMDB raised; there is none at `path` (read access) throws
    /// ``StoreError`` `.noStore`.
    ///
    /// - Parameter durable: sync every commit to disk (the default; only scratch stores turn it off).
    public init(path: String, durable: Bool = true, access: StoreAccess = .write) throws {
        store = try Store(path: path, durable: durable, access: access)
        let store = self.store
        plan = try store.env.read { txn in try Engine.loadPlan(store, txn) }
    }

    /// Opens the store with another key digest: for tests that force digest collisions only
    /// (a store must always be opened with the digest that wrote it, ``KeyDigest/standard``).
    package init(path: String, durable: Bool = true, digest: KeyDigest) throws {
        store = try Store(path: path, durable: durable, digest: digest)
        let store = self.store
        plan = try store.env.read { txn in try Engine.loadPlan(store, txn) }
    }

    /// An engine over an opened store.
    init(store: Store) throws {
        self.store = store
        plan = try store.env.read { txn in try Engine.loadPlan(store, txn) }
    }

    /// Reloads the plan when the stored catalog version is not the one this engine holds.
    func refreshPlan(_ state: EngineState, _ txn: borrowing Transaction) throws {
        guard state.catalogVersion != plan.version else { return }
        plan = try Engine.loadPlan(store, txn)
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

    /// One write transaction of the engine: loads the engine state, runs `body` with a working
    /// set over the current plan (drift tracked), then recomputes and writes back what changed,
    /// adds the recompute counters and saves the state. All of it commits together or not at all.
    ///
    /// The catalog version is checked first: when another process applied a new version since
    /// this one loaded its plan, the plan is reloaded from the store inside this transaction, so
    /// every batch is billed with the version current when it commits (SPEC §7).
    ///
    /// `reserving`: about how many bytes the transaction adds; the map grows before it begins
    /// when they would not fit comfortably (``Environment/write(reserving:_:)``).
    func transaction<R>(
        now: Timestamp, reserving bytes: Int = 0,
        _ body: (borrowing Transaction, WorkingSet, inout EngineState) throws -> (R, JournalEntry.Kind)
    ) throws -> R {
        try store.env.write(reserving: bytes) { txn in try step(now: now, txn, body) }
    }

    /// One engine write inside the LMDB write transaction `txn` (``transaction(now:reserving:_:)``
    /// runs one per LMDB transaction; a replay runs many in one). It takes the next journal
    /// position, which stamps what it changes, and appends its ``JournalEntry``.
    func step<R>(
        now: Timestamp, _ txn: borrowing Transaction,
        _ body: (borrowing Transaction, WorkingSet, inout EngineState) throws -> (R, JournalEntry.Kind)
    ) throws -> R {
        let store = self.store
        var state = try EngineState.load(store, txn)
        if state.loadedFormat == 3 { try EngineState.upgradeFrom3(store, txn) }
        try refreshPlan(state, txn)
        state.journalPosition += 1
        let ws = WorkingSet(store: store, plan: plan)
        ws.position = state.journalPosition
        ws.drift = DriftContext(seq: state.lastSeq, now: now)
        // Before format 5 no proposal was kept: the write that saves format 5 proposes the
        // corrections of the invoices drifting already (drift changed only by later writes
        // would otherwise never be proposed, and `replay --verify` would differ).
        if state.loadedFormat < 5 { try ws.refreshProposals(skipping: [], ws.drift!, txn) }
        let (result, kind) = try body(txn, ws, &state)
        ws.drift?.seq = state.lastSeq
        try ws.flush(txn, seq: state.lastSeq)
        state.counters.add(ws.counters)
        let entry = JournalEntry(position: state.journalPosition, now: now, lastSeq: state.lastSeq, kind: kind)
        try txn.put(Keys.seq(entry.position), entry.encoded(), in: store.journal, flags: .append)
        try state.save(store, txn)
        lastWritten = (state.lastSeq, state.counters)
        return result
    }

}
