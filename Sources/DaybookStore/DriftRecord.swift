import DaybookCore

/// How one line item of a finalized invoice differs from its snapshot (SPEC §4).
public struct DriftRecord: Sendable, Hashable {
    public var invoiceID: String
    public var customerID: String
    public var lineItemID: String
    public var finalized: Totals
    public var current: Totals
    public var firstDetectedSeq: UInt64
    public var firstDetectedAt: Timestamp
    public var lastChangedSeq: UInt64
    public var lastChangedAt: Timestamp
    /// Events billed to the invoice after it was finalized (up to the resolution, for history).
    public var lateTransactionIDs: [String]
    /// For drift in credits and commits only: earlier invoices of the contract whose late events
    /// moved the shared balances.
    public var viaInvoices: [String]
    /// Catalog versions that rebuilt the invoice after it was finalized.
    public var catalogVersions: [UInt32]
    /// When the live values returned to the snapshot (history only).
    public var resolvedSeq: UInt64?
    public var resolvedAt: Timestamp?

    public var deltaTotal: FixedDecimal { current.total - finalized.total }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 160 + lateTransactionIDs.count * 16)
        w.uvarint(UInt64(1))
        for s in [invoiceID, customerID, lineItemID] { w.string(s) }
        for t in [finalized, current] {
            w.decimal(t.quantity); w.decimal(t.subtotal); w.decimal(t.credits); w.decimal(t.commits)
        }
        w.uvarint(firstDetectedSeq); w.timestamp(firstDetectedAt)
        w.uvarint(lastChangedSeq); w.timestamp(lastChangedAt)
        // Late events and catalog versions live in the `causes` index only (they are read when
        // reporting), so updating a record never copies a list that grows with the log.
        w.uvarint(viaInvoices.count); for s in viaInvoices { w.string(s) }
        w.bool(resolvedSeq != nil)
        if let resolvedSeq, let resolvedAt { w.uvarint(resolvedSeq); w.timestamp(resolvedAt) }
        return w.bytes
    }

    package init(
        invoiceID: String, customerID: String, lineItemID: String, finalized: Totals, current: Totals,
        firstDetectedSeq: UInt64, firstDetectedAt: Timestamp
    ) {
        self.invoiceID = invoiceID
        self.customerID = customerID
        self.lineItemID = lineItemID
        self.finalized = finalized
        self.current = current
        self.firstDetectedSeq = firstDetectedSeq
        self.firstDetectedAt = firstDetectedAt
        lastChangedSeq = firstDetectedSeq
        lastChangedAt = firstDetectedAt
        lateTransactionIDs = []
        viaInvoices = []
        catalogVersions = []
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        guard try r.uvarint() == 1 else { throw StoreCorruption("unknown drift record version") }
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
        firstDetectedSeq = try r.uvarint(); firstDetectedAt = try r.timestamp()
        lastChangedSeq = try r.uvarint(); lastChangedAt = try r.timestamp()
        lateTransactionIDs = []
        catalogVersions = []
        viaInvoices = []
        for _ in 0..<(try r.int()) { viaInvoices.append(try r.string()) }
        if try r.bool() { resolvedSeq = try r.uvarint(); resolvedAt = try r.timestamp() }
    }
}
