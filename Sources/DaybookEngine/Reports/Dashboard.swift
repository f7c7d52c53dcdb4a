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
    /// Revenue by product per day over `from ... to` (both included) and the sums of the period
    /// of the same length just before it, across every contract, as the live state holds it at `now`.
    ///
    /// - Throws: ``EngineError`` `.noCatalog` before a catalog is applied.
    public func revenue(from: Day, to: Day, now: Timestamp) throws -> RevenueReport {
        fatalError("not yet")
    }

    /// One customer's spend per product per day over `from ... to` and its balances, projected from `now`.
    ///
    /// - Throws: ``EngineError`` `.notFound` for a customer not in the catalog.
    public func customerReport(id: String, from: Day, to: Day, now: Timestamp) throws -> CustomerReport {
        fatalError("not yet")
    }

    /// Every balance of every contract (or of one customer's), projected from `now`'s day, by
    /// customer, contract, then draw order.
    public func balanceProjections(now: Timestamp, customer: String? = nil) throws -> [BalanceProjection] {
        fatalError("not yet")
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
