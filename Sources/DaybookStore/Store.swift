import DaybookCore
import LMDB

/// The LMDB databases of a Daybook store and how their keys are laid out.
///
/// See `docs/architecture.md` for the full key layout. All integers in keys are big-endian so
/// that byte order is numeric order; strings in keys are length-prefixed so a prefix never
/// matches a longer id.
///
/// Every key stays under LMDB's 511 bytes: ids in keys are bounded by validation (transaction,
/// customer and catalog ids are at most 128 bytes), and the parts without a small bound
/// (line-item ids, `unique_count` values, source names) are keyed by a ``KeyDigest`` in a
/// ``DigestChain``, the full part kept in the value and compared on lookup.
package struct Store: Sendable {
    package let env: Environment
    /// `name` → value: last sequence, horizon, catalog version, counters.
    package let meta: Database
    /// `seq` (u64) → ``LoggedEvent``: the append-only event log.
    package let log: Database
    /// `transaction_id` → `seq`: idempotency, for ever.
    package let transactions: Database
    /// Empty since format 4 (format 3: `customer, seq` → day); kept open so that its name stays
    /// Daybook's and a format-3 store's entries can be dropped by its upgrade.
    package let byCustomer: Database
    /// `customer, day, seq` → the further seqs of the batch: a customer's events by day.
    package let byDay: Database
    /// `position` (u64) → ``JournalEntry``: every write transaction, in order (replay as of a point).
    package let journal: Database
    /// `position` (u64), `invoice key` → empty: the invoices whose export rows a write changed,
    /// each under the position of the last write that changed any of its rows (one entry per
    /// invoice, `RowStamps.last`), so an incremental export reads only those after its basis.
    package let changedInvoices: Database
    /// `position` (u64), `n` (u32) → ``RemovedRows``: export rows a catalog change made vanish.
    package let removedRows: Database
    /// `n` (u64) → ``DeadLetter``.
    package let deadLetters: Database
    /// `key digest of (source, position, raw), n` → empty: finds the dead letters that may be the
    /// same record again (``Keys/deadLetterDigest(source:position:raw:)``).
    package let deadLetterKeys: Database
    /// `seq, metric id` → reason: metric rejections.
    package let rejections: Database
    /// `version` (u32) → ``CatalogVersion``.
    package let catalogs: Database
    /// `invoice key` → ``InvoiceState``.
    package let invoices: Database
    /// `invoice key, digest(line item, canonical value), n` → first day index, line item, value:
    /// distinct values of `unique_count` line items (``DistinctValue``).
    package let distinct: Database
    /// `period end, invoice key` → empty: invoices not yet finalized, by period end.
    package let openInvoices: Database
    /// `invoice key` → ``Snapshot``: immutable finalization snapshots.
    package let snapshots: Database
    /// `digest(source name), n` → source name, checkpoint bytes (byte offset, stream sequence).
    package let checkpoints: Database
    /// Why a finalized invoice moved: `invoice key, 0x00` → its ``CauseSummary`` (late-event count,
    /// the first 100 late events, catalog versions that rebuilt it), what reports read;
    /// `invoice key, 0x01, last seq` → the (seq, transaction id) of the events one transaction
    /// billed to it after finalization, the full list (`discrepancies --invoice ID --causes`).
    package let causes: Database
    /// `invoice key, digest(line item), n` → ``DriftRecord``: open drift of finalized invoices.
    package let drift: Database
    /// `invoice key, digest(line item), resolved seq, n` → ``DriftRecord``: drift that returned to the snapshot.
    package let driftHistory: Database
    /// Corrections of finalized invoices (SPEC §4 "Corrections"): `invoice key, 0x00` → the
    /// invoice's ``CorrectionLedger`` (what was issued and rejected, summed per line item, and the
    /// open proposal); `invoice key, 0x01, n` (u32) → ``Correction`` n, issued or rejected, immutable.
    /// Added in format 5: a store written before gets it at its next write.
    package let corrections: Database
    /// How unbounded key parts are reduced to a fixed size (``KeyDigest/standard``; tests may
    /// force collisions).
    package let digest: KeyDigest

    /// The databases of a store, in the order `init` assigns them.
    static let names = [
        "meta", "log", "transactions", "by_customer", "dead_letters", "rejections", "catalogs", "invoices",
        "distinct", "open_invoices", "snapshots", "checkpoints", "causes", "drift", "drift_history",
        "dead_letter_keys", "by_day", "journal", "changed_invoices", "removed_rows", "corrections",
    ]

    /// Databases a store written by an older daybook may lack: created by its next write.
    static let addedLater: Set<String> = ["corrections"]

    /// Opens the store at `path`, checking it first (StoreOpening.swift): `data.mdb` must hold
    /// every page its meta page claims, the databases must be Daybook's and the format marker
    /// known; with write access the page accounting must add up too. Anything else throws
    /// ``StoreError`` (or an ``LMDBError`` LMDB raised) before anything is written.
    ///
    /// An existing store's databases are opened in one read transaction (no write lock: a reader
    /// never waits for a writer). With `.read` access nothing is created: the environment is
    /// opened read-only; with `.write`, a new store, or one missing a database, takes a write
    /// transaction to create them.
    package init(
        path: String, durable: Bool = true, access: StoreAccess = .write, digest: KeyDigest = .standard,
        replaying: Bool = false
    ) throws {
        self.digest = digest
        env = try Self.openEnvironment(path, durable: durable, access: access, replaying: replaying)
        let dbs = try Self.openDatabases(env, access: access)
        (meta, log, transactions, byCustomer, deadLetters) = (dbs[0], dbs[1], dbs[2], dbs[3], dbs[4])
        (rejections, catalogs, invoices, distinct, openInvoices) = (dbs[5], dbs[6], dbs[7], dbs[8], dbs[9])
        (snapshots, checkpoints, causes, drift, driftHistory) = (dbs[10], dbs[11], dbs[12], dbs[13], dbs[14])
        (deadLetterKeys, byDay, journal) = (dbs[15], dbs[16], dbs[17])
        (changedInvoices, removedRows, corrections) = (dbs[18], dbs[19], dbs[20])
        try checkFormat(access: access)
    }
}

/// Key encoders. Each returns the full key bytes for one database.
package enum Keys {
    package static func seq(_ seq: UInt64) -> [UInt8] {
        var k: [UInt8] = []
        k.reserveCapacity(8)
        k.appendBigEndian(seq)
        return k
    }

    package static func readSeq(_ bytes: [UInt8], at offset: Int = 0) -> UInt64 {
        [UInt8].readBigEndianUInt64(bytes, at: offset)
    }

    package static func appendString(_ s: String, to k: inout [UInt8]) {
        k.appendBigEndian(UInt32(s.utf8.count))
        k.append(contentsOf: s.utf8)
    }

    /// A day as an order-preserving u32 (offset so negative day numbers sort first).
    package static func appendDay(_ d: Day, to k: inout [UInt8]) {
        k.appendBigEndian(UInt32(bitPattern: d.number) ^ 0x8000_0000)
    }

    package static func readDay(_ bytes: [UInt8], at offset: Int) -> Day {
        Day(number: Int32(bitPattern: [UInt8].readBigEndianUInt32(bytes, at: offset) ^ 0x8000_0000))
    }

    package static func invoice(contract: String, start: Day) -> [UInt8] {
        var k: [UInt8] = []
        appendString(contract, to: &k)
        appendDay(start, to: &k)
        return k
    }

    /// The contract id and period start of an invoice key (nil when `key` is not one).
    package static func invoiceParts(_ key: [UInt8]) -> (contract: String, start: Day)? {
        guard key.count >= 8 else { return nil }
        let n = Int([UInt8].readBigEndianUInt32(key, at: 0))
        guard key.count == 4 + n + 4, let contract = String(validating: key[4..<(4 + n)], as: UTF8.self) else {
            return nil
        }
        return (contract, readDay(key, at: 4 + n))
    }

    /// `changed_invoices`: `position, invoice key`.
    package static func changedInvoice(position: UInt64, invoice: [UInt8]) -> [UInt8] {
        var k = seq(position)
        k.append(contentsOf: invoice)
        return k
    }

    /// `removed_rows`: `position, n`.
    package static func removedRows(position: UInt64, n: UInt32) -> [UInt8] {
        var k = seq(position)
        k.appendBigEndian(n)
        return k
    }

    package static func invoicePrefix(contract: String) -> [UInt8] {
        var k: [UInt8] = []
        appendString(contract, to: &k)
        return k
    }

    /// `by_day`: `customer, day, seq` → the seqs after `seq` of the same customer day written by
    /// the same batch, as ascending deltas (``daySeqsValue(_:)``; empty: `seq` alone). An ingest
    /// batch writes one entry per customer day it touches, whatever its number of events;
    /// `explain` reads one (customer, day) range, a catalog change one customer's.
    package static func customerDay(_ customer: String, day: Day, seq: UInt64) -> [UInt8] {
        var k = customerDayPrefix(customer, day: day)
        k.appendBigEndian(seq)
        return k
    }

    /// The value of a `by_day` entry keyed by `seqs[0]`: the uvarint gaps between consecutive seqs.
    package static func daySeqsValue(_ seqs: [UInt64]) -> [UInt8] {
        var w = ByteWriter(capacity: seqs.count - 1)
        for i in seqs.indices.dropFirst() { w.uvarint(seqs[i] - seqs[i - 1]) }
        return w.bytes
    }

    /// The seqs of a `by_day` entry: the key's (after `prefixCount` bytes), then its value's gaps.
    package static func daySeqs(key: [UInt8], prefixCount: Int, value: [UInt8]) throws(StoreCorruption) -> [UInt64] {
        var seq = try Keys.seq(from: key, at: prefixCount, in: "by_day key")
        var seqs = [seq]
        var r = ByteReader(value)
        while !r.isAtEnd {
            let gap = try r.uvarint()
            guard gap > 0, seq <= UInt64.max - gap else {
                throw StoreCorruption("by_day entry of seq \(seqs[0]) lists seqs out of order")
            }
            seq += gap
            seqs.append(seq)
        }
        return seqs
    }

    package static func customerDayPrefix(_ customer: String, day: Day) -> [UInt8] {
        var k = customerPrefix(customer)
        appendDay(day, to: &k)
        return k
    }

    package static func customerPrefix(_ customer: String) -> [UInt8] {
        var k: [UInt8] = []
        appendString(customer, to: &k)
        return k
    }

    /// `u32 length + invoice key`: what every `distinct`, `drift` and `drift_history` key of the
    /// invoice starts with (one invoice is one prefix scan).
    package static func distinctPrefix(invoice: [UInt8]) -> [UInt8] {
        var k: [UInt8] = []
        k.appendBigEndian(UInt32(invoice.count))
        k.append(contentsOf: invoice)
        return k
    }

    package static func openInvoice(end: Day, invoice: [UInt8]) -> [UInt8] {
        var k: [UInt8] = []
        appendDay(end, to: &k)
        k.append(contentsOf: invoice)
        return k
    }

    package static func rejection(seq: UInt64, metric: String) -> [UInt8] {
        var k = Keys.seq(seq)
        k.append(contentsOf: metric.utf8)
        return k
    }

    /// `causes`: the invoice's ``CauseSummary``.
    package static func causeSummary(invoice: [UInt8]) -> [UInt8] {
        var k = invoice
        k.append(0)
        return k
    }

    /// `causes`: the late events one transaction billed to the invoice, keyed by its last seq.
    package static func lateEvent(invoice: [UInt8], seq: UInt64) -> [UInt8] {
        var k = lateEventsPrefix(invoice: invoice)
        k.appendBigEndian(seq)
        return k
    }

    package static func lateEventsPrefix(invoice: [UInt8]) -> [UInt8] {
        var k = invoice
        k.append(1)
        return k
    }

    /// The digest that identifies a dead-lettered record: the store's key digest (``KeyDigest``)
    /// of `u32 length + source, u32 length + position, raw bytes`. Fixed size whatever the
    /// record's length; letters whose digests collide are told apart by comparing them in full.
    package static func deadLetterDigest(source: String, position: String, raw: [UInt8]) -> [UInt8] {
        var part: [UInt8] = []
        part.reserveCapacity(raw.count + 64)
        appendString(source, to: &part)
        appendString(position, to: &part)
        part.append(contentsOf: raw)
        return KeyDigest.standard(part)
    }

    /// `dead_letter_keys`: a digest and the number of a dead letter that has it (letters whose
    /// digests collide are told apart by their number).
    package static func deadLetterKey(digest: [UInt8], number: UInt64) -> [UInt8] {
        var k = digest
        k.appendBigEndian(number)
        return k
    }

    package static func version(_ v: UInt32) -> [UInt8] {
        var k: [UInt8] = []
        k.appendBigEndian(v)
        return k
    }
}
