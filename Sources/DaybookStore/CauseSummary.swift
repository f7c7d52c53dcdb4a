import DaybookCore
import LMDB

/// What a finalized invoice's drift reports name as its causes, kept small whatever the log
/// holds (SPEC §4): how many late events it has, the first ``limit`` of them in log order, and
/// the catalog versions that rebuilt it. Stored under `causes` at `invoice key, 0x00`, updated
/// in the transaction that records the late events or the catalog cause.
public struct CauseSummary: Sendable {
    /// How many late transaction ids a report lists.
    public static let limit = 100

    /// Accepted events billed to the invoice after it was finalized.
    public var lateEventCount: UInt64 = 0
    /// The first ``limit`` of them, in log order: (seq, transaction id).
    public var firstLateEvents: [(seq: UInt64, transactionID: String)] = []
    /// Catalog versions that rebuilt the invoice after it was finalized, in order.
    public var catalogVersions: [UInt32] = []

    public init() {}

    public var firstLateTransactionIDs: [String] { firstLateEvents.map(\.transactionID) }

    /// Adds late events (in log order, after every one already counted).
    package mutating func addLateEvents(_ events: some Collection<(UInt64, String)>) {
        lateEventCount += UInt64(events.count)
        for (seq, tid) in events.prefix(Self.limit - firstLateEvents.count) {
            firstLateEvents.append((seq, tid))
        }
    }

    package mutating func addCatalogVersion(_ version: UInt32) {
        if !catalogVersions.contains(version) { catalogVersions.append(version) }
    }

    /// The invoice's summary, empty when nothing was recorded against it.
    package static func load(invoice: [UInt8], _ store: Store, _ txn: borrowing Transaction) throws -> CauseSummary {
        try txn.get(Keys.causeSummary(invoice: invoice), in: store.causes).map { try CauseSummary(decoding: $0) }
            ?? CauseSummary()
    }

    package func save(invoice: [UInt8], _ store: Store, _ txn: borrowing Transaction) throws {
        try txn.put(Keys.causeSummary(invoice: invoice), encoded(), in: store.causes)
    }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + firstLateEvents.count * 24 + catalogVersions.count * 3)
        w.uvarint(UInt64(1))
        w.uvarint(lateEventCount)
        w.uvarint(firstLateEvents.count)
        for (seq, tid) in firstLateEvents {
            w.uvarint(seq)
            w.string(tid)
        }
        w.uvarint(catalogVersions.count)
        for v in catalogVersions { w.uvarint(UInt64(v)) }
        return w.bytes
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        let version = try r.uvarint()
        guard version == 1 else { throw StoreCorruption("unknown cause summary version \(version)") }
        lateEventCount = try r.uvarint()
        let n = try r.count()
        guard n <= Self.limit, UInt64(n) <= lateEventCount else {
            throw StoreCorruption("cause summary lists \(n) of \(lateEventCount) late events")
        }
        for _ in 0..<n { firstLateEvents.append((try r.uvarint(), try r.string())) }
        for _ in 0..<(try r.count()) {
            let v = try r.uvarint()
            guard let version = UInt32(exactly: v) else { throw StoreCorruption("catalog version out of range") }
            catalogVersions.append(version)
        }
        guard r.isAtEnd else { throw StoreCorruption("cause summary has trailing bytes") }
    }
}
