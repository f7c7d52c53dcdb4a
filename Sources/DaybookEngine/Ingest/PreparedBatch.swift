import DaybookCore
import DaybookStore
import Dispatch
import Synchronization

/// A batch after the pure part of ingest, with the catalog version it was evaluated against.
///
/// Billing is interned per batch: every (customer, day) and every (customer, day, product, group)
/// cell the batch's events contribute to is numbered once, and each record refers to them by
/// number. The writer thread then sums the contributions of the records it accepts per cell and
/// applies one aggregated contribution per cell (issue 12), instead of one per event.
struct PreparedBatch: Sendable {
    var batch: IngestBatch
    /// The records in input order, in the slices they were prepared in (never copied into one array).
    var chunks: [PreparedChunk]
    var planVersion: UInt32
    /// The batch's customer days and cells; each chunk maps its own numbers to these.
    var billing: BatchBilling
}

/// A record after the pure part of ingest: invalid, or a valid event ready for the writer.
enum PreparedRecord: Sendable {
    case invalid(InvalidEvent)
    case valid(ValidRecord)
}

/// What the writer needs of a valid event: its id, its time (for lateness), its encoded log
/// entry, where it bills (interned in the batch's ``BatchBilling``) and its metric rejections.
/// The event's properties are gone: they were evaluated in the parallel phase.
/// A class: the writer reads each record once, and a struct of strings and arrays would be
/// retained and released field by field at every copy out of its batch.
final class ValidRecord: Sendable {
    /// The id's UTF-8 bytes: the key of the `transactions` index.
    let idKey: [UInt8]
    /// The id as text, for record results and late events (the exact inverse of `idKey`).
    var transactionID: String { String(decoding: idKey, as: UTF8.self) }
    let timestamp: Timestamp
    /// Index into the chunk's customer days (``PreparedChunk/customerDays`` maps it to the batch's).
    let customerDay: Int32
    /// Whether the day's contract bills the event's type: such an event, billed to a finalized
    /// invoice, is a late event (a cause of drift), even when no metric matched it.
    let billsType: Bool
    /// The record's contributions: `chunk.billing.contributions[contributions]`.
    let contributions: Range<Int32>
    /// (metric id, why) for each metric of the event's type that rejected its value.
    let rejections: [(metric: String, why: ValueRejection)]
    let logRecord: [UInt8]

    init(
        idKey: [UInt8], timestamp: Timestamp, customerDay: Int32, billsType: Bool,
        contributions: Range<Int32>, rejections: [(metric: String, why: ValueRejection)], logRecord: [UInt8]
    ) {
        self.idKey = idKey
        self.timestamp = timestamp
        self.customerDay = customerDay
        self.billsType = billsType
        self.contributions = contributions
        self.rejections = rejections
        self.logRecord = logRecord
    }
}

/// The interned billing of one batch.
struct BatchBilling: Sendable {
    struct CustomerDay: Sendable {
        var customer: String
        var day: Day
        /// The contract covering the day (nil: the event is logged but not billed).
        var contract: ContractPlan?
    }
    /// One (customer day, product, group): a line item's day.
    struct Cell: Sendable, Hashable {
        var customerDay: Int32
        var product: String
        var group: String
    }
    var customerDays: [CustomerDay] = []
    var cells: [Cell] = []
    var aggregations: [Aggregation] = []
    var contributions: [(cell: Int32, value: MetricContribution)] = []
}

extension Engine {
    /// The pure part of ingest, on every core: parse, validate, evaluate metrics, encode the log
    /// record, intern the billing. The result remembers the catalog version it was evaluated with.
    static func prepare(_ batch: IngestBatch, plan: PricingPlan) -> PreparedBatch {
        let records = batch.records
        let chunkCount = records.count < 2_048 ? 1 : 8
        let results = Mutex<[PreparedChunk?]>(Array(repeating: nil, count: chunkCount))
        let (source, now) = (batch.source, batch.now)
        @Sendable func chunk(_ c: Int) -> PreparedChunk {
            let range = (records.count * c / chunkCount)..<(records.count * (c + 1) / chunkCount)
            return PreparedChunk(records[range], source: source, now: now, plan: plan)
        }
        var chunks: [PreparedChunk]
        if chunkCount == 1 {
            chunks = [chunk(0)]
        } else {
            DispatchQueue.concurrentPerform(iterations: chunkCount) { c in
                let prepared = chunk(c)
                results.withLock { $0[c] = prepared }
            }
            chunks = results.withLock { $0.map { $0! } }
        }
        var billing = BillingTables()
        for c in chunks.indices { billing.take(&chunks[c]) }
        return PreparedBatch(batch: batch, chunks: chunks, planVersion: plan.version, billing: billing.billing)
    }
}

/// Numbering tables: each customer day and each cell gets the next number the first time it is seen.
struct BillingTables {
    var billing = BatchBilling()
    private var customerDayIndex: [CustomerDayKey: Int32] = [:]
    private var cellIndex: [BatchBilling.Cell: Int32] = [:]

    struct CustomerDayKey: Hashable {
        var customer: String
        var day: Day
    }

    mutating func customerDay(_ customer: String, _ day: Day, contract: () -> ContractPlan?) -> Int32 {
        let key = CustomerDayKey(customer: customer, day: day)
        if let i = customerDayIndex[key] { return i }
        let i = Int32(billing.customerDays.count)
        billing.customerDays.append(.init(customer: customer, day: day, contract: contract()))
        customerDayIndex[key] = i
        return i
    }

    mutating func cell(_ cell: BatchBilling.Cell, _ aggregation: Aggregation) -> Int32 {
        if let i = cellIndex[cell] { return i }
        let i = Int32(billing.cells.count)
        billing.cells.append(cell)
        billing.aggregations.append(aggregation)
        cellIndex[cell] = i
        return i
    }

    /// Numbers the chunk's customer days and cells in these (the batch's) tables and stores the
    /// maps in the chunk.
    mutating func take(_ chunk: inout PreparedChunk) {
        chunk.customerDays = chunk.billing.customerDays.map { d in customerDay(d.customer, d.day) { d.contract } }
        chunk.cells = zip(chunk.billing.cells, chunk.billing.aggregations).map { c, aggregation in
            var cell = c
            cell.customerDay = chunk.customerDays[Int(c.customerDay)]
            return self.cell(cell, aggregation)
        }
    }
}

/// Records of one slice of a batch, prepared on one core with their own interning tables
/// (merged into the batch's afterwards).
struct PreparedChunk: Sendable {
    var records: [PreparedRecord] = []
    /// This slice's own customer days, cells and contributions (numbered in the slice).
    var billing: BatchBilling {
        // Borrowed, not copied: a getter would retain and release its four arrays at every read
        // (the writer reads a contribution through it per accepted event).
        _read { yield tables.billing }
        _modify { yield &tables.billing }
    }
    private var tables = BillingTables()
    /// The batch's number of each of this slice's customer days and cells.
    var customerDays: [Int32] = []
    var cells: [Int32] = []
    private var lastCustomerDay: (customer: String, day: Day, index: Int32)?
    /// The first event types seen in this slice and their metrics: a batch has a handful of types,
    /// and comparing short strings is cheaper than hashing one per event.
    private var metricsByType: [(eventType: String, metrics: [Metric]?)] = []
    /// The current event's outcomes, one per metric of its type (reused: no array per event).
    private var outcomes: [MetricOutcome] = []

    init(_ slice: ArraySlice<IngestRecord>, source: String, now: Timestamp, plan: PricingPlan) {
        records.reserveCapacity(slice.count)
        var scratch = FastScratch()  // the scanner's lists, reused for every record of the slice
        for record in slice {
            if record.length > record.bytes.count {
                // A line longer than the reader keeps: only its start is here (and in the dead letter).
                var invalid = UsageEvent.tooLarge(record.length)
                invalid.message +=
                    "; the dead letter keeps its first \(record.bytes.count) bytes, the whole record is at \(record.position) of the source"
                records.append(.invalid(invalid))
                continue
            }
            let logRecord = LoggedEvent(
                seq: 0, ingestTime: now, source: source, position: record.position, raw: record.bytes
            ).encoded()
            // The usual shape is read in place; anything else goes through the full parser.
            let fast: ValidRecord? = UsageEvent.withFastEvent(record.bytes, scratch: &scratch) { event in
                let metrics = metrics(of: event.eventType, plan)
                outcomes.removeAll(keepingCapacity: true)
                if let metrics {
                    for m in metrics.indices { outcomes.append(metrics[m].evaluate(event)) }
                }
                return bill(
                    transactionID: event.transactionID, customer: event.customerID, eventType: event.eventType,
                    timestamp: event.timestamp, metrics: metrics, outcomes: metrics == nil ? nil : outcomes,
                    plan: plan, logRecord: logRecord)
            }
            if let fast {
                records.append(.valid(fast))
                continue
            }
            switch UsageEvent.parse(record.bytes[...]) {
            case .failure(let invalid): records.append(.invalid(invalid))
            case .success(let event):
                let metrics = metrics(of: event.eventType, plan)
                records.append(
                    .valid(
                        bill(
                            transactionID: event.transactionID, customer: event.customerID,
                            eventType: event.eventType, timestamp: event.timestamp, metrics: metrics,
                            outcomes: metrics?.map { $0.evaluate(event) }, plan: plan, logRecord: logRecord)))
            }
        }
    }

    /// `outcomes`: the event evaluated against `metrics`, its type's metrics (nil: none).
    private mutating func bill(
        transactionID: String, customer: String, eventType: String, timestamp: Timestamp, metrics: [Metric]?,
        outcomes: [MetricOutcome]?, plan: PricingPlan, logRecord: [UInt8]
    ) -> ValidRecord {
        let day = timestamp.day
        let cd = internCustomerDay(customer, day, plan)
        let first = Int32(billing.contributions.count)
        var rejections: [(metric: String, why: ValueRejection)] = []
        var billsType = false
        if let metrics, let outcomes {
            for (i, outcome) in outcomes.enumerated() {
                if case .rejected(let why) = outcome { rejections.append((metrics[i].id, why)) }
            }
            if let contract = billing.customerDays[Int(cd)].contract,
                let rates = contract.usageByEventType[eventType]
            {
                billsType = true
                for rate in rates {
                    guard case .contributes(let contribution, let group) = outcomes[rate.metricIndex] else { continue }
                    let cell = internCell(
                        BatchBilling.Cell(customerDay: cd, product: rate.product.id, group: group),
                        rate.metric.aggregation)
                    billing.contributions.append((cell, contribution))
                }
            }
        }
        return ValidRecord(
            idKey: Array(transactionID.utf8), timestamp: timestamp,
            customerDay: cd, billsType: billsType, contributions: first..<Int32(billing.contributions.count),
            rejections: rejections,
            logRecord: logRecord)
    }

    private mutating func metrics(of eventType: String, _ plan: PricingPlan) -> [Metric]? {
        for i in metricsByType.indices where metricsByType[i].eventType == eventType { return metricsByType[i].metrics }
        let metrics = plan.metricsByEventType[eventType]
        // Bounded: input with thousands of types (unknown ones are dead-lettered) falls back to hashing.
        if metricsByType.count < 16 { metricsByType.append((eventType, metrics)) }
        return metrics
    }

    private mutating func internCustomerDay(_ customer: String, _ day: Day, _ plan: PricingPlan) -> Int32 {
        // Input comes in runs of one customer and day more often than not: no hashing then.
        if let last = lastCustomerDay, last.day == day, last.customer == customer { return last.index }
        let i = tables.customerDay(customer, day) { plan.contract(customer: customer, day: day) }
        lastCustomerDay = (customer, day, i)
        return i
    }

    private mutating func internCell(_ cell: BatchBilling.Cell, _ aggregation: Aggregation) -> Int32 {
        tables.cell(cell, aggregation)
    }
}
