import DaybookCore

/// A catalog for many generated customers (`daybook generate --customer-count N --catalog-out
/// FILE`), seeded and reproducible: the example catalog's metrics, products and rate cards, and
/// per customer one contract from `start` with a commit from `start` to a year after the last
/// day of usage (so commits are still active, and projected, at the end of the data) and, for
/// about a third of them, a 90-day credit.
///
/// Commit amounts are drawn from a ladder of 2,500 to 100,000 (currency units), so with the
/// generator's traffic (a platform fee of 500 a month plus usage on `standard`) some commits run
/// out during a year of usage, some are projected to run out soon after, and others do not. Contracts are on `standard`, one in five on `startup`;
/// billing anchor days are 1 (half of them), 8, 15 or 22. Ids: contract `{customer}-k`, balances
/// `{customer}-commit` and `{customer}-credit`.
public struct CatalogGenerator: Sendable {
    public var seed: UInt64 = 1
    public var customers: [String]
    /// The contracts' first day (the workload's first day).
    public var start: Day
    /// Days of usage the catalog is for: `max_lateness_days` is at least this plus the workload's
    /// 5 days of backdating, so a whole generated file can be ingested with one clock at its end.
    public var days: Int = 365

    /// The longest customer id the generated ids (`{customer}-commit`, 7 bytes more) allow.
    public static let maxCustomerIDBytes = Catalog.maxIDBytes - 7

    public init(customers: [String], start: Day) {
        self.customers = customers
        self.start = start
    }

    /// `c0001` … : `count` ids, zero-padded to at least 4 digits, in order.
    public static func customerIDs(count: Int) -> [String] {
        let width = max(4, "\(count)".count)
        return (0..<count).map { i in
            let digits = "\(i + 1)"
            return "c" + String(repeating: "0", count: width - digits.count) + digits
        }
    }

    static let commitLadder = [2_500, 5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 60_000, 100_000]
    static let creditLadder = [50, 100, 250, 500]
    static let anchorDays = [1, 1, 1, 8, 15, 22]

    /// The catalog document (valid for ``Catalog/parse(_:)``).
    public func json() -> String {
        var rng = SplitMix64(seed: seed ^ 0xC47A_1060)
        func pick<T>(_ list: [T]) -> T { list[Int(rng.next() % UInt64(list.count))] }
        let commitEnd = start.adding(days: days + 365)
        let entries = customers.map { id -> String in
            let card = rng.next() % 5 == 0 ? "startup" : "standard"
            let anchor = pick(Self.anchorDays)
            var balances = [
                """
                {"id": "\(id)-commit", "type": "commit", "amount": "\(pick(Self.commitLadder)).00", \
                "starts": "\(start)", "ends": "\(commitEnd)", "products": null, "priority": 1}
                """
            ]
            if rng.next() % 3 == 0 {
                let from = start.adding(days: Int(rng.next() % UInt64(max(1, days / 2))))
                let products = rng.next() % 2 == 0 ? "null" : "[\"inference_tokens\"]"
                balances.append(
                    """
                    {"id": "\(id)-credit", "type": "credit", "amount": "\(pick(Self.creditLadder)).00", \
                    "starts": "\(from)", "ends": "\(from.adding(days: 90))", "products": \(products), "priority": 0}
                    """)
            }
            return """
                    {"id": "\(id)", "name": "Customer \(id)", "contracts": [
                      {"id": "\(id)-k", "rate_card": "\(card)", "starts": "\(start)", "ends": null,
                       "billing_anchor_day": \(anchor),
                       "balances": [
                         \(balances.joined(separator: ",\n             "))]}]}
                """
        }
        return ExampleCatalog.withCustomers(entries, maxLatenessDays: max(34, days + 6))
    }
}
