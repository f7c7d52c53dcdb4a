/// The billing catalog (SPEC §2): settings, metrics, products, rate cards and customers.
///
/// A `Catalog` is always valid: the only way to make one from a document is
/// ``Catalog/parse(_:)``, which checks every reference and reports every problem with its
/// JSON path.
public struct Catalog: Sendable {
    public var currency: String
    /// Fractional digits of the currency; amounts are rounded half-even to this many.
    public var currencyDecimals: Int
    public var maxLatenessDays: Int
    public var finalizationGraceHours: Int
    /// `balance_alert_days` (1–3660, default 30): how many days ahead `daybook alerts` and
    /// `GET /v1/alerts` look for balances projected to run out, when `--within` is not given.
    public var balanceAlertDays: Int = Catalog.defaultBalanceAlertDays
    /// `correction_threshold` (a currency amount ≥ 0, default `"0.00"`): a finalized invoice's open
    /// drift is proposed as a correction only when its summed `delta_total` is at least this in
    /// absolute value (SPEC §4 "Corrections").
    public var correctionThreshold: FixedDecimal = .zero
    public var metrics: [String: Metric]
    public var products: [String: Product]
    public var rateCards: [String: RateCard]
    /// Customers in document order.
    public var customers: [Customer]

    /// The longest id (and other string) a catalog document may hold, in UTF-8 bytes: ids are
    /// parts of store keys, which LMDB limits to 511 bytes.
    public static let maxIDBytes = 128

    /// The alert horizon without a `balance_alert_days` setting, and the range it may take.
    public static let defaultBalanceAlertDays = 30
    public static let balanceAlertDayRange = 1...3660

    /// All contracts of all customers, in document order.
    public var contracts: [Contract] { customers.flatMap(\.contracts) }

    public func customer(_ id: String) -> Customer? { customers.first { $0.id == id } }

    /// Creates a catalog from parts already validated (documents go through ``parse(_:)``).
    public init(
        currency: String, currencyDecimals: Int, maxLatenessDays: Int, finalizationGraceHours: Int,
        metrics: [String: Metric], products: [String: Product], rateCards: [String: RateCard],
        customers: [Customer]
    ) {
        self.currency = currency
        self.currencyDecimals = currencyDecimals
        self.maxLatenessDays = maxLatenessDays
        self.finalizationGraceHours = finalizationGraceHours
        self.metrics = metrics
        self.products = products
        self.rateCards = rateCards
        self.customers = customers
    }
}

/// How a metric turns matching events into a period-to-date quantity.
public enum Aggregation: String, Sendable, Hashable {
    case count, sum, max
    case uniqueCount = "unique_count"
}

/// A billable metric: which events count and how.
public struct Metric: Sendable, Hashable {
    public var id: String
    public var eventType: String
    public var aggregation: Aggregation
    /// The aggregated property (nil only for `count`).
    public var property: String?
    /// Property → allowed canonical strings, sorted by property name.
    public var filters: [Filter]
    /// 0–3 property names whose values split line items.
    public var groupBy: [String]

    public init(
        id: String, eventType: String, aggregation: Aggregation, property: String?, filters: [Filter] = [],
        groupBy: [String] = []
    ) {
        self.id = id
        self.eventType = eventType
        self.aggregation = aggregation
        self.property = property
        self.filters = filters
        self.groupBy = groupBy
    }

    public struct Filter: Sendable, Hashable {
        public var property: String
        public var allowed: Set<String>
        public init(property: String, allowed: Set<String>) {
            self.property = property
            self.allowed = allowed
        }
    }
}

/// A product: a usage product names a metric; a fixed product is a flat fee per period.
public struct Product: Sendable, Hashable {
    public var id: String
    public var name: String
    /// The metric id, or nil for a fixed product.
    public var metric: String?
    public var isFixed: Bool { metric == nil }

    public init(id: String, name: String, metric: String?) {
        self.id = id
        self.name = name
        self.metric = metric
    }
}

/// One graduated tier: units whose cumulative position is ≤ `upTo` (nil = unbounded).
public struct Tier: Sendable, Hashable {
    public var upTo: FixedDecimal?
    public var unitPrice: FixedDecimal
    public init(upTo: FixedDecimal?, unitPrice: FixedDecimal) {
        self.upTo = upTo
        self.unitPrice = unitPrice
    }
}

/// The price of one product on a rate card.
public enum Price: Sendable, Hashable {
    case flat(FixedDecimal)
    case graduated([Tier])
}

public struct RateCard: Sendable, Hashable {
    public var id: String
    /// Product id → price.
    public var rates: [String: Price]
}

public struct Customer: Sendable, Hashable {
    public var id: String
    public var name: String
    public var contracts: [Contract]
}

public struct Contract: Sendable, Hashable {
    public var id: String
    public var customerID: String
    public var rateCard: String
    /// First day (inclusive).
    public var starts: Day
    /// First day after the contract (exclusive), or nil for open-ended.
    public var ends: Day?
    public var billingAnchorDay: Int
    public var balances: [Balance]

    public init(
        id: String, customerID: String, rateCard: String, starts: Day, ends: Day?, billingAnchorDay: Int,
        balances: [Balance]
    ) {
        self.id = id
        self.customerID = customerID
        self.rateCard = rateCard
        self.starts = starts
        self.ends = ends
        self.billingAnchorDay = billingAnchorDay
        self.balances = balances
    }

    /// Whether `day` falls inside the contract.
    public func covers(_ day: Day) -> Bool { day >= starts && (ends.map { day < $0 } ?? true) }
}

/// A prepaid credit or commit drawn down day by day.
public struct Balance: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case credit, commit }
    public var id: String
    public var kind: Kind
    public var amount: FixedDecimal
    public var starts: Day
    public var ends: Day
    /// Product ids it pays for, or nil for all products (fixed fees included).
    public var products: Set<String>?
    public var priority: Int

    public init(
        id: String, kind: Kind, amount: FixedDecimal, starts: Day, ends: Day, products: Set<String>?, priority: Int
    ) {
        self.id = id
        self.kind = kind
        self.amount = amount
        self.starts = starts
        self.ends = ends
        self.products = products
        self.priority = priority
    }

    public func isActive(on day: Day) -> Bool { day >= starts && day < ends }
    public func applies(to product: String) -> Bool { products?.contains(product) ?? true }

    /// SPEC §3 draw order: priority, credits before commits, `ends`, then id (byte order).
    public static func drawsBefore(_ a: Balance, _ b: Balance) -> Bool {
        if a.priority != b.priority { return a.priority < b.priority }
        if a.kind != b.kind { return a.kind == .credit }
        if a.ends != b.ends { return a.ends < b.ends }
        return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
    }
}

extension String {
    /// Byte-order comparison of UTF-8 (the order SPEC §3 and §5 use), unlike `<` on String.
    @inlinable public func utf8Precedes(_ other: String) -> Bool {
        utf8.lexicographicallyPrecedes(other.utf8)
    }
}
