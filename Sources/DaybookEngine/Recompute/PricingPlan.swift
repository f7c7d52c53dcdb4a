import DaybookCore
import DaybookOutput
import DaybookStore

/// A catalog prepared for the hot path: metrics by event type, and per contract what to bill.
final class PricingPlan: Sendable {
    let catalog: Catalog
    let version: UInt32
    /// Event type → metrics of that type, in metric-id order.
    let metricsByEventType: [String: [Metric]]
    let contracts: [String: ContractPlan]
    /// Customer → its contracts' plans, by start day.
    let byCustomer: [String: [ContractPlan]]

    init(catalog: Catalog, version: UInt32) {
        self.catalog = catalog
        self.version = version
        var byType: [String: [Metric]] = [:]
        for metric in catalog.metrics.values.sorted(by: { $0.id.utf8Precedes($1.id) }) {
            byType[metric.eventType, default: []].append(metric)
        }
        metricsByEventType = byType
        var contracts: [String: ContractPlan] = [:]
        var byCustomer: [String: [ContractPlan]] = [:]
        for customer in catalog.customers {
            for contract in customer.contracts {
                let plan = ContractPlan(contract: contract, catalog: catalog, metricsByEventType: byType)
                contracts[contract.id] = plan
                byCustomer[customer.id, default: []].append(plan)
            }
        }
        self.contracts = contracts
        self.byCustomer = byCustomer.mapValues { $0.sorted { $0.contract.starts < $1.contract.starts } }
    }

    /// The contract of `customer` whose range contains `day`, if any.
    func contract(customer: String, day: Day) -> ContractPlan? {
        byCustomer[customer]?.first { $0.contract.covers(day) }
    }

    var currencyDecimals: Int { catalog.currencyDecimals }
}

/// What a contract bills: its usage and fixed products with prices, and its balances in draw order.
final class ContractPlan: Sendable {
    /// Checks that an invoice read back from the store under `key` fits this contract: it is
    /// the contract's, stored under its own key, its period is the contract's period starting
    /// that day, each day's closing row has one amount per balance, and its amounts have at most
    /// `decimals` fractional digits. LMDB keeps no checksums: a damaged record that still decodes
    /// would otherwise be indexed past the ends of its arrays, or trap where it is formatted.
    func checkStored(_ state: InvoiceState, key: [UInt8], decimals: Int) throws(StoreCorruption) {
        let name = "stored invoice \(contract.id)/\(state.period.start)"
        guard state.contractID == contract.id, key == Keys.invoice(contract: contract.id, start: state.period.start)
        else {
            throw StoreCorruption("\(name) is stored under another invoice's key (contract \(state.contractID))")
        }
        guard let expected = contract.period(containing: state.period.start), expected == state.period else {
            throw StoreCorruption("\(name) covers \(state.period), not a period of its contract")
        }
        guard state.closing.allSatisfy({ $0.count == balances.count }) else {
            throw StoreCorruption(
                "\(name) has closing rows that do not have one amount per balance (\(balances.count))")
        }
        try state.checkMoney(decimals: decimals)
    }

    /// A class: ingest hands rates around per event, and a struct of strings and arrays would be
    /// retained field by field at every copy.
    final class UsageRate: Sendable {
        let product: Product
        let metric: Metric
        let price: Price
        /// Index of the metric in `metricsByEventType[metric.eventType]`.
        let metricIndex: Int
        init(product: Product, metric: Metric, price: Price, metricIndex: Int) {
            self.product = product
            self.metric = metric
            self.price = price
            self.metricIndex = metricIndex
        }
    }

    let contract: Contract
    let usage: [String: UsageRate]
    /// Event type → usage rates fed by it.
    let usageByEventType: [String: [UsageRate]]
    /// Fixed products and fees.
    let fixed: [String: (product: Product, fee: FixedDecimal)]
    let balances: [Balance]
    let decimals: Int
    /// Everything that determines this contract's numbers; equal fingerprints bill identically.
    let fingerprint: Fingerprint

    struct Fingerprint: Hashable, Sendable {
        let contract: Contract
        let rateCard: RateCard
        let products: [Product]
        let metrics: [Metric]
        let decimals: Int
    }

    init(contract: Contract, catalog: Catalog, metricsByEventType: [String: [Metric]]) {
        self.contract = contract
        let card = catalog.rateCards[contract.rateCard]!
        var usage: [String: UsageRate] = [:]
        var fixed: [String: (product: Product, fee: FixedDecimal)] = [:]
        var byType: [String: [UsageRate]] = [:]
        for (productID, price) in card.rates.sorted(by: { $0.key.utf8Precedes($1.key) }) {
            let product = catalog.products[productID]!
            if let metricID = product.metric {
                let metric = catalog.metrics[metricID]!
                let index = metricsByEventType[metric.eventType]!.firstIndex { $0.id == metricID }!
                let rate = UsageRate(product: product, metric: metric, price: price, metricIndex: index)
                usage[productID] = rate
                byType[metric.eventType, default: []].append(rate)
            } else if case .flat(let fee) = price {
                fixed[productID] = (product, fee)
            }
        }
        self.usage = usage
        self.fixed = fixed
        usageByEventType = byType
        balances = contract.balances.sorted(by: Balance.drawsBefore)
        decimals = catalog.currencyDecimals
        let products = card.rates.keys.sorted(by: { $0.utf8Precedes($1) }).map { catalog.products[$0]! }
        let metrics = products.compactMap { $0.metric }.map { catalog.metrics[$0]! }
        fingerprint = Fingerprint(
            contract: contract, rateCard: card, products: products, metrics: metrics,
            decimals: catalog.currencyDecimals)
    }

    /// Line items every invoice has from the start: ungrouped usage products and fixed products.
    func initialLineItems(days: Int) -> [LineItemState] {
        var items: [LineItemState] = []
        for rate in usage.values where rate.metric.groupBy.isEmpty {
            items.append(LineItemState(id: rate.product.id, productID: rate.product.id, group: "", days: days))
        }
        for (id, f) in fixed {
            var item = LineItemState(id: id, productID: id, group: "", days: days)
            item.daily[0] = FixedDecimal(1)
            item.cumQuantity = Array(repeating: FixedDecimal(1), count: days)
            item.cumAmount = Array(repeating: f.fee, count: days)
            items.append(item)
        }
        return items.sorted { $0.id.utf8Precedes($1.id) }
    }
}
