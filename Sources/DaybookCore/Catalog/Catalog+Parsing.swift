/// One problem found in a catalog document, located by its JSON path (`$.customers[0].contracts[1].ends`).
public struct CatalogIssue: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// A catalog document that cannot be loaded; lists every problem found.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public var issues: [CatalogIssue]
    public var description: String {
        "invalid catalog (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n"
            + issues.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension Catalog {
    /// Parses and validates a catalog document (SPEC §2).
    ///
    /// - Throws: ``CatalogError`` listing every problem with its JSON path; nothing is partially loaded.
    public static func parse(_ bytes: [UInt8]) throws(CatalogError) -> Catalog {
        let root: JSONValue
        do { root = try StrictJSON.parse(bytes) } catch {
            throw CatalogError(issues: [CatalogIssue(path: "$", message: "not valid JSON: \(error)")])
        }
        var r = CatalogReader()
        let catalog = r.catalog(root)
        if !r.issues.isEmpty || catalog == nil {
            throw CatalogError(issues: r.issues.isEmpty ? [CatalogIssue(path: "$", message: "invalid")] : r.issues)
        }
        return catalog!
    }
}

/// Walks a catalog document, collecting every issue instead of stopping at the first.
private struct CatalogReader {
    var issues: [CatalogIssue] = []

    mutating func fail(_ path: String, _ message: String) { issues.append(CatalogIssue(path: path, message: message)) }

    // MARK: Field readers

    mutating func object(_ v: JSONValue?, _ path: String) -> JSONObject? {
        guard case .object(let o)? = v else {
            fail(path, v == nil ? "missing (an object is required)" : "must be an object"); return nil
        }
        return o
    }

    mutating func array(_ v: JSONValue?, _ path: String, optional: Bool = false) -> [JSONValue]? {
        if optional, v == nil || v == .null { return [] }
        guard case .array(let a)? = v else {
            fail(path, v == nil ? "missing (an array is required)" : "must be an array"); return nil
        }
        return a
    }

    mutating func string(_ v: JSONValue?, _ path: String) -> String? {
        guard case .string(let s)? = v else {
            fail(path, v == nil ? "missing (a string is required)" : "must be a string"); return nil
        }
        if s.isEmpty { fail(path, "must not be empty"); return nil }
        if s.utf8.count > Catalog.maxIDBytes { fail(path, "longer than \(Catalog.maxIDBytes) bytes"); return nil }
        return s
    }

    mutating func integer(_ v: JSONValue?, _ path: String, default def: Int?, range: ClosedRange<Int>) -> Int? {
        if v == nil || v == .null {
            if let def { return def }
            fail(path, "missing (an integer is required)"); return nil
        }
        guard case .number(let text)? = v, let d = DecimalText(json: text), d.fractionalDigits == 0,
            d.integerDigits <= 9, let f = d.fixed
        else {
            fail(path, "must be an integer"); return nil
        }
        let n = Int(f.raw / FixedDecimal.unit)
        guard range.contains(n) else {
            fail(path, "must be between \(range.lowerBound) and \(range.upperBound)"); return nil
        }
        return n
    }

    mutating func day(_ v: JSONValue?, _ path: String, nullable: Bool) -> Day?? {
        if nullable, v == nil || v == .null { return .some(nil) }
        guard case .string(let s)? = v else {
            fail(path, v == nil ? "missing (a date YYYY-MM-DD is required)" : "must be a date string YYYY-MM-DD");
            return nil
        }
        guard let d = Day(parsing: s) else { fail(path, "\"\(s)\" is not a valid date YYYY-MM-DD"); return nil }
        return .some(d)
    }

    /// A decimal written as a string (or, leniently, a JSON number) with limits.
    mutating func decimal(_ v: JSONValue?, _ path: String, maxFraction: Int, below limit: Int, what: String)
        -> FixedDecimal?
    {
        let text: String
        let parsed: DecimalText?
        switch v {
        case .string(let s)?: text = s; parsed = DecimalText(plain: s)
        case .number(let s)?: text = s; parsed = DecimalText(json: s)
        case nil: fail(path, "missing (a decimal string is required)"); return nil
        default: fail(path, "must be a decimal string"); return nil
        }
        guard let d = parsed else { fail(path, "\"\(text)\" is not a decimal number"); return nil }
        if d.negative && !d.isZero { fail(path, "\(what) must not be negative"); return nil }
        if d.fractionalDigits > maxFraction {
            fail(path, "\(what) \"\(text)\" has more than \(maxFraction) fractional digits"); return nil
        }
        guard let f = d.fixed, f < FixedDecimal(limit) else {
            fail(path, "\(what) \"\(text)\" must be below \(limit)"); return nil
        }
        return f
    }

    // MARK: Document

    mutating func catalog(_ root: JSONValue) -> Catalog? {
        guard let o = object(root, "$") else { return nil }
        var currency = "USD"
        if let c = o["currency"] { currency = string(c, "$.currency") ?? currency }
        let decimals =
            integer(o["currency_decimals"], "$.currency_decimals", default: 2, range: 0...FixedDecimal.scale) ?? 2
        let lateness = integer(o["max_lateness_days"], "$.max_lateness_days", default: 34, range: 0...100_000) ?? 34
        let grace =
            integer(o["finalization_grace_hours"], "$.finalization_grace_hours", default: 24, range: 0...1_000_000)
            ?? 24
        let alertDays =
            integer(
                o["balance_alert_days"], "$.balance_alert_days", default: Catalog.defaultBalanceAlertDays,
                range: Catalog.balanceAlertDayRange) ?? Catalog.defaultBalanceAlertDays
        let threshold =
            o["correction_threshold"] == nil
            ? FixedDecimal.zero
            : decimal(
                o["correction_threshold"], "$.correction_threshold", maxFraction: decimals,
                below: 1_000_000_000_000_000, what: "correction_threshold")

        var metrics: [String: Metric] = [:]
        for (i, m) in (array(o["metrics"], "$.metrics", optional: true) ?? []).enumerated() {
            let path = "$.metrics[\(i)]"
            guard let metric = metric(m, path) else { continue }
            if metrics[metric.id] != nil { fail(path + ".id", "duplicate metric id \"\(metric.id)\"") }
            metrics[metric.id] = metric
        }
        var products: [String: Product] = [:]
        for (i, p) in (array(o["products"], "$.products", optional: true) ?? []).enumerated() {
            let path = "$.products[\(i)]"
            guard let product = product(p, path, metrics: metrics) else { continue }
            if products[product.id] != nil { fail(path + ".id", "duplicate product id \"\(product.id)\"") }
            products[product.id] = product
        }
        var rateCards: [String: RateCard] = [:]
        for (i, c) in (array(o["rate_cards"], "$.rate_cards", optional: true) ?? []).enumerated() {
            let path = "$.rate_cards[\(i)]"
            guard let card = rateCard(c, path, products: products, decimals: decimals) else { continue }
            if rateCards[card.id] != nil { fail(path + ".id", "duplicate rate card id \"\(card.id)\"") }
            rateCards[card.id] = card
        }
        var customers: [Customer] = []
        var contractIDs: Set<String> = []
        var balanceIDs: Set<String> = []
        for (i, c) in (array(o["customers"], "$.customers", optional: true) ?? []).enumerated() {
            let path = "$.customers[\(i)]"
            guard let co = object(c, path), let id = string(co["id"], path + ".id") else { continue }
            if customers.contains(where: { $0.id == id }) { fail(path + ".id", "duplicate customer id \"\(id)\"") }
            var name = id
            if let n = co["name"] { name = string(n, path + ".name") ?? id }
            var contracts: [Contract] = []
            for (j, k) in (array(co["contracts"], path + ".contracts", optional: true) ?? []).enumerated() {
                let cpath = "\(path).contracts[\(j)]"
                guard
                    let contract = contract(
                        k, cpath, customer: id, rateCards: rateCards, products: products, decimals: decimals)
                else { continue }
                if !contractIDs.insert(contract.id).inserted {
                    fail(cpath + ".id", "duplicate contract id \"\(contract.id)\"")
                }
                for (b, balance) in contract.balances.enumerated() where !balanceIDs.insert(balance.id).inserted {
                    fail("\(cpath).balances[\(b)].id", "duplicate balance id \"\(balance.id)\"")
                }
                for (other, prev) in contracts.enumerated() where overlaps(prev, contract) {
                    fail(cpath, "overlaps contract \"\(prev.id)\" (\(path).contracts[\(other)]) of the same customer")
                }
                contracts.append(contract)
            }
            customers.append(Customer(id: id, name: name, contracts: contracts))
        }
        guard issues.isEmpty else { return nil }
        var catalog = Catalog(
            currency: currency, currencyDecimals: decimals, maxLatenessDays: lateness,
            finalizationGraceHours: grace, metrics: metrics, products: products,
            rateCards: rateCards, customers: customers)
        catalog.balanceAlertDays = alertDays
        catalog.correctionThreshold = threshold ?? .zero
        return catalog
    }

    func overlaps(_ a: Contract, _ b: Contract) -> Bool {
        let aEnd = a.ends ?? Day(number: .max), bEnd = b.ends ?? Day(number: .max)
        return a.starts < bEnd && b.starts < aEnd
    }

    mutating func metric(_ v: JSONValue, _ path: String) -> Metric? {
        guard let o = object(v, path) else { return nil }
        let id = string(o["id"], path + ".id")
        let eventType = string(o["event_type"], path + ".event_type")
        var aggregation: Aggregation?
        if case .string(let s)? = o["aggregation"], let a = Aggregation(rawValue: s) {
            aggregation = a
        } else {
            fail(path + ".aggregation", "must be one of count, sum, max, unique_count")
        }
        var property: String?
        if let p = o["property"], p != .null { property = string(p, path + ".property") }
        if aggregation != nil && aggregation != .count && property == nil && o["property"] == nil {
            fail(path + ".property", "required for aggregation \(aggregation!.rawValue)")
        }
        var filters: [Metric.Filter] = []
        if let f = o["filters"], f != .null {
            if case .object(let fo) = f {
                for (key, allowed) in fo.members {
                    let fpath = "\(path).filters.\(key)"
                    guard case .array(let values) = allowed, !values.isEmpty else {
                        fail(fpath, "must be a non-empty array of values"); continue
                    }
                    var set: Set<String> = []
                    for (k, value) in values.enumerated() {
                        guard let c = PropertyValue(json: value)?.canonical else {
                            fail("\(fpath)[\(k)]", "must be a string, number or boolean"); continue
                        }
                        set.insert(c)
                    }
                    filters.append(Metric.Filter(property: key, allowed: set))
                }
                filters.sort { $0.property.utf8Precedes($1.property) }
            } else {
                fail(path + ".filters", "must be an object of property → allowed values")
            }
        }
        var groupBy: [String] = []
        if let g = o["group_by"], g != .null {
            if case .array(let items) = g, items.count <= 3 {
                for (k, item) in items.enumerated() {
                    guard let s = string(item, "\(path).group_by[\(k)]") else { continue }
                    if groupBy.contains(s) { fail("\(path).group_by[\(k)]", "repeated property \"\(s)\"") }
                    groupBy.append(s)
                }
            } else {
                fail(path + ".group_by", "must be an array of 0 to 3 property names")
            }
        }
        guard let id, let eventType, let aggregation else { return nil }
        return Metric(
            id: id, eventType: eventType, aggregation: aggregation,
            property: aggregation == .count ? nil : property, filters: filters, groupBy: groupBy)
    }

    mutating func product(_ v: JSONValue, _ path: String, metrics: [String: Metric]) -> Product? {
        guard let o = object(v, path), let id = string(o["id"], path + ".id") else { return nil }
        var name = id
        if let n = o["name"] { name = string(n, path + ".name") ?? id }
        let fixed = o["fixed"] == .bool(true)
        if let f = o["fixed"], f != .null, f != .bool(true), f != .bool(false) {
            fail(path + ".fixed", "must be a boolean")
        }
        let metricValue = o["metric"]
        if fixed {
            if let m = metricValue, m != .null { fail(path + ".metric", "a fixed product has no metric") }
            return Product(id: id, name: name, metric: nil)
        }
        guard let metric = string(metricValue, path + ".metric") else { return nil }
        guard metrics[metric] != nil else { fail(path + ".metric", "unknown metric \"\(metric)\""); return nil }
        return Product(id: id, name: name, metric: metric)
    }

    mutating func rateCard(_ v: JSONValue, _ path: String, products: [String: Product], decimals: Int) -> RateCard? {
        guard let o = object(v, path), let id = string(o["id"], path + ".id") else { return nil }
        var rates: [String: Price] = [:]
        for (i, r) in (array(o["rates"], path + ".rates") ?? []).enumerated() {
            let rpath = "\(path).rates[\(i)]"
            guard let ro = object(r, rpath), let productID = string(ro["product"], rpath + ".product") else { continue }
            guard let product = products[productID] else {
                fail(rpath + ".product", "unknown product \"\(productID)\""); continue
            }
            if rates[productID] != nil {
                fail(rpath + ".product", "product \"\(productID)\" is priced twice on this rate card")
            }
            let hasFlat = ro["unit_price"] != nil && ro["unit_price"] != .null
            let hasTiers = ro["tiers"] != nil && ro["tiers"] != .null
            if hasFlat == hasTiers { fail(rpath, "needs exactly one of unit_price or tiers"); continue }
            if hasFlat {
                let maxFraction = product.isFixed ? decimals : 12
                guard
                    let p = decimal(
                        ro["unit_price"], rpath + ".unit_price", maxFraction: maxFraction, below: 1_000_000_000,
                        what: "price")
                else { continue }
                rates[productID] = .flat(p)
                continue
            }
            if product.isFixed { fail(rpath + ".tiers", "a fixed product takes a unit_price, not tiers"); continue }
            guard let tiers = array(ro["tiers"], rpath + ".tiers") else { continue }
            if tiers.isEmpty { fail(rpath + ".tiers", "must not be empty"); continue }
            var parsed: [Tier] = []
            var ok = true
            for (k, t) in tiers.enumerated() {
                let tpath = "\(rpath).tiers[\(k)]"
                guard let to = object(t, tpath) else { ok = false; continue }
                let price = decimal(
                    to["unit_price"], tpath + ".unit_price", maxFraction: 12, below: 1_000_000_000, what: "price")
                var upTo: FixedDecimal?
                let last = k == tiers.count - 1
                if last {
                    if let u = to["up_to"], u != .null {
                        fail(tpath + ".up_to", "the last tier's up_to must be null (unbounded)"); ok = false
                    }
                } else if to["up_to"] == nil || to["up_to"] == .null {
                    fail(tpath + ".up_to", "only the last tier may be unbounded"); ok = false
                } else {
                    upTo = decimal(
                        to["up_to"], tpath + ".up_to", maxFraction: 9, below: 1_000_000_000_000_000, what: "up_to")
                    if let u = upTo, let prev = parsed.last?.upTo, u <= prev {
                        fail(tpath + ".up_to", "tiers must be strictly increasing"); ok = false
                    }
                    if let u = upTo, u.isZero { fail(tpath + ".up_to", "must be above 0"); ok = false }
                    if upTo == nil { ok = false }
                }
                guard let price else { ok = false; continue }
                parsed.append(Tier(upTo: upTo, unitPrice: price))
            }
            if ok { rates[productID] = .graduated(parsed) }
        }
        return RateCard(id: id, rates: rates)
    }

    mutating func contract(
        _ v: JSONValue, _ path: String, customer: String, rateCards: [String: RateCard],
        products: [String: Product], decimals: Int
    ) -> Contract? {
        guard let o = object(v, path) else { return nil }
        let id = string(o["id"], path + ".id")
        let card = string(o["rate_card"], path + ".rate_card")
        if let card, rateCards[card] == nil { fail(path + ".rate_card", "unknown rate card \"\(card)\"") }
        let starts = day(o["starts"], path + ".starts", nullable: false)
        let ends = day(o["ends"], path + ".ends", nullable: true)
        if let s = starts ?? nil, let e = ends ?? nil, e <= s { fail(path + ".ends", "must be after starts") }
        let anchor = integer(o["billing_anchor_day"], path + ".billing_anchor_day", default: 1, range: 1...28)
        var balances: [Balance] = []
        for (i, b) in (array(o["balances"], path + ".balances", optional: true) ?? []).enumerated() {
            if let balance = balance(b, "\(path).balances[\(i)]", products: products, decimals: decimals) {
                if balances.contains(where: { $0.id == balance.id }) { continue }  // reported by the caller's id check
                balances.append(balance)
            }
        }
        guard let id, let card, rateCards[card] != nil, let s = starts ?? nil, let ends, let anchor else { return nil }
        return Contract(
            id: id, customerID: customer, rateCard: card, starts: s, ends: ends,
            billingAnchorDay: anchor, balances: balances)
    }

    mutating func balance(_ v: JSONValue, _ path: String, products: [String: Product], decimals: Int) -> Balance? {
        guard let o = object(v, path) else { return nil }
        let id = string(o["id"], path + ".id")
        var kind: Balance.Kind?
        if case .string(let s)? = o["type"], let k = Balance.Kind(rawValue: s) {
            kind = k
        } else {
            fail(path + ".type", "must be \"credit\" or \"commit\"")
        }
        let amount = decimal(
            o["amount"], path + ".amount", maxFraction: decimals, below: 1_000_000_000_000_000, what: "amount")
        let starts = day(o["starts"], path + ".starts", nullable: false)
        let ends = day(o["ends"], path + ".ends", nullable: false)
        if let s = starts ?? nil, let e = ends ?? nil, e <= s { fail(path + ".ends", "must be after starts") }
        var productSet: Set<String>?
        if let p = o["products"], p != .null {
            if case .array(let items) = p {
                var set: Set<String> = []
                for (k, item) in items.enumerated() {
                    guard let pid = string(item, "\(path).products[\(k)]") else { continue }
                    if products[pid] == nil { fail("\(path).products[\(k)]", "unknown product \"\(pid)\"") }
                    set.insert(pid)
                }
                productSet = set
            } else {
                fail(path + ".products", "must be an array of product ids or null")
            }
        }
        let priority = integer(o["priority"], path + ".priority", default: 0, range: -1_000_000...1_000_000)
        guard let id, let kind, let amount, let s = starts ?? nil, let e = ends ?? nil, let priority else { return nil }
        return Balance(id: id, kind: kind, amount: amount, starts: s, ends: e, products: productSet, priority: priority)
    }
}
