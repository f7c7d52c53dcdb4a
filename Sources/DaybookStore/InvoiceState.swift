import DaybookCore

/// The materialized per-day breakdown of one invoice, stored as one record per invoice.
///
/// For each line item and day it keeps the day's raw aggregate contribution, the
/// period-to-date quantity `Q(d)`, the cumulative rounded amount `A(d)` and what credits and
/// commits covered; for each contract balance, the amount remaining after each day. Daily
/// quantity and subtotal are differences of the cumulative values (SPEC §3), so daily rows
/// always add up to the period totals.
package struct InvoiceState: Sendable, Equatable {
    package var contractID: String
    package var period: BillingPeriod
    /// Sorted by line-item id in UTF-8 byte order (the draw-down order of SPEC §3).
    package var lineItems: [LineItemState]
    /// `closing[day][balance]`: remaining amount after the day, balances in draw order.
    package var closing: [[FixedDecimal]]
    /// Log sequence of the last change to any value of this invoice.
    package var lastChangedSeq: UInt64
    /// Journal position of the last visible change of each export row of this invoice (its
    /// line items' rows are stamped in ``LineItemState/stamps``): what incremental exports select by.
    package var stamps: RowStamps
    /// What of the record this state holds: all of it, or the part a reader asked for (then it is
    /// for reading only and never written).
    package private(set) var parts = Parts.all

    /// What ``init(decoding:parts:)`` decodes; the other fields are left empty, their bytes skipped.
    package enum Parts: Sendable {
        /// Everything: the state a write starts from.
        case all
        /// The line items' `Q`, `A`, credits and commits, and the closings: no `daily`, no stamps.
        case amounts
        /// The line items' `Q` and `A` only: daily quantities and subtotals.
        case subtotals
    }

    package var dayCount: Int { period.dayCount }

    package init(
        contractID: String, period: BillingPeriod, lineItems: [LineItemState], closing: [[FixedDecimal]],
        lastChangedSeq: UInt64
    ) {
        self.contractID = contractID
        self.period = period
        self.lineItems = lineItems
        self.closing = closing
        self.lastChangedSeq = lastChangedSeq
        stamps = RowStamps(days: period.dayCount, balances: closing.first?.count ?? 0)
    }

    package func index(ofLineItem id: String) -> Int? {
        // Binary search over byte order.
        var lo = 0, hi = lineItems.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lineItems[mid].id == id { return mid }
            if lineItems[mid].id.utf8Precedes(id) { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    /// Inserts a line item in byte order and returns its index.
    package mutating func insert(_ item: LineItemState) -> Int {
        let at = lineItems.firstIndex { item.id.utf8Precedes($0.id) } ?? lineItems.count
        lineItems.insert(item, at: at)
        return at
    }
}

/// Journal positions (``JournalEntry/position``) at which export rows of an invoice last changed
/// their visible values (SPEC §5 `changed_seq`). 0: not stamped (a state never written).
package struct RowStamps: Sendable, Equatable {
    /// The invoice's entry in `changed_invoices`: the largest stamp, the position of the last
    /// write that changed any row of the invoice.
    package var last: UInt64 = 0
    /// `invoices` rows, per day.
    package var invoice: [UInt64]
    /// `balances` rows of the period's days: `[day][balance]`, balances in draw order as in `closing`.
    package var balances: [[UInt64]]
    /// Per balance: its rows of days before the contract starts (meaningful in the first period only).
    package var head: [UInt64]
    /// Per balance: its rows of days after the contract ends (meaningful in the last period only).
    package var tail: [UInt64]

    package init(days: Int, balances: Int) {
        invoice = Array(repeating: 0, count: days)
        self.balances = Array(repeating: Array(repeating: 0, count: balances), count: days)
        head = Array(repeating: 0, count: balances)
        tail = head
    }
}

/// One line item of an invoice, day by day.
package struct LineItemState: Sendable, Equatable {
    package var id: String
    package var productID: String
    /// The `{prop=value,…}` part of the id ("" when ungrouped).
    package var group: String
    /// The day's own contribution: sum of values, number of events, daily maximum, or number of
    /// distinct values first seen that day.
    package var daily: [FixedDecimal]
    /// Period-to-date quantity `Q(d)`.
    package var cumQuantity: [FixedDecimal]
    /// `A(d) = round(P(Q(d)))`.
    package var cumAmount: [FixedDecimal]
    package var credits: [FixedDecimal]
    package var commits: [FixedDecimal]
    /// Journal position of the last visible change of the `line_items` row of each day.
    package var stamps: [UInt64]

    package init(id: String, productID: String, group: String, days: Int) {
        self.id = id
        self.productID = productID
        self.group = group
        daily = Array(repeating: .zero, count: days)
        cumQuantity = daily
        cumAmount = daily
        credits = daily
        commits = daily
        stamps = Array(repeating: 0, count: days)
    }

    package func quantity(_ k: Int) -> FixedDecimal { cumQuantity[k] - (k > 0 ? cumQuantity[k - 1] : .zero) }
    package func subtotal(_ k: Int) -> FixedDecimal { cumAmount[k] - (k > 0 ? cumAmount[k - 1] : .zero) }
    package func total(_ k: Int) -> FixedDecimal { subtotal(k) - credits[k] - commits[k] }

    /// Whether the visible row of day `k` (quantity, subtotal, credits, commits) equals `other`'s.
    package func sameRow(_ k: Int, as other: LineItemState) -> Bool {
        quantity(k) == other.quantity(k) && subtotal(k) == other.subtotal(k)
            && credits[k] == other.credits[k] && commits[k] == other.commits[k]
    }

    /// Period totals: quantity, subtotal, credits, commits, total.
    package var periodTotals: Totals {
        var t = Totals()
        guard let last = cumQuantity.indices.last else { return t }
        t.quantity = cumQuantity[last]
        t.subtotal = cumAmount[last]
        for k in credits.indices { t.credits = t.credits + credits[k]; t.commits = t.commits + commits[k] }
        return t
    }
}

/// Quantity and money totals of a line item or invoice.
public struct Totals: Sendable, Hashable {
    public var quantity = FixedDecimal.zero
    public var subtotal = FixedDecimal.zero
    public var credits = FixedDecimal.zero
    public var commits = FixedDecimal.zero
    public var total: FixedDecimal { subtotal - credits - commits }
    public init() {}

    /// Component by component.
    public static func - (a: Totals, b: Totals) -> Totals {
        var t = a
        t.quantity = a.quantity - b.quantity
        t.subtotal = a.subtotal - b.subtotal
        t.credits = a.credits - b.credits
        t.commits = a.commits - b.commits
        return t
    }

    public static func + (a: Totals, b: Totals) -> Totals {
        var t = a
        t += b
        return t
    }

    public var isZero: Bool { self == Totals() }

    package static func += (a: inout Totals, b: Totals) {
        a.quantity = a.quantity + b.quantity
        a.subtotal = a.subtotal + b.subtotal
        a.credits = a.credits + b.credits
        a.commits = a.commits + b.commits
    }
}

// MARK: - Encoding

extension InvoiceState {
    /// 2: row stamps (``RowStamps``, ``LineItemState/stamps``) after the closings.
    package static let formatVersion: UInt64 = 2

    package func encoded() -> [UInt8] {
        precondition(parts == .all, "an invoice decoded for reading only is never written")
        var w = ByteWriter(capacity: 256 + lineItems.count * dayCount * 8)
        w.uvarint(Self.formatVersion)
        w.string(contractID)
        w.day(period.start)
        w.day(period.end)
        w.uvarint(lastChangedSeq)
        w.uvarint(lineItems.count)
        for item in lineItems {
            w.string(item.id)
            w.string(item.productID)
            w.string(item.group)
            for array in [item.daily, item.cumQuantity, item.cumAmount, item.credits, item.commits] {
                for v in array { w.decimal(v) }
            }
        }
        let balances = closing.first?.count ?? 0
        w.uvarint(balances)
        for day in closing { for v in day { w.decimal(v) } }
        w.uvarint(stamps.last)
        for p in stamps.invoice { w.uvarint(p) }
        for item in lineItems { for p in item.stamps { w.uvarint(p) } }
        for day in stamps.balances { for p in day { w.uvarint(p) } }
        for p in stamps.head { w.uvarint(p) }
        for p in stamps.tail { w.uvarint(p) }
        return w.bytes
    }

    /// The longest period a stored invoice may have (periods are monthly; a year is room enough).
    package static let maxDays = 366

    /// Decodes a stored invoice. Every count is bounded by the bytes left and the period by
    /// ``maxDays``, so a damaged record throws instead of allocating or indexing out of range.
    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        try self.init(decoding: bytes, parts: .all)
    }

    /// Decodes the `parts` of a stored invoice that a reader needs; the bytes of the others are
    /// stepped over, not decoded (`.amounts` is about half the work of a full decode). A state of
    /// fewer than `.all` parts is for reading only: ``encoded()`` refuses it.
    package init(decoding bytes: [UInt8], parts: Parts) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        guard try r.uvarint() == Self.formatVersion else { throw StoreCorruption("unknown invoice record version") }
        contractID = try r.string()
        let start = try r.day(), end = try r.day()
        let days = Int(end.number) - Int(start.number)
        guard (1...Self.maxDays).contains(days) else {
            throw StoreCorruption("invoice of \(contractID) has a period of \(days) days (\(start) to \(end))")
        }
        period = BillingPeriod(start: start, end: end)
        lastChangedSeq = try r.uvarint()
        // Each line item holds 3 strings and 5 × days decimals, at least one byte each.
        let n = try r.count()
        func array(_ r: inout ByteReader) throws(StoreCorruption) -> [FixedDecimal] {
            var a: [FixedDecimal] = []
            a.reserveCapacity(days)
            for _ in 0..<days { a.append(try r.decimal()) }
            return a
        }
        lineItems = []
        lineItems.reserveCapacity(n)
        for _ in 0..<n {
            var item = LineItemState(id: try r.string(), productID: try r.string(), group: try r.string(), days: 0)
            if parts == .all { item.daily = try array(&r) } else { try r.skipVarints(days) }
            item.cumQuantity = try array(&r)
            item.cumAmount = try array(&r)
            if parts == .subtotals {
                try r.skipVarints(2 * days)
            } else {
                item.credits = try array(&r)
                item.commits = try array(&r)
            }
            lineItems.append(item)
        }
        let balances = try r.count()
        closing = []
        self.parts = parts
        if parts == .subtotals {
            try r.skipVarints(balances * days)
            stamps = RowStamps(days: 0, balances: 0)
            return
        }
        closing.reserveCapacity(days)
        for _ in 0..<days {
            var day: [FixedDecimal] = []
            for _ in 0..<balances { day.append(try r.decimal()) }
            closing.append(day)
        }
        if parts == .amounts {
            stamps = RowStamps(days: 0, balances: 0)
            return
        }
        // Stamps: one uvarint (at least a byte) per row, in the order written; counts are the
        // period's days and balances read above, so nothing is allocated beyond what decodes.
        func positions(_ r: inout ByteReader, _ n: Int) throws(StoreCorruption) -> [UInt64] {
            var a: [UInt64] = []
            a.reserveCapacity(n)
            for _ in 0..<n { a.append(try r.uvarint()) }
            return a
        }
        stamps = RowStamps(days: 0, balances: 0)
        stamps.last = try r.uvarint()
        stamps.invoice = try positions(&r, days)
        for i in lineItems.indices { lineItems[i].stamps = try positions(&r, days) }
        stamps.balances = []
        stamps.balances.reserveCapacity(days)
        for _ in 0..<days { stamps.balances.append(try positions(&r, balances)) }
        stamps.head = try positions(&r, balances)
        stamps.tail = try positions(&r, balances)
        guard r.isAtEnd else { throw StoreCorruption("invoice record of \(contractID) has trailing bytes") }
    }
}
