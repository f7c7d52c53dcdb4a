import DaybookCore

/// How one line item of a finalized invoice differs from its snapshot (SPEC §4).
public struct DriftRecord: Sendable, Hashable {
    public var invoiceID: String
    public var customerID: String
    public var lineItemID: String
    public var finalized: Totals
    /// What was billed: the snapshot plus the corrections issued for the line item (equal to
    /// ``finalized`` until one is issued). Drift is measured against it.
    public var billed: Totals
    public var current: Totals
    public var firstDetectedSeq: UInt64
    public var firstDetectedAt: Timestamp
    public var lastChangedSeq: UInt64
    public var lastChangedAt: Timestamp
    /// How many events were billed to the invoice after it was finalized (up to the resolution,
    /// for history).
    public var lateEventCount: UInt64
    /// The first ``CauseSummary/limit`` of those events, in log order.
    public var lateTransactionIDs: [String]
    /// For drift in credits and commits only: earlier invoices of the contract whose late events
    /// moved the shared balances.
    public var viaInvoices: [String]
    /// Catalog versions that rebuilt the invoice after it was finalized.
    public var catalogVersions: [UInt32]
    /// When the live values returned to the snapshot (history only).
    public var resolvedSeq: UInt64?
    public var resolvedAt: Timestamp?

    /// Against what was billed (SPEC §4 "Corrections").
    public var deltaTotal: FixedDecimal { current.total - billed.total }

    /// The encoding version: 2 keeps the causes of resolved records (as of their resolution); 3
    /// adds what was billed after the current values (version 2 records read it as the snapshot's).
    static let version: UInt64 = 3

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 160 + (resolvedSeq == nil ? 0 : lateTransactionIDs.count * 16))
        w.uvarint(Self.version)
        for s in [invoiceID, customerID, lineItemID] { w.string(s) }
        for t in [finalized, current, billed] {
            w.decimal(t.quantity); w.decimal(t.subtotal); w.decimal(t.credits); w.decimal(t.commits)
        }
        w.uvarint(firstDetectedSeq); w.timestamp(firstDetectedAt)
        w.uvarint(lastChangedSeq); w.timestamp(lastChangedAt)
        w.uvarint(viaInvoices.count); for s in viaInvoices { w.string(s) }
        w.bool(resolvedSeq != nil)
        if let resolvedSeq, let resolvedAt {
            w.uvarint(resolvedSeq); w.timestamp(resolvedAt)
            // An open record takes its causes from the invoice's ``CauseSummary`` when reported; a
            // resolved one keeps them as they were at its resolution (at most `limit` ids).
            w.uvarint(lateEventCount)
            w.uvarint(lateTransactionIDs.count); for s in lateTransactionIDs { w.string(s) }
            w.uvarint(catalogVersions.count); for v in catalogVersions { w.uvarint(UInt64(v)) }
        }
        return w.bytes
    }

    package init(
        invoiceID: String, customerID: String, lineItemID: String, finalized: Totals, billed: Totals? = nil,
        current: Totals, firstDetectedSeq: UInt64, firstDetectedAt: Timestamp
    ) {
        self.billed = billed ?? finalized
        self.invoiceID = invoiceID
        self.customerID = customerID
        self.lineItemID = lineItemID
        self.finalized = finalized
        self.current = current
        self.firstDetectedSeq = firstDetectedSeq
        self.firstDetectedAt = firstDetectedAt
        lastChangedSeq = firstDetectedSeq
        lastChangedAt = firstDetectedAt
        lateEventCount = 0
        lateTransactionIDs = []
        viaInvoices = []
        catalogVersions = []
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        let version = try r.uvarint()
        guard version == 2 || version == Self.version else { throw StoreCorruption("unknown drift record version \(version)") }
        invoiceID = try r.string()
        customerID = try r.string()
        lineItemID = try r.string()
        func totals(_ r: inout ByteReader) throws(StoreCorruption) -> Totals {
            var t = Totals()
            t.quantity = try r.decimal(); t.subtotal = try r.decimal(); t.credits = try r.decimal();
            t.commits = try r.decimal()
            return t
        }
        finalized = try totals(&r)
        current = try totals(&r)
        billed = version == 2 ? finalized : try totals(&r)
        firstDetectedSeq = try r.uvarint(); firstDetectedAt = try r.timestamp()
        lastChangedSeq = try r.uvarint(); lastChangedAt = try r.timestamp()
        lateEventCount = 0
        lateTransactionIDs = []
        catalogVersions = []
        viaInvoices = []
        for _ in 0..<(try r.count()) { viaInvoices.append(try r.string()) }
        if try r.bool() {
            resolvedSeq = try r.uvarint(); resolvedAt = try r.timestamp()
            lateEventCount = try r.uvarint()
            let n = try r.count()
            guard n <= CauseSummary.limit, UInt64(n) <= lateEventCount else {
                throw StoreCorruption("drift record lists \(n) of \(lateEventCount) late events")
            }
            for _ in 0..<n { lateTransactionIDs.append(try r.string()) }
            for _ in 0..<(try r.count()) {
                guard let v = UInt32(exactly: try r.uvarint()) else {
                    throw StoreCorruption("catalog version out of range")
                }
                catalogVersions.append(v)
            }
        }
        guard r.isAtEnd else { throw StoreCorruption("drift record has trailing bytes") }
    }
}
