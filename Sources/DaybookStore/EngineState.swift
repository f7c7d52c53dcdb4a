import DaybookCore
import LMDB

/// Recompute work counters (SPEC-visible through `daybook stats`).
public struct RecomputeCounters: Sendable, Hashable {
    /// Line-item days whose quantity and amount were re-evaluated.
    public var lineItemDaysEvaluated: UInt64 = 0
    /// Line-item day rows whose visible values (quantity, subtotal, credits, commits) changed.
    public var lineItemDaysChanged: UInt64 = 0
    /// Contract days whose balance draw-down was re-evaluated.
    public var drawDownDaysEvaluated: UInt64 = 0
    /// Events read back from the log to recompute (only catalog changes do this).
    public var eventsReread: UInt64 = 0
    public init() {}
}

/// Engine-wide counters, kept in the store (`daybook stats`).
public struct EngineCounters: Sendable, Hashable {
    public var events: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var deadLetters: UInt64 = 0
    public var metricRejections: UInt64 = 0
    public var invoicesFinalized: UInt64 = 0
    public var recompute = RecomputeCounters()
    public init() {}

    package mutating func add(_ r: RecomputeCounters) {
        recompute.lineItemDaysEvaluated += r.lineItemDaysEvaluated
        recompute.lineItemDaysChanged += r.lineItemDaysChanged
        recompute.drawDownDaysEvaluated += r.drawDownDaysEvaluated
        recompute.eventsReread += r.eventsReread
    }
}

/// The engine's small mutable state: positions, horizon, catalog version, counters.
/// One record in `meta`, read at the start and written at the end of every write transaction.
package struct EngineState: Sendable {
    package var lastSeq: UInt64 = 0
    package var lastDeadLetter: UInt64 = 0
    /// The last day through which every contract's invoices are materialized.
    package var horizon: Day?
    package var catalogVersion: UInt32 = 0
    /// The last ``JournalEntry`` position: how many write transactions the store has committed.
    package var journalPosition: UInt64 = 0
    package var counters = EngineCounters()

    package static let key = Array("state".utf8)
    /// The store format, first in the state record: the key layout and record encodings of
    /// every database. 2: line-item ids, `unique_count` values and source names are keyed by
    /// digest (`distinct`, `drift`, `drift_history`, `checkpoints`). 3: the `journal` of write
    /// transactions, the `by_day` index, and the journal position of each row's last change.
    /// 4: a `by_day` entry lists every seq of its customer day written by one batch (format 3
    /// entries, one seq each, read the same), and `by_customer` is no longer kept: a format-3
    /// store is read as it is and upgraded by its next write (``upgradeFrom3(_:_:)``).
    /// 5: the `corrections` database (SPEC §4 "Corrections"): a format-4 store lacks it, gets it
    /// when opened for writing, and its next write proposes the corrections of the invoices
    /// already drifting (a read-only open of it says to run `daybook finalize`).
    package static let formatVersion: UInt64 = 5
    /// The oldest format this build opens.
    package static let oldestReadableFormat: UInt64 = 3
    /// The format of the state record as loaded (``formatVersion`` for a new store).
    package var loadedFormat: UInt64 = formatVersion

    package static func load(_ store: Store, _ txn: borrowing Transaction) throws -> EngineState {
        guard let bytes = try txn.get(key, in: store.meta) else { return EngineState() }
        var r = ByteReader(bytes)
        let format = try r.uvarint()
        guard (oldestReadableFormat...formatVersion).contains(format) else {
            throw StoreFormatError(found: format, path: store.env.path)
        }
        var s = EngineState()
        s.loadedFormat = format
        s.lastSeq = try r.uvarint()
        s.lastDeadLetter = try r.uvarint()
        if try r.bool() { s.horizon = try r.day() }
        guard let version = UInt32(exactly: try r.uvarint()) else {
            throw StoreCorruption("engine state: catalog version out of range")
        }
        s.catalogVersion = version
        s.journalPosition = try r.uvarint()
        s.counters.events = try r.uvarint()
        s.counters.duplicates = try r.uvarint()
        s.counters.deadLetters = try r.uvarint()
        s.counters.metricRejections = try r.uvarint()
        s.counters.invoicesFinalized = try r.uvarint()
        s.counters.recompute.lineItemDaysEvaluated = try r.uvarint()
        s.counters.recompute.lineItemDaysChanged = try r.uvarint()
        s.counters.recompute.drawDownDaysEvaluated = try r.uvarint()
        s.counters.recompute.eventsReread = try r.uvarint()
        guard r.isAtEnd else { throw StoreCorruption("engine state has trailing bytes") }
        return s
    }

    /// Upgrades a format-3 store inside the write transaction that will save its state in format 4:
    /// `by_customer` is emptied (format 4 reads a customer's events from `by_day`, which format 3
    /// already kept for every event).
    package static func upgradeFrom3(_ store: Store, _ txn: borrowing Transaction) throws {
        try txn.deleteAll(in: store.byCustomer)
    }

    package func save(_ store: Store, _ txn: borrowing Transaction) throws {
        var w = ByteWriter()
        w.uvarint(Self.formatVersion)
        w.uvarint(lastSeq)
        w.uvarint(lastDeadLetter)
        w.bool(horizon != nil)
        if let horizon { w.day(horizon) }
        w.uvarint(UInt64(catalogVersion))
        w.uvarint(journalPosition)
        for v in [
            counters.events, counters.duplicates, counters.deadLetters, counters.metricRejections,
            counters.invoicesFinalized, counters.recompute.lineItemDaysEvaluated,
            counters.recompute.lineItemDaysChanged, counters.recompute.drawDownDaysEvaluated,
            counters.recompute.eventsReread,
        ] {
            w.uvarint(v)
        }
        try txn.put(Self.key, w.bytes, in: store.meta)
    }
}

/// A store written in another format than this build of Daybook reads: refused, never misread.
public struct StoreFormatError: Error, Sendable, CustomStringConvertible {
    /// The format the store declares.
    public var found: UInt64
    /// The format this build reads and writes.
    public var expected: UInt64 { EngineState.formatVersion }
    public var path: String

    public var description: String {
        "the store at \(path) has format \(found), this daybook reads format \(expected) (and upgrades format \(EngineState.oldestReadableFormat))"
            + (found < expected
                ? ": it was written by an older daybook; create a new store (catalog apply, then ingest the "
                    + "original events again) or open it with the daybook that wrote it"
                : ": it was written by a newer daybook; use that version")
    }
}
