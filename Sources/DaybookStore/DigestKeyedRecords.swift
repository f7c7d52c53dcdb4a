import LMDB

/// One value of a `unique_count` line item of one invoice in `distinct`: the day index it was
/// first seen on in the period.
///
/// Key `u32 length + invoice key ‖ digest(part) ‖ n` where part is `u32 length + line-item id ‖
/// canonical value` (the length keeps "ab"+"c" apart from "a"+"bc"); value `u32 first day index
/// ‖ part`. A line-item id (product id and up to three group values of up to 1024 bytes each,
/// percent-encoded) and the value are kilobytes at most, so only their digest is in the key.
/// Entries are only ever deleted a whole invoice at a time (a catalog rebuild), so its chains
/// never have holes.
package struct DistinctValue {
    private let chain: DigestChain
    private let part: [UInt8]

    package init(_ store: Store, invoice: [UInt8], lineItem: String, value: String) {
        var part: [UInt8] = []
        part.reserveCapacity(4 + lineItem.utf8.count + value.utf8.count)
        Keys.appendString(lineItem, to: &part)
        part.append(contentsOf: value.utf8)
        self.part = part
        chain = DigestChain(
            store.distinct, prefix: Keys.distinctPrefix(invoice: invoice), part: part, digest: store.digest)
    }

    /// The day index the value was first seen on, and where it is stored (or goes).
    package func lookup(_ txn: borrowing Transaction) throws -> (firstDay: Int?, slot: DigestChain.Slot) {
        let part = self.part
        let slot = try chain.find(txn) { value in
            value.count == 4 + part.count && value[4...].elementsEqual(part)
        }
        return (slot.value.map { Int([UInt8].readBigEndianUInt32($0, at: 0)) }, slot)
    }

    /// Records `firstDay` as the value's first day, at the place ``lookup(_:)`` returned.
    package func save(firstDay: Int, at slot: DigestChain.Slot, _ txn: borrowing Transaction) throws {
        var v: [UInt8] = []
        v.reserveCapacity(4 + part.count)
        v.appendBigEndian(UInt32(firstDay))
        v.append(contentsOf: part)
        try txn.put(slot.key, v, in: chain.db)
    }
}

extension Store {
    /// `drift`: the open record of one line item of one invoice, keyed `u32 length + invoice key ‖
    /// digest(line-item id) ‖ n`; the record holds the full line-item id (``DriftRecord/lineItemID``).
    package func driftChain(invoice: [UInt8], lineItem: String) -> DigestChain {
        DigestChain(drift, prefix: Keys.distinctPrefix(invoice: invoice), part: Array(lineItem.utf8), digest: digest)
    }

    /// `drift_history`: the records of one line item resolved at `seq`, keyed `u32 length + invoice
    /// key ‖ digest(line-item id) ‖ seq u64 ‖ n`.
    package func driftHistoryChain(invoice: [UInt8], lineItem: String, resolvedSeq seq: UInt64) -> DigestChain {
        DigestChain(
            driftHistory, prefix: Keys.distinctPrefix(invoice: invoice), part: Array(lineItem.utf8),
            suffix: Keys.seq(seq), digest: digest)
    }

    /// The entry of a line item's drift record in `chain`, if any, decoded. Ids are compared as
    /// bytes, as the keys that held them were.
    package func driftRecord(in chain: DigestChain, lineItem: String, _ txn: borrowing Transaction) throws
        -> (record: DriftRecord?, slot: DigestChain.Slot)
    {
        var found: DriftRecord?
        let slot = try chain.find(txn) { value in
            let record = try DriftRecord(decoding: value)
            guard record.lineItemID.utf8.elementsEqual(lineItem.utf8) else { return false }
            found = record
            return true
        }
        return (found, slot)
    }

    // MARK: Checkpoints

    /// `checkpoints`: key `digest(source name) ‖ n` (a source name such as `file:` + a path has no
    /// small bound), value `version 1, source name, checkpoint bytes`.
    private func checkpointChain(_ source: String) -> DigestChain {
        DigestChain(checkpoints, prefix: [], part: Array(source.utf8), digest: digest)
    }

    private static let checkpointVersion: UInt64 = 1

    private static func checkpointSource(_ value: [UInt8]) throws(StoreCorruption) -> (String, ArraySlice<UInt8>) {
        var r = ByteReader(value)
        let version = try r.uvarint()
        guard version == checkpointVersion else { throw StoreCorruption("unknown checkpoint version \(version)") }
        let source = try r.string()
        let bytes = try r.blob()
        guard r.isAtEnd else { throw StoreCorruption("checkpoint has trailing bytes") }
        return (source, bytes)
    }

    /// The stored checkpoint of `source`, if any.
    package func checkpoint(source: String, _ txn: borrowing Transaction) throws -> [UInt8]? {
        var found: [UInt8]?
        _ = try checkpointChain(source).find(txn) { value in
            let (name, bytes) = try Self.checkpointSource(value)
            guard name.utf8.elementsEqual(source.utf8) else { return false }
            found = Array(bytes)
            return true
        }
        return found
    }

    /// Every stored checkpoint, as (source name, checkpoint bytes), in key order.
    package func allCheckpoints(_ txn: borrowing Transaction) throws -> [(source: String, bytes: [UInt8])] {
        var all: [(source: String, bytes: [UInt8])] = []
        try txn.scan(in: checkpoints) { _, value in
            let (name, bytes) = try Self.checkpointSource(value)
            all.append((name, Array(bytes)))
            return true
        }
        return all
    }

    /// Stores the checkpoint of `source`, replacing the one before.
    package func saveCheckpoint(source: String, _ bytes: [UInt8], _ txn: borrowing Transaction) throws {
        let chain = checkpointChain(source)
        let slot = try chain.find(txn) { value in try Self.checkpointSource(value).0.utf8.elementsEqual(source.utf8) }
        var w = ByteWriter(capacity: source.utf8.count + bytes.count + 8)
        w.uvarint(Self.checkpointVersion)
        w.string(source)
        w.blob(bytes)
        try txn.put(slot.key, w.bytes, in: checkpoints)
    }
}
