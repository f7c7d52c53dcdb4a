import DaybookCore
import DaybookStore
import LMDB

/// The events of one prepared batch that the writer accepted, gathered per interned cell and
/// customer day while the batch is admitted, slice by slice, then applied at once: one `by_day`
/// entry per customer day and one contribution per (line item, day) cell, whatever the number of
/// events.
///
/// Every aggregation stays exact: sums and counts add up, `max` keeps the largest value, and
/// `unique_count` keeps each cell's distinct values (in first-seen order), each looked up once.
struct AcceptedEvents {
    /// The batch's customer days and cells, numbered as the slices are taken.
    private var tables = BillingTables()
    private var billing: BatchBilling {
        _read { yield tables.billing }
    }
    /// Per cell: the sum, count or maximum of its accepted contributions.
    private var totals: [FixedDecimal] = []
    private var touched: [Bool] = []
    /// Per `unique_count` cell: its distinct values, in the order first accepted.
    private var distinct: [Int32: (values: [String], seen: Set<String>)] = [:]
    /// Per customer day: the seqs of its accepted events, ascending.
    private var seqs: [[UInt64]] = []
    /// Accepted events whose type the day's contract bills (late events if the invoice is final).
    private var billed: [(seq: UInt64, chunk: Int32, event: Int32, customerDay: Int32)] = []
    private var lastDay: Day?

    /// Numbers the customer days and cells of the batch's next slice in the batch's tables (the
    /// maps are stored in the slice), before any of its events is added.
    mutating func take(_ chunk: inout PreparedChunk) {
        tables.take(&chunk)
        let cells = tables.billing.cells.count
        totals += repeatElement(.zero, count: cells - totals.count)
        touched += repeatElement(false, count: cells - touched.count)
        seqs += repeatElement([], count: tables.billing.customerDays.count - seqs.count)
    }

    /// Counts valid event `v` of `chunk` (the batch's chunk `number`), accepted and logged as `seq`.
    mutating func add(_ v: Int, of chunk: PreparedChunk, number: Int, seq: UInt64) {
        let customerDay = chunk.customerDays[Int(chunk.eventCustomerDays[v])]
        let cd = Int(customerDay)
        seqs[cd].append(seq)
        let day = billing.customerDays[cd].day
        if lastDay.map({ day > $0 }) ?? true { lastDay = day }
        if chunk.billsType[v] { billed.append((seq, Int32(number), Int32(v), customerDay)) }
        for i in chunk.contributions(of: v) {
            let (local, value) = chunk.billing.contributions[i]
            let cell = chunk.cells[Int(local)]
            let c = Int(cell)
            switch value {
            case .one:
                totals[c] = totals[c] + FixedDecimal(1)
            case .value(let v):
                if billing.aggregations[c] == .max {
                    if !touched[c] || v > totals[c] { totals[c] = v }
                } else {
                    totals[c] = totals[c] + v
                }
            case .distinct(let v):
                // In place: a copy taken out of the dictionary would copy the set at every insert.
                if distinct[cell, default: ([], [])].seen.insert(v).inserted { distinct[cell]!.values.append(v) }
            }
            touched[c] = true
        }
    }

    /// Writes the `by_day` entries and applies the aggregated contributions to the working set
    /// (materializing invoices and advancing the horizon as the events one by one would).
    func apply(
        to ws: WorkingSet, _ engine: Engine, _ state: inout EngineState, _ txn: borrowing Transaction,
        chunks: [PreparedChunk]
    ) throws {
        let store = ws.store
        if let h = state.horizon, let lastDay, lastDay > h { try engine.advanceHorizon(ws, &state, to: lastDay, txn) }
        var entries: [InvoiceEntry?] = Array(repeating: nil, count: seqs.count)
        for (cd, list) in seqs.enumerated() where !list.isEmpty {
            let d = billing.customerDays[cd]
            try txn.put(
                Keys.customerDay(d.customer, day: d.day, seq: list[0]), Keys.daySeqsValue(list), in: store.byDay)
            if let contract = d.contract { entries[cd] = try ws.invoice(of: contract, on: d.day, txn) }
        }
        for billed in billed {
            try ws.noteLateEvent(
                entries[Int(billed.customerDay)]!, seq: billed.seq,
                transactionID: String(decoding: chunks[Int(billed.chunk)].ids[Int(billed.event)], as: UTF8.self), txn)
        }
        for (c, cell) in billing.cells.enumerated() where touched[c] {
            let entry = entries[Int(cell.customerDay)]!
            let day = billing.customerDays[Int(cell.customerDay)].day
            let aggregation = billing.aggregations[c]
            if let d = distinct[Int32(c)] {
                for v in d.values {
                    try ws.add(
                        .distinct(v), product: cell.product, group: cell.group, aggregation: aggregation, day: day,
                        to: entry, txn)
                }
            } else {
                try ws.add(
                    .value(totals[c]), product: cell.product, group: cell.group, aggregation: aggregation, day: day,
                    to: entry, txn)
            }
        }
    }
}
