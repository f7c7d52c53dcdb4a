import DaybookCore
import DaybookStore
import Dispatch

/// A batch going through the pure part of ingest (parse, validate, evaluate metrics, encode the
/// log record, intern the billing) on other cores, slice by slice, with the catalog version it is
/// evaluated against.
///
/// Each slice is its own work item, and the writer takes a slice as soon as it is ready
/// (``slice(_:)`` waits for it): it starts on the batch's first slice while the others are still
/// being prepared, instead of after the last (issue 12). Slices are queued in order, so the
/// first ones are ready first.
///
/// Billing is interned per slice: every (customer, day) and every (customer, day, product, group)
/// cell a slice's events contribute to is numbered once, and each record refers to them by
/// number. The writer numbers them again in the batch's tables as it takes each slice, sums the
/// contributions of the records it accepts per cell, and applies one aggregated contribution per
/// cell (``AcceptedEvents``), instead of one per event.
final class PreparedBatch: Sendable {
    let batch: IngestBatch
    let planVersion: UInt32
    private let slices: [Completion<PreparedChunk>]

    /// Starts preparing `batch` against `plan`; `prepared` is called (on a preparing thread) as each
    /// slice becomes ready.
    init(_ batch: IngestBatch, plan: PricingPlan, prepared: @escaping @Sendable () -> Void = {}) {
        self.batch = batch
        planVersion = plan.version
        let records = batch.records
        let count = records.count < 2_048 ? 1 : Self.slicesPerBatch
        let slices = (0..<count).map { _ in Completion<PreparedChunk>() }
        self.slices = slices
        let (source, now) = (batch.source, batch.now)
        for (c, slot) in slices.enumerated() {
            DispatchQueue.global().async {
                let range = (records.count * c / count)..<(records.count * (c + 1) / count)
                slot.fulfil(.success(PreparedChunk(records[range], source: source, now: now, plan: plan)))
                prepared()
            }
        }
    }

    /// Slices of a batch of 2,048 records or more: enough that the writer soon has a first one,
    /// few enough that numbering each slice's cells again stays small.
    static let slicesPerBatch = 8

    var sliceCount: Int { slices.count }

    /// Slice `c`, waiting until it is prepared.
    func slice(_ c: Int) throws -> PreparedChunk { try slices[c].wait() }

    /// Whether the writer can start on the batch: its first slice is prepared.
    var isStarted: Bool { slices[0].isFulfilled }

    /// Whether every slice is prepared.
    var isPrepared: Bool { slices.allSatisfy(\.isFulfilled) }
}

/// Item `i`'s range in a list laid end to end, given where each item ends: it starts where item
/// `i - 1` ends.
func span(_ i: Int, ends: [some BinaryInteger]) -> Range<Int> { (i == 0 ? 0 : Int(ends[i - 1]))..<Int(ends[i]) }

/// Byte strings of one slice laid end to end in one buffer (ids, log records): no array per
/// record, and the writer reads each as a slice of the buffer.
struct ByteColumn: Sendable {
    /// The strings, end to end (append a string's bytes, then ``endString()``).
    var bytes: [UInt8] = []
    /// Where each string ends in `bytes`.
    private var ends: [Int] = []

    var count: Int { ends.count }

    subscript(i: Int) -> ArraySlice<UInt8> { bytes[span(i, ends: ends)] }

    mutating func reserve(strings: Int, bytes: Int) {
        ends.reserveCapacity(strings)
        self.bytes.reserveCapacity(bytes)
    }

    mutating func append(_ string: some Collection<UInt8>) {
        bytes.append(contentsOf: string)
        ends.append(bytes.count)
    }

    /// Ends the string written straight into ``bytes`` since the last one ended.
    mutating func endString() { ends.append(bytes.count) }
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
///
/// The valid events are stored column by column, not as an object each: the writer walks them by
/// index, with no allocation per event here and no reference counting per event there (issue 12).
struct PreparedChunk: Sendable {
    /// Per record of the slice, in input order: the index of its valid event in the columns
    /// below, or `-1 - i` for `invalids[i]`.
    var order: [Int32] = []
    var invalids: [InvalidEvent] = []
    /// Per valid event: the id's UTF-8 bytes (the key of the `transactions` index).
    var ids = ByteColumn()
    /// Per valid event: its encoded log entry.
    var logRecords = ByteColumn()
    /// Per valid event: its time (for lateness).
    var timestamps: [Timestamp] = []
    /// Per valid event: the index of its customer day in this slice (``customerDays`` maps it to the batch's).
    var eventCustomerDays: [Int32] = []
    /// Per valid event: whether the day's contract bills the event's type. Such an event, billed to
    /// a finalized invoice, is a late event (a cause of drift), even when no metric matched it.
    var billsType: [Bool] = []
    /// Per valid event: where its contributions end in `billing.contributions` (they start where
    /// the previous event's end).
    var contributionEnds: [Int32] = []
    /// Per valid event: where its metric rejections end in `rejections`.
    var rejectionEnds: [Int32] = []
    /// (metric id, why) for each metric of an event's type that rejected its value.
    var rejections: [(metric: String, why: ValueRejection)] = []

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

    /// The contributions of valid event `v` in `billing.contributions`.
    func contributions(of v: Int) -> Range<Int> { span(v, ends: contributionEnds) }

    /// The metric rejections of valid event `v`.
    func rejections(of v: Int) -> ArraySlice<(metric: String, why: ValueRejection)> {
        rejections[span(v, ends: rejectionEnds)]
    }

    init(_ slice: ArraySlice<IngestRecord>, source: String, now: Timestamp, plan: PricingPlan) {
        order.reserveCapacity(slice.count)
        timestamps.reserveCapacity(slice.count)
        eventCustomerDays.reserveCapacity(slice.count)
        billsType.reserveCapacity(slice.count)
        contributionEnds.reserveCapacity(slice.count)
        rejectionEnds.reserveCapacity(slice.count)
        let bytes = slice.reduce(0) { $0 + $1.bytes.count }
        ids.reserve(strings: slice.count, bytes: slice.count * 24)
        logRecords.reserve(strings: slice.count, bytes: bytes + slice.count * (source.utf8.count + 24))
        var scratch = FastScratch()  // the scanner's lists, reused for every record of the slice
        for record in slice {
            if record.length > record.bytes.count {
                // A line longer than the reader keeps: only its start is here (and in the dead letter).
                var invalid = UsageEvent.tooLarge(record.length)
                invalid.message +=
                    "; the dead letter keeps its first \(record.bytes.count) bytes, the whole record is at \(record.position) of the source"
                addInvalid(invalid)
                continue
            }
            // The usual shape is read in place; anything else goes through the full parser.
            let fast: Bool? = UsageEvent.withFastEvent(record.bytes, scratch: &scratch) { event in
                let metrics = metrics(of: event.eventType, plan)
                outcomes.removeAll(keepingCapacity: true)
                if let metrics {
                    for m in metrics.indices { outcomes.append(metrics[m].evaluate(event)) }
                }
                event.appendTransactionID(to: &ids.bytes)
                ids.endString()
                bill(
                    customer: event.customerID, eventType: event.eventType, timestamp: event.timestamp,
                    metrics: metrics, outcomes: metrics == nil ? nil : outcomes, plan: plan)
                return true
            }
            if fast == nil {
                switch UsageEvent.parse(record.bytes[...]) {
                case .failure(let invalid):
                    addInvalid(invalid)
                    continue
                case .success(let event):
                    let metrics = metrics(of: event.eventType, plan)
                    ids.append(event.transactionID.utf8)
                    bill(
                        customer: event.customerID, eventType: event.eventType, timestamp: event.timestamp,
                        metrics: metrics, outcomes: metrics?.map { $0.evaluate(event) }, plan: plan)
                }
            }
            LoggedEvent.encode(
                ingestTime: now, source: source, position: record.position, raw: record.bytes, into: &logRecords.bytes)
            logRecords.endString()
        }
    }

    private mutating func addInvalid(_ invalid: InvalidEvent) {
        order.append(-1 - Int32(invalids.count))
        invalids.append(invalid)
    }

    /// Adds a valid event (its id already in `ids`; the caller adds its log record). `outcomes`:
    /// the event evaluated against `metrics`, its type's metrics (nil: none).
    private mutating func bill(
        customer: String, eventType: String, timestamp: Timestamp, metrics: [Metric]?,
        outcomes: [MetricOutcome]?, plan: PricingPlan
    ) {
        let day = timestamp.day
        let cd = internCustomerDay(customer, day, plan)
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
        order.append(Int32(timestamps.count))
        timestamps.append(timestamp)
        eventCustomerDays.append(cd)
        self.billsType.append(billsType)
        contributionEnds.append(Int32(billing.contributions.count))
        rejectionEnds.append(Int32(rejections.count))
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
