import DaybookCore
import DaybookStore
import Foundation
import LMDB

/// How far `replay --into` goes (SPEC §6).
public enum ReplayPoint: Sendable, Hashable, CustomStringConvertible {
    /// The whole journal.
    case end
    /// The state as it was known at log position N: every write before event N + 1 was
    /// appended (so a catalog version applied, or an invoice finalized, right after event N is
    /// in it, as is the finalization check of the batch that appended N + 1).
    case seq(UInt64)
    /// Every write whose clock (ingest time) is at or before the time, up to the first one after it.
    case time(Timestamp)

    public var description: String {
        switch self {
        case .end: "the end of the log"
        case .seq(let n): "seq \(n)"
        case .time(let t): "\(t)"
        }
    }

    /// Whether a write (or batch) with clock `now` is past the point.
    func excludes(clock now: Timestamp) -> Bool {
        if case .time(let t) = self { return now > t }
        return false
    }
}

/// How far a replay has come: events applied of those it will apply.
public struct ReplayProgress: Sendable, Hashable {
    public var events: UInt64
    public var totalEvents: UInt64
}

/// What a finished `replay --into` built.
public struct ReplaySummary: Sendable, Hashable {
    public var point: ReplayPoint
    /// The last seq of the replayed store's log.
    public var lastSeq: UInt64
    /// Write transactions replayed (the last one possibly in part).
    public var writes: UInt64
    /// The catalog version in force in the replayed store (0: none).
    public var catalogVersion: UInt32
    public var finalizedInvoices: UInt64
}

extension Engine {
    /// Builds, in a new store at `path`, the state as it was known at `point` (SPEC §6
    /// `replay --as-of-seq N --into DIR` / `--as-of TIME --into DIR`): the journal's writes are run
    /// again in order through the same code as the first time (each ingest batch with its clock,
    /// its finalization check and its events; each catalog version; each `finalize`), so events,
    /// catalog version, snapshots, drift and causes are as they were then.
    ///
    /// Fast path: the log is read in sequence order from one read transaction of this store and
    /// parsed on every core; no dedup lookups, lateness checks or dead letters; runs of ingest
    /// writes share one LMDB transaction, none synced, and one durable sync ends the replay.
    /// ``Store/incompleteMarker`` is written (and synced) into `path` first and removed last: a
    /// replay that did not finish leaves a store every verb refuses.
    ///
    /// - Parameter path: must be missing or an empty directory.
    public func replay(
        into path: String, asOf point: ReplayPoint = .end, progress: ((ReplayProgress) -> Void)? = nil
    ) throws -> ReplaySummary {
        let store = self.store
        // Before DIR is made: a seq past the log is a mistake, not "everything" (the log only grows,
        // so this check cannot be made wrong by a write before the replay's own read).
        if case .seq(let n) = point, case let last = try store.env.read({ try EngineState.load(store, $0).lastSeq }),
            n > last
        {
            throw EngineError(
                code: .notFound,
                message: "--as-of-seq \(n): the log ends at seq \(last) (`daybook stats` shows it); give a seq up to \(last)")
        }
        try ReplayDirectory.begin(path)
        let target = try Engine(replayingInto: path)
        var writes: UInt64 = 0
        try store.env.read { txn in
            let state = try EngineState.load(store, txn)
            let total: UInt64
            if case .seq(let n) = point { total = min(n, state.lastSeq) } else { total = state.lastSeq }
            var done: UInt64 = 0
            var position: UInt64 = 1
            replaying: while position <= state.journalPosition {
                let first = try JournalEntry.load(position, store, txn)
                switch first.kind {
                case .catalog(let version):
                    if point.excludes(clock: first.now) { break replaying }
                    guard let bytes = try txn.get(Keys.version(version), in: store.catalogs) else {
                        throw StoreCorruption("journal entry \(position) applies catalog version \(version), which is missing")
                    }
                    try target.applyCatalog(try CatalogVersion(version: version, decoding: bytes).document, now: first.now)
                    position += 1
                    writes += 1
                case .finalize(let through):
                    if point.excludes(clock: first.now) { break replaying }
                    try target.finalize(now: first.now, through: through)
                    position += 1
                    writes += 1
                case .correction(let id, let issue, let text, let asShown):
                    if point.excludes(clock: first.now) { break replaying }
                    _ = try target.act(
                        on: id, status: issue ? .issued : .rejected, text: text, asShown: asShown, now: first.now)
                    position += 1
                    writes += 1
                case .ingest:
                    // A run of ingest writes into one LMDB transaction of the replayed store.
                    var run = [first]
                    var events = first.eventCount
                    while position + UInt64(run.count) <= state.journalPosition, events < Self.replayRunEvents {
                        let next = try JournalEntry.load(position + UInt64(run.count), store, txn)
                        guard case .ingest = next.kind else { break }
                        run.append(next)
                        events += next.eventCount
                    }
                    let (ran, stopped) = try target.replayIngest(
                        run, from: store, txn, until: point,
                        progress: { n in
                            progress?(ReplayProgress(events: done + n, totalEvents: total))
                        })
                    done += events
                    writes += ran
                    position += UInt64(run.count)
                    if stopped { break replaying }
                }
            }
        }
        try target.store.env.sync()
        try ReplayDirectory.finish(path)
        let built = try target.store.env.read { txn in try EngineState.load(target.store, txn) }
        return ReplaySummary(
            point: point, lastSeq: built.lastSeq, writes: writes, catalogVersion: built.catalogVersion,
            finalizedInvoices: built.counters.invoicesFinalized)
    }

    /// Events of ingest writes one LMDB transaction of a replay holds at most (they are not
    /// synced, so the bound is about the dirty pages a transaction keeps, not about syncs).
    static let replayRunEvents: UInt64 = 262_144

    /// Opens the store a replay writes: not synced per commit, and opened although the
    /// replay's own incomplete-marker is there.
    convenience init(replayingInto path: String) throws {
        try self.init(store: Store(path: path, durable: false, replaying: true))
    }

    /// Runs ingest journal entries again inside one write transaction of this (replayed) store,
    /// reading their events from `source`'s log in `stxn`. Stops at `point`: the batch that would
    /// cross it runs with the events before it (its finalization check included), and nothing
    /// after it. Returns the writes run and whether the point was reached.
    func replayIngest(
        _ run: [JournalEntry], from source: Store, _ stxn: borrowing Transaction, until point: ReplayPoint,
        progress: (UInt64) -> Void
    ) throws -> (writes: UInt64, stopped: Bool) {
        let estimate = Int(run.reduce(0) { $0 + $1.eventCount }) * 1024 + Self.transactionOverheadBytes
        return try store.env.write(reserving: estimate) { txn in
            var applied: UInt64 = 0
            var writes: UInt64 = 0
            for entry in run {
                guard case .ingest(let firstSeq, let batches) = entry.kind else { continue }
                // What of this write happened before the point.
                var included: [JournalEntry.Batch] = []
                var stopped = false
                var seq = firstSeq
                for batch in batches {
                    if point.excludes(clock: batch.now) {
                        stopped = true
                        break
                    }
                    var b = batch
                    if case .seq(let limit) = point, b.events > 0, seq + b.events - 1 > limit {
                        b.events = limit >= seq ? limit - seq + 1 : 0
                        stopped = true
                    }
                    included.append(b)
                    seq += b.events
                    if stopped { break }
                }
                if included.isEmpty { return (writes, true) }
                try step(now: entry.now, txn) { txn, ws, state in
                    guard state.lastSeq + 1 == firstSeq else {
                        throw StoreCorruption(
                            "journal entry \(entry.position) begins at seq \(firstSeq), after seq \(state.lastSeq)")
                    }
                    for batch in included {
                        ws.drift?.now = batch.now
                        try advanceHorizon(ws, &state, to: batch.now.day, txn)
                        try finalizeDue(ws, &state, now: batch.now, through: nil, txn)
                        guard batch.events > 0 else { continue }
                        let from = state.lastSeq + 1
                        try LogStream.forEachChunk(source, stxn, seqs: from...(from + batch.events - 1), plan: ws.plan) {
                            chunk in
                            for e in chunk {
                                guard try txn.insertIfAbsent(Array(e.event.transactionID.utf8), Keys.seq(e.seq), in: store.transactions)
                                else {
                                    throw StoreCorruption("log entry \(e.seq) repeats transaction id \(e.event.transactionID)")
                                }
                                _ = try append(e.event, e.outcomes, e.record, ws, &state, txn)
                                state.counters.metricRejections += UInt64(
                                    e.outcomes.count { if case .rejected = $0 { true } else { false } })
                            }
                            state.counters.events += UInt64(chunk.count)
                            applied += UInt64(chunk.count)
                            progress(applied)
                        }
                    }
                    return ((), .ingest(firstSeq: firstSeq, batches: included))
                }
                writes += 1
                if stopped { return (writes, true) }
            }
            return (writes, false)
        }
    }
}

extension JournalEntry {
    /// Events the write appended to the log.
    var eventCount: UInt64 {
        guard case .ingest(_, let batches) = kind else { return 0 }
        return batches.reduce(0) { $0 + $1.events }
    }
}

/// The directory of a `replay --into`: made empty, marked incomplete (durably) before the
/// replay writes, unmarked after its final sync.
enum ReplayDirectory {
    static func begin(_ path: String) throws {
        try ScratchDirectory.requireEmpty(path, purpose: "replay --into")
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ReplayError.cannotCreate(path: path, reason: "\(error.localizedDescription)")
        }
        let marker = path + "/" + Store.incompleteMarker
        let fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ReplayError.cannotCreate(path: marker, reason: String(cString: strerror(errno))) }
        let text = Array("a daybook replay is writing this store; it is complete once this file is gone\n".utf8)
        let ok = write(fd, text, text.count) == text.count && fsync(fd) == 0
        close(fd)
        guard ok, syncDirectory(path) else {
            throw ReplayError.cannotCreate(path: marker, reason: String(cString: strerror(errno)))
        }
    }

    static func finish(_ path: String) throws {
        let marker = path + "/" + Store.incompleteMarker
        guard unlink(marker) == 0, syncDirectory(path) else {
            throw ReplayError.cannotCreate(path: marker, reason: "cannot remove it: \(String(cString: strerror(errno)))")
        }
    }

    private static func syncDirectory(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return fsync(fd) == 0
    }
}

/// A replay could not prepare or finish its directory; what to do is in the message.
public enum ReplayError: Error, Sendable, CustomStringConvertible {
    case cannotCreate(path: String, reason: String)
    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason):
            "replay --into: cannot write \(path): \(reason); choose a writable directory with free space"
        }
    }
}
