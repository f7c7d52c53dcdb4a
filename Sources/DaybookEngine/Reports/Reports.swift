import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// A read verb's failure that the user can fix (unknown invoice id, no catalog yet, …).
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let rawValue: Int
        /// The named thing does not exist.
        public static let notFound = Code(rawValue: 1)
        /// The store has no catalog yet.
        public static let noCatalog = Code(rawValue: 2)
    }
    public var code: Code
    public var message: String
    public var description: String { message }
}

/// The period totals of one invoice (`daybook invoices`).
public struct InvoiceSummary: Sendable, Hashable {
    public var invoiceID: String
    public var customerID: String
    public var contractID: String
    public var period: BillingPeriod
    public var finalizedAt: Timestamp?
    public var totals: Totals
    public var lineItems: Int
}

extension InvoiceSummary {
    /// The summary of `state`, an invoice of `contract`: its period totals (no quantity: line items
    /// count different units) and, when it has a snapshot, when it was finalized.
    init(_ state: InvoiceState, of contract: Contract, _ store: Store, _ txn: borrowing Transaction) throws {
        var totals = Totals()
        for item in state.lineItems { totals += item.periodTotals }
        totals.quantity = .zero
        let key = Keys.invoice(contract: contract.id, start: state.period.start)
        let snapshot = try txn.get(key, in: store.snapshots).map { try Snapshot(decoding: $0) }
        self.init(
            invoiceID: contract.invoiceID(state.period), customerID: contract.customerID, contractID: contract.id,
            period: state.period, finalizedAt: snapshot?.finalizedAt, totals: totals, lineItems: state.lineItems.count)
    }
}

extension Engine {
    /// Every invoice that has begun by `now`, with its live period totals and status.
    public func invoices(now: Timestamp, customer: String? = nil) throws -> [InvoiceSummary] {
        try withLiveView(through: now.day) { txn, view in
            var result: [InvoiceSummary] = []
            for invoice in try loadInvoices(txn, view, customer: customer) {
                result.append(try InvoiceSummary(invoice.state, of: invoice.contract.contract, store, txn))
            }
            return result
        }
    }

    /// The invoices table for people and scripts.
    public func invoicesTable(now: Timestamp, customer: String? = nil) throws -> Table {
        let decimals = plan.currencyDecimals
        var table = Table(columns: [
            "invoice_id", "customer_id", "period_start", "period_end", "status", "finalized_at",
            "open_drift", "line_items", "subtotal", "credits_applied", "commits_applied", "total",
        ])
        var drifted: [String: Int] = [:]
        drifted = try openDriftCounts(customer: customer)
        for i in try invoices(now: now, customer: customer) {
            table.rows.append([
                i.invoiceID, i.customerID, "\(i.period.start)", "\(i.period.end)",
                i.finalizedAt == nil ? "draft" : "finalized", i.finalizedAt.map { "\($0)" } ?? "",
                drifted[i.invoiceID].map { "\($0) line items" } ?? "",
                "\(i.lineItems)", i.totals.subtotal.formatted(decimals: decimals),
                i.totals.credits.formatted(decimals: decimals), i.totals.commits.formatted(decimals: decimals),
                i.totals.total.formatted(decimals: decimals),
            ])
        }
        return table
    }

    /// One row per day × line item of an invoice, then one total row per day (line item `*`).
    public func breakdown(invoiceID: String, now: Timestamp) throws -> Table {
        let (contractID, start) = try Self.invoiceParts(invoiceID)
        return try withLiveView(through: max(now.day, start)) { txn, view in
            let decimals = view.plan.currencyDecimals
            func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
            guard let contract = view.plan.contracts[contractID],
                let state = try view.invoice(
                    Keys.invoice(contract: contract.contract.id, start: start), contract: contract, txn)
            else {
                throw EngineError(code: .notFound, message: "no invoice \"\(invoiceID)\" (see `daybook invoices`)")
            }
            var table = Table(columns: [
                "day", "line_item_id", "quantity", "unit_price", "subtotal", "credits_applied",
                "commits_applied", "total",
            ])
            for k in 0..<state.dayCount {
                let day = "\(state.period.start.adding(days: k))"
                var t = Totals()
                for item in state.lineItems {
                    let price =
                        contract.fixed[item.productID]?.fee
                        ?? contract.usage[item.productID]?.price.unitPrice(at: item.cumQuantity[k]) ?? .zero
                    table.rows.append([
                        day, item.id, item.quantity(k).canonical, price.canonical, money(item.subtotal(k)),
                        money(item.credits[k]), money(item.commits[k]), money(item.total(k)),
                    ])
                    t.subtotal = t.subtotal + item.subtotal(k)
                    t.credits = t.credits + item.credits[k]
                    t.commits = t.commits + item.commits[k]
                }
                table.rows.append([
                    day, "*", "", "", money(t.subtotal), money(t.credits), money(t.commits), money(t.total),
                ])
            }
            return table
        }
    }

    /// The contract id and period start of an invoice id `CONTRACT/YYYY-MM-DD`.
    ///
    /// - Throws: ``EngineError`` `.notFound` when the id is not of that form.
    static func invoiceParts(_ invoiceID: String) throws(EngineError) -> (contract: String, start: Day) {
        guard let slash = invoiceID.lastIndex(of: "/"),
            let start = Day(parsing: String(invoiceID[invoiceID.index(after: slash)...]))
        else {
            throw EngineError(
                code: .notFound,
                message: "no invoice \"\(invoiceID)\"; ids look like CONTRACT/YYYY-MM-DD (see `daybook invoices`)")
        }
        return (String(invoiceID[..<slash]), start)
    }

    /// Every dead-lettered record, oldest first.
    public func deadLetters() throws -> [DeadLetter] {
        let store = self.store
        return try store.env.read { txn in
            var result: [DeadLetter] = []
            try txn.scan(in: store.deadLetters) { key, value in
                result.append(try DeadLetter(number: Keys.seq(from: key, in: "dead_letters key"), decoding: value))
                return true
            }
            return result
        }
    }

    /// Every dead letter as a table, oldest first. `raw` is the record as text (valid UTF-8 as it
    /// is, any other byte as `\xFF`: ``CellText/raw(_:)``), `raw_base64` its exact bytes.
    public func deadLettersTable() throws -> Table {
        var table = Table(columns: Self.deadLetterColumns)
        for d in try deadLetters() {
            table.rows.append([
                "\(d.number)", d.source, d.position, d.reason.rawValue, d.field ?? "", d.message,
                "\(d.ingestTime)", CellText.raw(d.raw), CellText.base64(d.raw),
            ])
        }
        return table
    }

    /// The columns of ``deadLettersTable()``.
    public static let deadLetterColumns = [
        "number", "source", "position", "reason", "field", "message", "ingest_time", "raw", "raw_base64",
    ]

    /// Metric rejections: accepted events whose value a `sum`/`max` metric could not use.
    public func metricRejectionsTable() throws -> Table {
        let store = self.store
        return try store.env.read { txn in
            var table = Table(columns: ["seq", "transaction_id", "metric", "reason", "explanation"])
            try txn.scan(in: store.rejections) { key, value in
                let seq = try Keys.seq(from: key, in: "rejections key")
                let metric = String(decoding: key.dropFirst(8), as: UTF8.self)
                let reason = String(decoding: value, as: UTF8.self)
                var tid = ""
                if let bytes = try txn.get(Keys.seq(seq), in: store.log) {
                    tid = try LoggedEvent(seq: seq, decoding: bytes).event().transactionID
                }
                table.rows.append(["\(seq)", tid, metric, reason, ValueRejection(rawValue: reason)?.explanation ?? ""])
                return true
            }
            return table
        }
    }

    /// Logged events that no contract covers (unknown customer, or no contract on their day).
    public func unbilledTable() throws -> Table {
        let store = self.store
        let plan = self.plan
        return try store.env.read { txn in
            var table = Table(columns: ["seq", "transaction_id", "customer_id", "event_type", "day", "reason"])
            try txn.scan(in: store.byDay) { key, value in
                let (customer, next) = try Keys.string(from: key, in: "by_day key")
                let day = try Keys.day(from: key, at: next, in: "by_day key")
                guard plan.contract(customer: customer, day: day) == nil else { return true }
                for seq in try Keys.daySeqs(key: key, prefixCount: next + 4, value: value) {
                    guard let bytes = try txn.get(Keys.seq(seq), in: store.log) else { continue }
                    let event = try LoggedEvent(seq: seq, decoding: bytes).event()
                    let reason = plan.catalog.customer(customer) == nil ? "unknown customer" : "no contract on this day"
                    table.rows.append(["\(seq)", event.transactionID, customer, event.eventType, "\(day)", reason])
                }
                return true
            }
            table.rows.sort { Int($0[0])! < Int($1[0])! }
            return table
        }
    }

    /// Engine counters (`daybook stats`).
    public func stats() throws -> (lastSeq: UInt64, counters: EngineCounters, catalogVersion: UInt32, horizon: Day?) {
        let store = self.store
        return try store.env.read { txn in
            let s = try EngineState.load(store, txn)
            return (s.lastSeq, s.counters, s.catalogVersion, s.horizon)
        }
    }

    /// `daybook stats` as ordered key/value pairs (integers).
    public func statsFields() throws -> [(String, UInt64)] {
        let s = try stats()
        let c = s.counters
        return [
            ("last_seq", s.lastSeq), ("events", c.events), ("duplicates", c.duplicates),
            ("dead_letters", c.deadLetters), ("metric_rejections", c.metricRejections),
            ("invoices_finalized", c.invoicesFinalized), ("catalog_version", UInt64(s.catalogVersion)),
            ("line_item_days_evaluated", c.recompute.lineItemDaysEvaluated),
            ("line_item_days_changed", c.recompute.lineItemDaysChanged),
            ("draw_down_days_evaluated", c.recompute.drawDownDaysEvaluated),
            ("events_reread", c.recompute.eventsReread),
        ]
    }
}
