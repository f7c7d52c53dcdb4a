import DaybookCore
import DaybookStore
import LMDB

// The read models of the dashboard and of `daybook alerts` (issue 11): typed, exact, and
// computed over one read transaction from the live state, so a page or an alert always reflects
// every batch committed before it — backdated ones included — with nothing to re-run.

/// One product's daily series over a range of days.
public struct ProductSeries: Sendable, Hashable {
    public var productID: String
    public var productName: String
    /// Per day of the range, in order: the sum of the subtotals of the product's line items that
    /// day (all its groups, every contract in scope).
    public var subtotal: [FixedDecimal]
    /// Per day of the range: the sum of the daily quantities of those line items.
    public var quantity: [FixedDecimal]

    public init(productID: String, productName: String, days: Int) {
        self.productID = productID
        self.productName = productName
        subtotal = Array(repeating: .zero, count: days)
        quantity = subtotal
    }

    /// The sum of ``subtotal``.
    public var totalSubtotal: FixedDecimal { subtotal.reduce(.zero, +) }
    /// The sum of ``quantity``.
    public var totalQuantity: FixedDecimal { quantity.reduce(.zero, +) }
}

/// Subtotal and quantity of a product over a period.
public struct PeriodSums: Sendable, Hashable {
    public var subtotal = FixedDecimal.zero
    public var quantity = FixedDecimal.zero
    public init() {}
}

/// Revenue by product per day across every customer (`/`).
public struct RevenueReport: Sendable {
    /// First and last day of the range, both included.
    public var from: Day
    public var to: Day
    /// The period of the same length just before it, that the change is measured against.
    public var previousFrom: Day
    public var previousTo: Day
    public var currency: String
    public var decimals: Int
    /// Every product billed (a line item on some invoice) in the range or the previous period, by product id.
    public var products: [ProductSeries]
    /// Product id → its sums over the previous period (zero sums for products not billed then).
    public var previous: [String: PeriodSums]

    /// The days of the range, in order (the index of ``ProductSeries/subtotal``).
    public var days: [Day] { (0...(to.number - from.number)).map { from.adding(days: Int($0)) } }
}

/// One commit or credit, its remaining amount and where the trailing run rate takes it.
public struct BalanceProjection: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        /// Active, nothing left.
        case exhausted
        /// Active, projected to run out before it ends.
        case runningOut = "running_out"
        /// Active, not projected to run out before it ends (or nothing draws from it).
        case ok
        /// Not active yet on the day of the projection.
        case notStarted = "not_started"
        /// Its end date has passed.
        case ended
    }
    public var balanceID: String
    public var customerID: String
    public var contractID: String
    public var kind: Balance.Kind
    public var amount: FixedDecimal
    /// Active on `starts ≤ day < ends`.
    public var starts: Day
    public var ends: Day
    /// The day projected from: the day of `now`.
    public var asOf: Day
    /// Closing amount of `asOf` (the amount while not started; the last closing once ended).
    public var remaining: FixedDecimal
    /// What was drawn on the ``runRateDays`` complete days before `asOf` (within the balance's active days).
    public var trailingDrawn: FixedDecimal
    /// Number of days the run rate averages over: up to 7.
    public var runRateDays: Int
    /// Days from `asOf` to the projected exhaustion: the smallest k ≥ 1 with
    /// k × trailingDrawn / runRateDays ≥ remaining; 0 when exhausted; nil when not projected to run out
    /// before it ends (or nothing drew from it).
    public var daysLeft: Int?
    /// `asOf + daysLeft` when running out.
    public var exhaustsOn: Day?
    /// The first day whose closing amount was zero, when exhausted.
    public var exhaustedOn: Day?
    public var status: Status

    /// `trailingDrawn / runRateDays` rounded half-even to `decimals` (for display; the projection
    /// uses the exact ratio).
    public func dailyRunRate(decimals: Int) -> FixedDecimal {
        guard runRateDays > 0 else { return .zero }
        return FixedDecimal(raw: trailingDrawn.raw / Int128(runRateDays)).rounded(decimals: decimals)
    }
}

/// A balance's closing amount and draw per day of a range (nil on days it is not active).
public struct BalanceSeries: Sendable, Hashable {
    public var projection: BalanceProjection
    public var closing: [FixedDecimal?]
    public var drawn: [FixedDecimal?]
}

/// One customer's spend and balances (`/customers/{id}`).
public struct CustomerReport: Sendable {
    public var customerID: String
    public var customerName: String
    public var currency: String
    public var decimals: Int
    /// First and last day of the range, both included.
    public var from: Day
    public var to: Day
    /// The day of `now`.
    public var today: Day
    /// Spend (subtotal) per product per day of the range, products of the customer's line items, by id.
    public var products: [ProductSeries]
    /// Every balance of the customer's contracts, by contract then draw order.
    public var balances: [BalanceSeries]
    /// The invoice whose period holds `today`, with its totals to date (nil without a contract that day).
    public var currentInvoice: InvoiceSummary?

    /// The days of the range, in order.
    public var days: [Day] { (0...(to.number - from.number)).map { from.adding(days: Int($0)) } }
}

extension Engine {
    /// The longest range a dashboard read takes (two years): a page over more is a mistake.
    public static let dashboardRangeLimit = 731

    /// Revenue by product per day over `from ... to` (both included) and the sums of the period
    /// of the same length just before it, across every contract, as the live state holds it at `now`.
    ///
    /// Only the invoices whose period overlaps the two periods are read (their keys say their start).
    ///
    /// - Throws: ``EngineError`` `.notFound` for a range ending before it begins or longer than
    ///   ``dashboardRangeLimit`` days; `.noCatalog` before a catalog is applied.
    public func revenue(from: Day, to: Day, now: Timestamp) throws -> RevenueReport {
        let length = try Self.checkRange(from, to)
        let previousFrom = from.adding(days: -length)
        return try withLiveView(through: now.day) { txn, view in
            let catalog = try Self.requireCatalog(view)
            var reader = InvoiceDays(view: view, parts: .subtotals)
            var current: [String: ProductSeries] = [:]
            var previous: [String: PeriodSums] = [:]
            for contract in view.plan.contracts.values {
                try reader.lineItems(of: contract, from: previousFrom, to: to, txn) { item, start, days in
                    let product = item.productID
                    var sums = previous[product] ?? PeriodSums()
                    var series = current.removeValue(forKey: product) ?? Self.series(product, catalog, length)
                    for k in days {
                        let offset = Int(start.number - from.number) + k
                        if offset < 0 {
                            sums.subtotal += item.subtotal(k)
                            sums.quantity += item.quantity(k)
                        } else {
                            series.subtotal[offset] += item.subtotal(k)
                            series.quantity[offset] += item.quantity(k)
                        }
                    }
                    previous[product] = sums
                    current[product] = series
                }
            }
            for product in previous.keys where current[product] == nil {
                current[product] = Self.series(product, catalog, length)
            }
            for product in current.keys where previous[product] == nil { previous[product] = PeriodSums() }
            return RevenueReport(
                from: from, to: to, previousFrom: previousFrom, previousTo: from.adding(days: -1),
                currency: catalog.currency, decimals: catalog.currencyDecimals,
                products: current.values.sorted { $0.productID.utf8Precedes($1.productID) }, previous: previous)
        }
    }

    /// One customer's spend per product per day over `from ... to` and its balances, projected from `now`.
    ///
    /// - Throws: ``EngineError`` `.notFound` for a customer not in the catalog or a bad range.
    public func customerReport(id: String, from: Day, to: Day, now: Timestamp) throws -> CustomerReport {
        let length = try Self.checkRange(from, to)
        let today = now.day
        return try withLiveView(through: today) { txn, view in
            let catalog = try Self.requireCatalog(view)
            guard let customer = catalog.customer(id) else {
                throw EngineError(
                    code: .notFound, message: "no customer \"\(id)\" in the catalog in force (see `daybook invoices`)")
            }
            var reader = InvoiceDays(view: view)
            var products: [String: ProductSeries] = [:]
            var balances: [BalanceSeries] = []
            var current: InvoiceSummary?
            for contract in view.plan.byCustomer[id] ?? [] {
                try reader.lineItems(of: contract, from: from, to: to, txn) { item, start, days in
                    let product = item.productID
                    var series = products.removeValue(forKey: product) ?? Self.series(product, catalog, length)
                    for k in days {
                        series.subtotal[Int(start.number - from.number) + k] += item.subtotal(k)
                        series.quantity[Int(start.number - from.number) + k] += item.quantity(k)
                    }
                    products[product] = series
                }
                for (b, balance) in contract.balances.enumerated() {
                    let projection = try reader.projection(balance, index: b, of: contract, asOf: today, txn)
                    var series = BalanceSeries(
                        projection: projection, closing: Array(repeating: nil, count: length),
                        drawn: Array(repeating: nil, count: length))
                    for k in 0..<length {
                        let day = from.adding(days: k)
                        guard day <= today, balance.isActive(on: day),
                            let closing = try reader.closing(b, of: contract, on: day, txn),
                            let opening = try reader.opening(balance, index: b, of: contract, on: day, txn)
                        else { continue }
                        series.closing[k] = closing
                        series.drawn[k] = opening - closing
                    }
                    balances.append(series)
                }
                if let invoice = try reader.currentInvoice(of: contract, today: today, txn) { current = invoice }
            }
            return CustomerReport(
                customerID: id, customerName: customer.name, currency: catalog.currency,
                decimals: catalog.currencyDecimals, from: from, to: to, today: today,
                products: products.values.sorted { $0.productID.utf8Precedes($1.productID) },
                balances: balances, currentInvoice: current)
        }
    }

    /// Every balance of every contract (or of one customer's), projected from `now`'s day, by
    /// customer, contract, then draw order.
    public func balanceProjections(now: Timestamp, customer: String? = nil) throws -> [BalanceProjection] {
        try withLiveView(through: now.day) { txn, view in
            var reader = InvoiceDays(view: view)
            let contracts = customer.map { view.plan.byCustomer[$0] ?? [] } ?? Array(view.plan.contracts.values)
            var result: [BalanceProjection] = []
            let ordered = contracts.sorted { a, b in
                a.contract.customerID != b.contract.customerID
                    ? a.contract.customerID.utf8Precedes(b.contract.customerID) : a.contract.id.utf8Precedes(b.contract.id)
            }
            for contract in ordered {
                for (b, balance) in contract.balances.enumerated() {
                    result.append(try reader.projection(balance, index: b, of: contract, asOf: now.day, txn))
                }
            }
            return result
        }
    }

    /// The balances that need a person: exhausted, or projected to run out within `withinDays`
    /// days of `now`'s day; exhausted ones first, then by days left, then balance id.
    public func balanceAlerts(now: Timestamp, withinDays: Int, customer: String? = nil) throws -> [BalanceProjection] {
        try balanceProjections(now: now, customer: customer).filter {
            $0.status == .exhausted || ($0.status == .runningOut && ($0.daysLeft ?? .max) <= withinDays)
        }.sorted {
            if ($0.status == .exhausted) != ($1.status == .exhausted) { return $0.status == .exhausted }
            if $0.daysLeft != $1.daysLeft { return ($0.daysLeft ?? .max) < ($1.daysLeft ?? .max) }
            return $0.balanceID.utf8Precedes($1.balanceID)
        }
    }
}

extension Engine {
    /// The number of days of `from ... to`.
    static func checkRange(_ from: Day, _ to: Day) throws(EngineError) -> Int {
        let length = Int(to.number - from.number) + 1
        guard length >= 1 else {
            throw EngineError(code: .notFound, message: "the range \(from) to \(to) ends before it begins")
        }
        guard length <= dashboardRangeLimit else {
            throw EngineError(
                code: .notFound,
                message: "the range \(from) to \(to) is \(length) days: at most \(dashboardRangeLimit) are read at once")
        }
        return length
    }

    static func requireCatalog(_ view: LiveView) throws(EngineError) -> Catalog {
        guard view.state.catalogVersion > 0 else {
            throw EngineError(code: .noCatalog, message: "no catalog yet: apply one with `daybook catalog apply FILE`")
        }
        return view.plan.catalog
    }

    static func series(_ product: String, _ catalog: Catalog, _ days: Int) -> ProductSeries {
        ProductSeries(productID: product, productName: catalog.products[product]?.name ?? product, days: days)
    }
}

/// Reads the days of a live view's invoices, each invoice decoded once.
struct InvoiceDays {
    let view: LiveView
    /// `.subtotals` for a reader of line items only (no closings: ``closing(_:of:on:_:)`` traps).
    let parts: InvoiceState.Parts
    private var cache: [[UInt8]: InvoiceState?] = [:]

    init(view: LiveView, parts: InvoiceState.Parts = .amounts) {
        self.view = view
        self.parts = parts
    }

    /// The invoice of `contract` for `period` as the view has it (nil for a period not begun by the view).
    mutating func invoice(of contract: ContractPlan, period: BillingPeriod, _ txn: borrowing Transaction) throws
        -> InvoiceState?
    {
        let key = Keys.invoice(contract: contract.contract.id, start: period.start)
        if let cached = cache[key] { return cached }
        let state = try view.invoice(key, parts: parts, contract: contract, txn)
        cache[key] = state
        return state
    }

    /// Calls `body(item, periodStart, days)` for every line item of the contract's invoices with
    /// the indices of its days in `from ... to`.
    mutating func lineItems(
        of contract: ContractPlan, from: Day, to: Day, _ txn: borrowing Transaction,
        _ body: (LineItemState, Day, ClosedRange<Int>) -> Void
    ) throws {
        let c = contract.contract
        var day = max(from, c.starts)
        let last = min(to, c.ends.map { $0.adding(days: -1) } ?? to)
        while day <= last, let period = c.period(containing: day) {
            if let state = try invoice(of: contract, period: period, txn) {
                let first = Int(day.number - period.start.number)
                let end = min(state.dayCount - 1, Int(last.number - period.start.number))
                if first <= end { for item in state.lineItems { body(item, period.start, first...end) } }
            }
            day = period.end
        }
    }

    /// The amount of balance `b` left after `day`: its amount before the contract starts, the
    /// last closing after it ends, nil for a day no invoice of the view holds.
    mutating func closing(_ b: Int, of contract: ContractPlan, on day: Day, _ txn: borrowing Transaction) throws
        -> FixedDecimal?
    {
        precondition(parts != .subtotals, "closings are not decoded for subtotals")
        let c = contract.contract
        if day < c.starts { return contract.balances[b].amount }
        if let ends = c.ends, day >= ends { return try closing(b, of: contract, on: ends.adding(days: -1), txn) }
        guard let period = c.period(containing: day), let state = try invoice(of: contract, period: period, txn)
        else { return nil }
        return state.closing[Int(day.number - period.start.number)][b]
    }

    /// The amount of the balance at the start of `day`.
    mutating func opening(
        _ balance: Balance, index b: Int, of contract: ContractPlan, on day: Day, _ txn: borrowing Transaction
    ) throws -> FixedDecimal? {
        day <= balance.starts ? balance.amount : try closing(b, of: contract, on: day.adding(days: -1), txn)
    }

    /// Where the trailing run rate takes the balance from `asOf` (``BalanceProjection``).
    mutating func projection(
        _ balance: Balance, index b: Int, of contract: ContractPlan, asOf: Day, _ txn: borrowing Transaction
    ) throws -> BalanceProjection {
        var p = BalanceProjection(
            balanceID: balance.id, customerID: contract.contract.customerID, contractID: contract.contract.id,
            kind: balance.kind, amount: balance.amount, starts: balance.starts, ends: balance.ends, asOf: asOf,
            remaining: balance.amount, trailingDrawn: .zero, runRateDays: 0, daysLeft: nil, exhaustsOn: nil,
            exhaustedOn: nil, status: .ok)
        if asOf < balance.starts {
            p.status = .notStarted
            return p
        }
        if asOf >= balance.ends {
            p.status = .ended
            p.remaining = try closing(b, of: contract, on: balance.ends.adding(days: -1), txn) ?? balance.amount
            return p
        }
        p.remaining = try closing(b, of: contract, on: asOf, txn) ?? balance.amount
        // The complete days before `asOf` (a partial day would understate the rate), up to 7, on
        // which the contract could draw from it.
        let first = max(balance.starts, contract.contract.starts, asOf.adding(days: -7))
        p.runRateDays = max(0, Int(asOf.number - first.number))
        if p.runRateDays > 0, let opening = try opening(balance, index: b, of: contract, on: first, txn),
            let closing = try closing(b, of: contract, on: asOf.adding(days: -1), txn)
        {
            p.trailingDrawn = opening - closing
        }
        if p.remaining.isZero {
            p.status = .exhausted
            p.daysLeft = 0
            // A balance never grows: its closings are zero from the exhaustion day on. Bisect for it.
            var lo = balance.starts, hi = asOf  // closing(hi) is zero; the answer is in lo...hi
            while lo < hi {
                let mid = lo.adding(days: Int(hi.number - lo.number) / 2)
                if try closing(b, of: contract, on: mid, txn)?.isZero == true { hi = mid } else { lo = mid.adding(days: 1) }
            }
            p.exhaustedOn = hi
            return p
        }
        guard p.trailingDrawn.raw > 0 else { return p }
        // The smallest k with k × drawn / days ≥ remaining, in exact integers.
        let numerator = p.remaining.raw * Int128(p.runRateDays)
        let k = (numerator + p.trailingDrawn.raw - 1) / p.trailingDrawn.raw
        // Only the contract's days draw from it: it runs out only before the balance or the contract ends.
        let end = min(balance.ends, contract.contract.ends ?? balance.ends)
        guard k < Int128(end.number - asOf.number) else { return p }
        p.daysLeft = Int(k)
        p.exhaustsOn = asOf.adding(days: Int(k))
        p.status = .runningOut
        return p
    }
}

/// A customer at a glance: its current invoice and its balances (the dashboard's customer list).
public struct CustomerSummary: Sendable {
    public var customerID: String
    public var customerName: String
    /// The invoice whose period holds the day of `now` (nil without a contract that day).
    public var currentInvoice: InvoiceSummary?
    /// Its balances' projections, by contract then draw order.
    public var balances: [BalanceProjection]
}

extension Engine {
    /// Every customer of the catalog in force, by id, with its current invoice and balance
    /// projections: one invoice per contract read (plus the days of the run-rate window), not the
    /// customer's history.
    public func customerSummaries(now: Timestamp) throws -> [CustomerSummary] {
        let today = now.day
        return try withLiveView(through: today) { txn, view in
            let catalog = try Self.requireCatalog(view)
            var reader = InvoiceDays(view: view)
            var result: [CustomerSummary] = []
            for customer in catalog.customers.sorted(by: { $0.id.utf8Precedes($1.id) }) {
                var summary = CustomerSummary(
                    customerID: customer.id, customerName: customer.name, currentInvoice: nil, balances: [])
                for contract in view.plan.byCustomer[customer.id] ?? [] {
                    if let invoice = try reader.currentInvoice(of: contract, today: today, txn) {
                        summary.currentInvoice = invoice
                    }
                    for (b, balance) in contract.balances.enumerated() {
                        summary.balances.append(try reader.projection(balance, index: b, of: contract, asOf: today, txn))
                    }
                }
                result.append(summary)
            }
            return result
        }
    }
}

extension InvoiceDays {
    /// The summary of the contract's invoice whose period holds `today`, totals to date.
    mutating func currentInvoice(of contract: ContractPlan, today: Day, _ txn: borrowing Transaction) throws
        -> InvoiceSummary?
    {
        guard let period = contract.contract.period(containing: today),
            let state = try invoice(of: contract, period: period, txn)
        else { return nil }
        return try InvoiceSummary(state, of: contract.contract, view.ws.store, txn)
    }
}
