import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload

extension SplitMix64 {
    /// A uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) < p * 1_000_000 }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

/// A catalog document as a value that tests can build at random, change, and write as JSON (SPEC §2).
///
/// The metrics and products are fixed (every aggregation, filters on strings, booleans and
/// numbers, `group_by` with values that need percent-encoding); rate cards, contracts and balances
/// are random.
public struct CatalogModel: Sendable {
    public enum PriceModel: Sendable, Hashable {
        case flat(String)
        /// `(up_to, unit_price)`; the last `up_to` is nil.
        case tiers([Tier])
        public struct Tier: Sendable, Hashable {
            public var upTo: String?
            public var unitPrice: String
        }
    }

    public struct RateCardModel: Sendable {
        public var id: String
        public var rates: [(product: String, price: PriceModel)]
    }

    public struct BalanceModel: Sendable {
        public var id: String
        public var type: String
        public var amount: String
        public var starts: Day
        public var ends: Day
        public var products: [String]?
        public var priority: Int?
    }

    public struct ContractModel: Sendable {
        public var id: String
        public var rateCard: String
        public var starts: Day
        public var ends: Day?
        public var anchor: Int?
        public var balances: [BalanceModel]
    }

    public struct CustomerModel: Sendable {
        public var id: String
        public var contracts: [ContractModel]
    }

    public var currency = "USD"
    public var currencyDecimals = 2
    public var maxLatenessDays = 400
    public var graceHours = 24
    /// `correction_threshold` as written, absent (the default, 0) when nil.
    public var correctionThreshold: String?
    /// Allowed `region` values of the `tokens` metric's filter.
    public var tokenRegions: [String] = ["us", "eu"]
    public var productNames: [String: String] = [:]
    public var rateCards: [RateCardModel] = []
    public var customers: [CustomerModel] = []
    var nextBalance = 0
    var nextContract = 0

    /// Usage products with their metric, then the fixed products.
    public static let usageProducts: [(id: String, metric: String)] = [
        ("tok", "tokens"), ("req", "requests"), ("gpu", "gpu_peak"), ("usr", "users"),
        ("psess", "paid_sessions"), ("sto", "storage"), ("stoc", "storage_t12"),
    ]
    public static let fixedProducts = ["fee", "sup"]
    public static var allProducts: [String] { usageProducts.map(\.id) + fixedProducts }

    /// Customer ids events are sent for; the catalog knows a subset of them (the rest are unbilled).
    public static let customerPool = ["c0", "c1", "c2", "c9"]

    public init() {}

    // MARK: Random generation

    /// A random catalog: 1–3 customers with 1–2 contracts each in early 2026, two rate cards mixing flat
    /// and graduated prices with small tier bounds, and 0–3 credits/commits per contract small enough
    /// to run out.
    public static func random(_ rng: inout SplitMix64) -> CatalogModel {
        var m = CatalogModel()
        m.currencyDecimals = rng.pick([0, 2, 2, 2, 3])
        m.graceHours = rng.pick([0, 6, 24, 48])
        if rng.chance(0.3) { m.tokenRegions = ["us"] }
        for id in allProducts { m.productNames[id] = "Product \(id)" }
        m.productNames["sto"] = "Storage, \"hot\""  // a name that needs CSV quoting
        for c in 0..<2 {
            var rates: [(String, PriceModel)] = []
            for id in allProducts where rng.chance(0.75) { rates.append((id, m.randomPrice(id, &rng))) }
            m.rateCards.append(RateCardModel(id: "rc\(c)", rates: rates))
        }
        for c in 0..<rng.int(1...3) {
            var customer = CustomerModel(id: "c\(c)", contracts: [])
            let starts = Day(year: 2026, month: 1, day: 1)!.adding(days: rng.int(0...30))
            var contract = m.randomContract(customer: customer.id, starts: starts, &rng)
            customer.contracts.append(contract)
            if let ends = contract.ends, rng.chance(0.6) {
                contract = m.randomContract(customer: customer.id, starts: ends.adding(days: rng.int(0...8)), &rng)
                customer.contracts.append(contract)
            }
            m.customers.append(customer)
        }
        return m
    }

    mutating func randomContract(customer: String, starts: Day, _ rng: inout SplitMix64) -> ContractModel {
        nextContract += 1
        var c = ContractModel(
            id: "\(customer)-k\(nextContract)", rateCard: rng.pick(rateCards.map(\.id)), starts: starts,
            ends: rng.chance(0.5) ? starts.adding(days: rng.int(20...80)) : nil,
            anchor: rng.chance(0.3) ? nil : rng.int(1...28), balances: [])
        for _ in 0..<rng.int(0...3) { c.balances.append(randomBalance(contract: c, &rng)) }
        return c
    }

    mutating func randomBalance(contract: ContractModel, _ rng: inout SplitMix64) -> BalanceModel {
        nextBalance += 1
        let starts = contract.starts.adding(days: rng.int(-10...40))
        var products: [String]?
        if rng.chance(0.6) {
            products = Self.allProducts.filter { _ in rng.chance(0.35) }
            if products!.isEmpty { products = [rng.pick(Self.allProducts)] }
        }
        return BalanceModel(
            id: "bal-\(nextBalance)", type: rng.chance(0.5) ? "credit" : "commit",
            amount: money(rng.int(50...4000), &rng), starts: starts,
            ends: starts.adding(days: rng.int(5...90)), products: products,
            priority: rng.chance(0.2) ? nil : rng.int(-1...2))
    }

    /// An amount of about `cents / 100` with at most min(2, currency_decimals) fractional digits.
    func money(_ cents: Int, _ rng: inout SplitMix64) -> String {
        let digits = min(2, currencyDecimals)
        if digits == 0 { return "\(cents / 100)" }
        if digits == 1 || rng.chance(0.3) { return "\(cents / 100).\(cents / 10 % 10)" }
        let frac = cents % 100
        return "\(cents / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    func randomPrice(_ product: String, _ rng: inout SplitMix64) -> PriceModel {
        if Self.fixedProducts.contains(product) { return .flat(money(rng.int(100...3000), &rng)) }
        let bounds: [String]
        let prices: [String]
        switch product {
        case "tok":
            bounds = ["500", "1500", "4000", "2500.5"]; prices = ["0.001", "0.0005", "0.000333333333", "0.0125", "0"]
        case "req": bounds = ["10", "25", "40"]; prices = ["0.07", "0.015", "0.333333333333", "0.1"]
        case "gpu": bounds = ["4", "8.5", "12"]; prices = ["1.25", "0.5", "2.5", "0.333333333333"]
        case "usr": bounds = ["2", "5", "7"]; prices = ["1", "0.75", "2.125", "0"]
        case "sto": bounds = ["5", "12.5", "30"]; prices = ["0.033", "0.1", "0.2575", "0.005"]
        default: bounds = ["3", "8", "15"]; prices = ["0.25", "0.6", "0.015", "1.1"]
        }
        if rng.chance(0.4) { return .flat(rng.pick(prices)) }
        var tiers: [PriceModel.Tier] = []
        var used = bounds.filter { _ in rng.chance(0.5) }
        if used.isEmpty { used = [rng.pick(bounds)] }
        used.sort { FixedDecimal($0)! < FixedDecimal($1)! }
        for b in used { tiers.append(.init(upTo: b, unitPrice: rng.pick(prices))) }
        tiers.append(.init(upTo: nil, unitPrice: rng.pick(prices)))
        return .tiers(tiers)
    }

    // MARK: Changes

    /// Applies one random change (a price, a balance, a new or changed contract, a metric filter,
    /// the currency's decimals, a product name…) and says what it did.
    @discardableResult
    public mutating func mutate(_ rng: inout SplitMix64) -> String {
        for _ in 0..<20 {
            if let what = tryMutation(rng.int(0...11), &rng) { return what }
        }
        return "no change"
    }

    mutating func tryMutation(_ kind: Int, _ rng: inout SplitMix64) -> String? {
        let contracts = customers.indices.flatMap { c in customers[c].contracts.indices.map { (c, $0) } }
        switch kind {
        case 0, 1:  // change, add or remove a price
            let r = rng.int(0...(rateCards.count - 1))
            let product = rng.pick(Self.allProducts)
            if let i = rateCards[r].rates.firstIndex(where: { $0.product == product }) {
                if rng.chance(0.25) {
                    rateCards[r].rates.remove(at: i)
                    return "remove \(product) from \(rateCards[r].id)"
                }
                rateCards[r].rates[i].price = randomPrice(product, &rng)
                return "reprice \(product) on \(rateCards[r].id)"
            }
            rateCards[r].rates.append((product, randomPrice(product, &rng)))
            return "add \(product) to \(rateCards[r].id)"
        case 2, 3:  // add a balance
            guard let (c, k) = contracts.isEmpty ? nil : rng.pick(contracts) else { return nil }
            let b = randomBalance(contract: customers[c].contracts[k], &rng)
            customers[c].contracts[k].balances.append(b)
            return "add balance \(b.id) to \(customers[c].contracts[k].id)"
        case 4:  // change a balance
            guard let (c, k) = contracts.isEmpty ? nil : rng.pick(contracts),
                !customers[c].contracts[k].balances.isEmpty
            else { return nil }
            let i = rng.int(0...(customers[c].contracts[k].balances.count - 1))
            var b = customers[c].contracts[k].balances[i]
            switch rng.int(0...2) {
            case 0: b.amount = money(rng.int(50...4000), &rng)
            case 1: b.priority = rng.int(-1...2)
            default: b.ends = b.starts.adding(days: rng.int(1...90))
            }
            customers[c].contracts[k].balances[i] = b
            return "change balance \(b.id)"
        case 5:  // a new contract: for an unknown customer, or after a customer's last one ends
            if !customers.contains(where: { $0.id == "c9" }) {
                let starts = Day(year: 2026, month: 1, day: 1)!.adding(days: rng.int(0...40))
                let contract = randomContract(customer: "c9", starts: starts, &rng)
                customers.append(CustomerModel(id: "c9", contracts: [contract]))
                return "add customer c9 with \(contract.id)"
            }
            guard let c = customers.indices.first(where: { customers[$0].contracts.last?.ends != nil }) else {
                return nil
            }
            let starts = customers[c].contracts.last!.ends!.adding(days: rng.int(0...5))
            let contract = randomContract(customer: customers[c].id, starts: starts, &rng)
            customers[c].contracts.append(contract)
            return "add contract \(contract.id)"
        case 6:  // move a contract's end
            guard let (c, k) = contracts.isEmpty ? nil : rng.pick(contracts) else { return nil }
            var contract = customers[c].contracts[k]
            let isLast = k == customers[c].contracts.count - 1
            if isLast {
                contract.ends = rng.chance(0.3) ? nil : contract.starts.adding(days: rng.int(5...100))
            } else {
                let limit = customers[c].contracts[k + 1].starts
                contract.ends = contract.starts.adding(days: rng.int(1...max(1, contract.starts.distance(to: limit))))
            }
            customers[c].contracts[k] = contract
            return "move end of \(contract.id) to \(contract.ends.map { "\($0)" } ?? "null")"
        case 7:  // billing anchor or rate card of a contract
            guard let (c, k) = contracts.isEmpty ? nil : rng.pick(contracts) else { return nil }
            if rng.chance(0.5) {
                customers[c].contracts[k].anchor = rng.int(1...28)
                return "anchor of \(customers[c].contracts[k].id)"
            }
            customers[c].contracts[k].rateCard = customers[c].contracts[k].rateCard == "rc0" ? "rc1" : "rc0"
            return "rate card of \(customers[c].contracts[k].id)"
        case 8:  // a metric's filter
            tokenRegions = tokenRegions.contains("ap") ? ["us", "eu"] : ["us", "eu", "ap"]
            return "tokens filter \(tokenRegions)"
        case 9:  // currency decimals
            guard currencyDecimals >= 2 else { return nil }
            currencyDecimals = currencyDecimals == 2 ? 3 : 2
            return "currency_decimals \(currencyDecimals)"
        case 10:  // a product's name
            let p = rng.pick(Self.allProducts)
            productNames[p] = "Renamed \(p) \(rng.int(0...99))"
            return "rename \(p)"
        default:  // remove a contract (rarely)
            guard rng.chance(0.3), let (c, k) = contracts.isEmpty ? nil : rng.pick(contracts) else { return nil }
            let id = customers[c].contracts[k].id
            customers[c].contracts.remove(at: k)
            return "remove contract \(id)"
        }
    }

    // MARK: JSON

    /// The catalog document (SPEC §2).
    public var json: String {
        func q(_ s: String) -> String { StrictJSON.quote(s) }
        func day(_ d: Day?) -> String { d.map { q("\($0)") } ?? "null" }
        var metrics: [String] = []
        metrics.append(
            #"{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens", "#
                + #""filters": {"region": ["# + tokenRegions.map(q).joined(separator: ", ")
                + #"]}, "group_by": ["model"]}"#)
        metrics.append(#"{"id": "requests", "event_type": "inference", "aggregation": "count"}"#)
        metrics.append(#"{"id": "gpu_peak", "event_type": "gpu", "aggregation": "max", "property": "gpus"}"#)
        metrics.append(
            #"{"id": "users", "event_type": "session", "aggregation": "unique_count", "property": "user", "group_by": ["plan"]}"#
        )
        metrics.append(
            #"{"id": "paid_sessions", "event_type": "session", "aggregation": "count", "filters": {"paid": [true]}}"#)
        metrics.append(
            #"{"id": "storage", "event_type": "storage", "aggregation": "sum", "property": "gb", "group_by": ["region", "tier"]}"#
        )
        metrics.append(
            #"{"id": "storage_t12", "event_type": "storage", "aggregation": "count", "filters": {"tier": [1, "2"]}}"#)
        var products: [String] = []
        for (id, metric) in Self.usageProducts {
            products.append("{\"id\": \(q(id)), \"name\": \(q(productNames[id] ?? id)), \"metric\": \(q(metric))}")
        }
        for id in Self.fixedProducts {
            products.append("{\"id\": \(q(id)), \"name\": \(q(productNames[id] ?? id)), \"fixed\": true}")
        }
        let cards = rateCards.map { card in
            let rates = card.rates.map { rate -> String in
                switch rate.price {
                case .flat(let p): return "{\"product\": \(q(rate.product)), \"unit_price\": \(q(p))}"
                case .tiers(let tiers):
                    let t = tiers.map { "{\"up_to\": \($0.upTo.map(q) ?? "null"), \"unit_price\": \(q($0.unitPrice))}" }
                    return "{\"product\": \(q(rate.product)), \"tiers\": [\(t.joined(separator: ", "))]}"
                }
            }
            return "{\"id\": \(q(card.id)), \"rates\": [\n      \(rates.joined(separator: ",\n      "))]}"
        }
        let customerJSON = customers.map { customer in
            let contracts = customer.contracts.map { c in
                let balances = c.balances.map { b in
                    "{\"id\": \(q(b.id)), \"type\": \(q(b.type)), \"amount\": \(q(b.amount)), \"starts\": \(day(b.starts)), "
                        + "\"ends\": \(day(b.ends)), \"products\": \(b.products.map { "[" + $0.map(q).joined(separator: ", ") + "]" } ?? "null")"
                        + (b.priority.map { ", \"priority\": \($0)" } ?? "") + "}"
                }
                return
                    "{\"id\": \(q(c.id)), \"rate_card\": \(q(c.rateCard)), \"starts\": \(day(c.starts)), \"ends\": \(day(c.ends)), "
                    + "\"billing_anchor_day\": \(c.anchor.map(String.init) ?? "null"), \"balances\": [\n        "
                    + balances.joined(separator: ",\n        ") + "]}"
            }
            return "{\"id\": \(q(customer.id)), \"name\": \(q("Customer " + customer.id)), \"contracts\": [\n      "
                + contracts.joined(separator: ",\n      ") + "]}"
        }
        return """
            {"currency": \(q(currency)), "currency_decimals": \(currencyDecimals), "max_lateness_days": \(maxLatenessDays),
             "finalization_grace_hours": \(graceHours),\(correctionThreshold.map { " \"correction_threshold\": \(q($0))," } ?? "")
             "metrics": [
              \(metrics.joined(separator: ",\n  "))],
             "products": [
              \(products.joined(separator: ",\n  "))],
             "rate_cards": [
              \(cards.joined(separator: ",\n  "))],
             "customers": [
              \(customerJSON.joined(separator: ",\n  "))]
            }

            """
    }

    public var bytes: [UInt8] { Array(json.utf8) }
}
