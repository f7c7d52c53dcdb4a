import DaybookCore
import LMDB

/// One write transaction of the engine, as the `journal` records it: what it did, with the clock
/// it ran under, so that a replay can run the same writes in the same order and reach the same
/// state (SPEC §6: snapshots, drift and catalog versions as they were, not only the breakdown).
///
/// Every write transaction appends one entry, keyed by its **journal position** (1, 2, …; the
/// engine state keeps the last one). The position also stamps the rows a write changed, which is
/// what incremental exports select by; unlike the log seq it advances on catalog changes and
/// finalizations too, which change rows without logging an event.
package struct JournalEntry: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// Ingest batches written together (group commit), in order: each batch's clock and how
        /// many events it appended to the log (seq `firstSeq`, `firstSeq + 1`, …). A batch that
        /// appended nothing still counts: its clock finalizes and materializes.
        case ingest(firstSeq: UInt64, batches: [Batch])
        /// `catalog apply` of this version (its document is in `catalogs`).
        case catalog(version: UInt32)
        /// `daybook finalize [--through DATE]`.
        case finalize(through: Day?)
        /// `daybook corrections issue ID [--note TEXT] [--as-shown TOTAL]` (`issue`) or
        /// `corrections reject ID --reason TEXT`.
        case correction(id: String, issue: Bool, text: String?, asShown: FixedDecimal?)
    }

    package struct Batch: Sendable, Hashable {
        package var now: Timestamp
        package var events: UInt64
        package init(now: Timestamp, events: UInt64) {
            self.now = now
            self.events = events
        }
    }

    package var position: UInt64
    /// The transaction's clock (for ingest, its first batch's).
    package var now: Timestamp
    /// The last log seq once the transaction committed.
    package var lastSeq: UInt64
    package var kind: Kind

    package init(position: UInt64, now: Timestamp, lastSeq: UInt64, kind: Kind) {
        self.position = position
        self.now = now
        self.lastSeq = lastSeq
        self.kind = kind
    }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.uvarint(1 as UInt64)  // record version
        w.timestamp(now)
        w.uvarint(lastSeq)
        switch kind {
        case .ingest(let firstSeq, let batches):
            w.uvarint(1 as UInt64)
            w.uvarint(firstSeq)
            w.uvarint(batches.count)
            for b in batches {
                w.timestamp(b.now)
                w.uvarint(b.events)
            }
        case .catalog(let version):
            w.uvarint(2 as UInt64)
            w.uvarint(UInt64(version))
        case .finalize(let through):
            w.uvarint(3 as UInt64)
            w.bool(through != nil)
            if let through { w.day(through) }
        case .correction(let id, let issue, let text, let asShown):
            w.uvarint(4 as UInt64)
            w.string(id)
            w.bool(issue)
            w.bool(text != nil)
            if let text { w.string(text) }
            w.bool(asShown != nil)
            if let asShown { w.decimal(asShown) }
        }
        return w.bytes
    }

    /// The entry at `position` of `store`'s journal; a missing one is store corruption.
    package static func load(_ position: UInt64, _ store: Store, _ txn: borrowing Transaction) throws -> JournalEntry {
        guard let bytes = try txn.get(Keys.seq(position), in: store.journal) else {
            throw StoreCorruption("journal entry \(position) is missing")
        }
        return try JournalEntry(position: position, decoding: bytes)
    }

    package init(position: UInt64, decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        guard try r.uvarint() == 1 else { throw StoreCorruption("journal entry \(position): unknown record version") }
        self.position = position
        now = try r.timestamp()
        lastSeq = try r.uvarint()
        switch try r.uvarint() {
        case 1:
            let first = try r.uvarint()
            let n = try r.count()
            var batches: [Batch] = []
            batches.reserveCapacity(n)
            for _ in 0..<n { batches.append(Batch(now: try r.timestamp(), events: try r.uvarint())) }
            kind = .ingest(firstSeq: first, batches: batches)
        case 2:
            guard let v = UInt32(exactly: try r.uvarint()) else {
                throw StoreCorruption("journal entry \(position): catalog version out of range")
            }
            kind = .catalog(version: v)
        case 3:
            kind = .finalize(through: try r.bool() ? try r.day() : nil)
        case 4:
            let id = try r.string()
            let issue = try r.bool()
            let text = try r.bool() ? try r.string() : nil
            kind = .correction(id: id, issue: issue, text: text, asShown: try r.bool() ? try r.decimal() : nil)
        default:
            throw StoreCorruption("journal entry \(position): unknown kind")
        }
        guard r.isAtEnd else { throw StoreCorruption("journal entry \(position) has trailing bytes") }
    }
}
