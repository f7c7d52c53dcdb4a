import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload

/// A from-scratch, deliberately naive implementation of SPEC §3 billing and the §5 export.
///
/// It shares nothing with `DaybookEngine`'s recompute code: it only uses DaybookCore's primitives
/// for decimals, period boundaries, price functions and metric matching (`Metric.evaluate`). Every
/// call recomputes everything from the events it is given, so the engine's incremental state can be
/// checked against it.
///
/// The caller passes the events the log holds: accepted and de-duplicated (the first accepted event
/// of each `transaction_id`), in any order.
public enum ReferenceBilling {
    /// One line item of one invoice, computed for the days `0..<days` of its period.
    struct Line {
        var id: String
        var productID: String
        var group: String
        /// Period-to-date quantity `Q(d)`.
        var cumulative: [FixedDecimal]
        /// Daily quantity `q(d)`.
        var quantity: [FixedDecimal]
        var unitPrice: [FixedDecimal]
        var subtotal: [FixedDecimal]
        var credits: [FixedDecimal]
        var commits: [FixedDecimal]
    }

    struct Invoice {
        var id: String
        var contract: Contract
        var period: BillingPeriod
        /// Days of the period before `asOf`.
        var days: Int
        /// Sorted by line-item id (UTF-8 byte order).
        var lines: [Line]
    }

    /// The three export tables as `daybook export --as-of asOf` writes them (SPEC §5).
    public static func export(
        catalog: Catalog, events: [UsageEvent], asOf: Day,
        finalizedInvoiceIDs: Set<String>
    ) -> BreakdownExport {
        let decimals = catalog.currencyDecimals
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
        let eventsByCustomer = Dictionary(grouping: events, by: \.customerID)

        var out = BreakdownExport()
        var invoices: [Invoice] = []
        var balanceRows: [[String]] = []

        for contract in catalog.contracts {
            guard let card = catalog.rateCards[contract.rateCard] else { continue }
            let customerEvents = eventsByCustomer[contract.customerID] ?? []
            var contractInvoices: [Invoice] = []
            for period in contract.periods(beginningOnOrBefore: asOf.adding(days: -1)) where period.start < asOf {
                let days = Int(min(period.end, asOf).number - period.start.number)
                let periodEvents = customerEvents.filter { period.contains($0.day) }
                var lines: [Line] = []
                for (productID, price) in card.rates {
                    guard let product = catalog.products[productID] else { continue }
                    if let metricID = product.metric {
                        guard let metric = catalog.metrics[metricID] else { continue }
                        lines += usageLines(
                            product: productID, metric: metric, price: price, events: periodEvents,
                            period: period, days: days, decimals: decimals)
                    } else {
                        lines.append(fixedLine(product: productID, price: price, days: days))
                    }
                }
                lines.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
                contractInvoices.append(
                    Invoice(
                        id: "\(contract.id)/\(period.start)", contract: contract,
                        period: period, days: days, lines: lines))
            }
            balanceRows += drawDown(contract: contract, invoices: &contractInvoices, asOf: asOf, money: money)
            invoices += contractInvoices
        }

        invoices.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        for invoice in invoices {
            let c = invoice.contract
            let status = finalizedInvoiceIDs.contains(invoice.id) ? "finalized" : "draft"
            for k in 0..<invoice.days {
                var subtotal = FixedDecimal.zero, credits = FixedDecimal.zero, commits = FixedDecimal.zero
                for line in invoice.lines {
                    subtotal = subtotal + line.subtotal[k]
                    credits = credits + line.credits[k]
                    commits = commits + line.commits[k]
                }
                out.invoices.rows.append([
                    invoice.id, c.customerID, c.id, "\(invoice.period.start)", "\(invoice.period.end)",
                    "\(invoice.period.start.adding(days: k))", status, catalog.currency,
                    money(subtotal), money(credits), money(commits), money(subtotal - credits - commits),
                ])
            }
            for line in invoice.lines {
                let name = catalog.products[line.productID]?.name ?? line.productID
                for k in 0..<invoice.days {
                    let total = line.subtotal[k] - line.credits[k] - line.commits[k]
                    out.lineItems.rows.append([
                        invoice.id, c.customerID, line.id, line.productID, name, line.group,
                        "\(invoice.period.start.adding(days: k))", line.quantity[k].canonical,
                        line.unitPrice[k].canonical,
                        money(line.subtotal[k]), money(line.credits[k]), money(line.commits[k]), money(total),
                    ])
                }
            }
        }
        balanceRows.sort { a, b in
            a[0] != b[0]
                ? a[0].utf8.lexicographicallyPrecedes(b[0].utf8) : a[4].utf8.lexicographicallyPrecedes(b[4].utf8)
        }
        out.balances.rows = balanceRows
        return out
    }

    /// The invoice an event bills to, if it bills to one: the customer's contract covering the
    /// event's day, when a usage product on that contract's rate card meters the event's type
    /// (whatever the metric's filters or the value make of it). SPEC §4 "late events".
    public static func invoiceBilled(by event: UsageEvent, catalog: Catalog) -> String? {
        guard
            let contract = catalog.contracts.first(where: {
                $0.customerID == event.customerID && $0.covers(event.day)
            }),
            let card = catalog.rateCards[contract.rateCard],
            card.rates.keys.contains(where: { product in
                catalog.products[product]?.metric.flatMap { catalog.metrics[$0] }?.eventType == event.eventType
            }),
            let period = contract.period(containing: event.day)
        else { return nil }
        return "\(contract.id)/\(period.start)"
    }

    // MARK: Line items

    /// A fixed fee: quantity 1 and the fee on the period's first day, 0 after; unit price the fee.
    static func fixedLine(product: String, price: Price, days: Int) -> Line {
        let fee: FixedDecimal
        switch price {
        case .flat(let p): fee = p
        case .graduated(let tiers): fee = tiers.first?.unitPrice ?? .zero  // not accepted by the catalog
        }
        var line = Line(
            id: product, productID: product, group: "", cumulative: [], quantity: [], unitPrice: [],
            subtotal: [], credits: [], commits: [])
        for k in 0..<days {
            line.cumulative.append(FixedDecimal(1))
            line.quantity.append(k == 0 ? FixedDecimal(1) : .zero)
            line.unitPrice.append(fee)
            line.subtotal.append(k == 0 ? fee : .zero)
            line.credits.append(.zero)
            line.commits.append(.zero)
        }
        return line
    }

    /// The line items of one usage product in one period: one per group value among the events the
    /// metric counts in the whole period (one ungrouped line item always).
    static func usageLines(
        product: String, metric: Metric, price: Price, events: [UsageEvent],
        period: BillingPeriod, days: Int, decimals: Int
    ) -> [Line] {
        // group key → (day index, contribution) for every counted event of the period.
        var groups: [String: [(Int, MetricContribution)]] = [:]
        if metric.groupBy.isEmpty { groups[""] = [] }
        for event in events {
            if case .contributes(let contribution, let group) = metric.evaluate(event) {
                groups[group, default: []].append((Int(event.day.number - period.start.number), contribution))
            }
        }
        var lines: [Line] = []
        for (group, contributions) in groups {
            var line = Line(
                id: product + group, productID: product, group: group, cumulative: [], quantity: [],
                unitPrice: [], subtotal: [], credits: [], commits: [])
            var previousQ = FixedDecimal.zero
            var previousA = FixedDecimal.zero
            for k in 0..<days {
                // Q(k): the metric over every event of the line item with day ≤ k — recomputed from scratch.
                let q = aggregate(metric.aggregation, contributions.filter { $0.0 <= k }.map(\.1))
                let a = price.amount(for: q, decimals: decimals)
                line.cumulative.append(q)
                line.quantity.append(q - previousQ)
                line.unitPrice.append(shownUnitPrice(price, q))
                line.subtotal.append(a - previousA)
                line.credits.append(.zero)
                line.commits.append(.zero)
                previousQ = q
                previousA = a
            }
            lines.append(line)
        }
        return lines
    }

    /// SPEC §3 "Period-to-date quantity" over a set of contributions.
    static func aggregate(_ aggregation: Aggregation, _ contributions: [MetricContribution]) -> FixedDecimal {
        switch aggregation {
        case .count:
            return FixedDecimal(contributions.count)
        case .sum:
            var s = FixedDecimal.zero
            for case .value(let v) in contributions { s = s + v }
            return s
        case .max:
            var m = FixedDecimal.zero
            for case .value(let v) in contributions where m < v { m = v }
            return m
        case .uniqueCount:
            var seen: Set<String> = []
            for case .distinct(let v) in contributions { seen.insert(v) }
            return FixedDecimal(seen.count)
        }
    }

    /// SPEC §5 `unit_price`: the flat price, or the first tier with `Q ≤ up_to` (the unbounded one otherwise).
    static func shownUnitPrice(_ price: Price, _ q: FixedDecimal) -> FixedDecimal {
        switch price {
        case .flat(let p): return p
        case .graduated(let tiers):
            return tiers.first { tier in tier.upTo.map { !($0 < q) } ?? true }?.unitPrice ?? .zero
        }
    }

    // MARK: Balances

    /// SPEC §3 "Balances": day by day over the contract's days in date order, line items in id order,
    /// each subtotal covered by the active applicable balances in (priority, credit before commit,
    /// ends, id) order. Fills in the line items' credits and commits; returns the balance rows (§5).
    static func drawDown(
        contract: Contract, invoices: inout [Invoice], asOf: Day,
        money: (FixedDecimal) -> String
    ) -> [[String]] {
        let order = contract.balances.indices.sorted { i, j in
            let a = contract.balances[i], b = contract.balances[j]
            if a.priority != b.priority { return a.priority < b.priority }
            if a.kind != b.kind { return a.kind == .credit }
            if a.ends != b.ends { return a.ends < b.ends }
            return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
        }
        var remaining = contract.balances.map(\.amount)
        var drawn: [[Day: FixedDecimal]] = Array(repeating: [:], count: contract.balances.count)

        for i in invoices.indices {  // periods in date order, contiguous from `starts`
            for k in 0..<invoices[i].days {
                let day = invoices[i].period.start.adding(days: k)
                for l in invoices[i].lines.indices {
                    var charge = invoices[i].lines[l].subtotal[k]
                    let product = invoices[i].lines[l].productID
                    for b in order where charge > .zero {
                        let balance = contract.balances[b]
                        guard day >= balance.starts, day < balance.ends,
                            balance.products == nil || balance.products!.contains(product),
                            remaining[b] > .zero
                        else { continue }
                        let take = charge < remaining[b] ? charge : remaining[b]
                        charge = charge - take
                        remaining[b] = remaining[b] - take
                        drawn[b][day, default: .zero] = drawn[b][day, default: .zero] + take
                        if balance.kind == .credit {
                            invoices[i].lines[l].credits[k] = invoices[i].lines[l].credits[k] + take
                        } else {
                            invoices[i].lines[l].commits[k] = invoices[i].lines[l].commits[k] + take
                        }
                    }
                }
            }
        }

        var rows: [[String]] = []
        for (b, balance) in contract.balances.enumerated() {
            var left = balance.amount
            var day = balance.starts
            while day < balance.ends && day < asOf {
                let took = drawn[b][day] ?? .zero
                rows.append([
                    balance.id, contract.customerID, contract.id, balance.kind.rawValue, "\(day)",
                    money(left), money(took), money(left - took),
                ])
                left = left - took
                day = day.adding(days: 1)
            }
        }
        return rows
    }
}
