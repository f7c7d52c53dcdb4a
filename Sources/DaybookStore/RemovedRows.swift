import DaybookCore

/// A range of export rows that a catalog change made vanish (a tombstone in `removed_rows`):
/// the rows of one invoice, one line item of an invoice, or one balance, for the days
/// `from ..< to`. An incremental export lists those of them that are not present again.
package struct RemovedRows: Sendable, Hashable {
    package enum Table: UInt64, Sendable, Hashable {
        case invoices = 1, lineItems = 2, balances = 3
    }

    package var table: Table
    /// The invoice id (`invoices`, `line_items`) or the balance id (`balances`).
    package var rowID: String
    /// The invoice's contract and period start (empty and unused for `balances`).
    package var contractID: String
    package var start: Day
    /// The line item (`line_items` only).
    package var lineItemID: String
    package var from: Day
    package var to: Day

    package init(
        table: Table, rowID: String, contractID: String = "", start: Day = Day(number: 0), lineItemID: String = "",
        from: Day, to: Day
    ) {
        self.table = table
        self.rowID = rowID
        self.contractID = contractID
        self.start = start
        self.lineItemID = lineItemID
        self.from = from
        self.to = to
    }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + rowID.utf8.count + lineItemID.utf8.count)
        w.uvarint(1 as UInt64)  // record version
        w.uvarint(table.rawValue)
        w.string(rowID)
        w.string(contractID)
        w.day(start)
        w.string(lineItemID)
        w.day(from)
        w.day(to)
        return w.bytes
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        guard try r.uvarint() == 1 else { throw StoreCorruption("removed_rows: unknown record version") }
        guard let table = Table(rawValue: try r.uvarint()) else { throw StoreCorruption("removed_rows: unknown table") }
        self.table = table
        rowID = try r.string()
        contractID = try r.string()
        start = try r.day()
        lineItemID = try r.string()
        from = try r.day()
        to = try r.day()
        guard r.isAtEnd else { throw StoreCorruption("removed_rows record has trailing bytes") }
    }
}
