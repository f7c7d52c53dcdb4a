import DaybookCore

/// Self-consistency of materialized invoices (SPEC §3), for tests: what must hold of any
/// stored breakdown whatever events produced it. Each check returns the violations found,
/// one line each (empty when everything holds).
extension InvoiceState {
    /// Checks one invoice.
    ///
    /// - Shape: every day array has one value per day of the period, `closing` one amount per
    ///   balance; line items are in strictly increasing id byte order.
    /// - Line items: contributions are ≥ 0; `Q` is the running sum of the contributions (the
    ///   running maximum for a product in `maxProducts`); with `amount`, `A(d) = amount(Q(d))`;
    ///   credits and commits are ≥ 0 and together at most the day's subtotal; the daily
    ///   quantity, subtotal, credits, commits and total rows add up to ``LineItemState/periodTotals``.
    /// - Balances: the opening of day 0 is `opening`, of day d > 0 the closing of day d − 1;
    ///   no balance grows (0 ≤ closing ≤ opening), one not active on a day does not move, and
    ///   what the credit balances lost on a day is what the day's line items record as credits
    ///   (commits likewise).
    ///
    /// - Parameters:
    ///   - opening: the remaining amount per balance at the start of the period.
    ///   - balances: the contract's balances in draw order (the order of `closing`).
    ///   - maxProducts: products whose metric aggregates with `max`.
    ///   - amount: `A` of a product's quantity, `round(P(Q))` (nil: `A` is not checked).
    package func invariantViolations(
        opening: [FixedDecimal], balances: [Balance], maxProducts: Set<String>,
        amount: ((_ productID: String, _ quantity: FixedDecimal) -> FixedDecimal?)? = nil
    ) -> [String] {
        let name = "\(contractID)/\(period.start)"
        var problems: [String] = []
        func fail(_ message: String) { problems.append("\(name): \(message)") }
        let days = dayCount

        // Shape.
        if closing.count != days { fail("\(closing.count) closing rows for \(days) days") }
        for (d, row) in closing.enumerated() where row.count != balances.count {
            fail("day \(d): \(row.count) closing amounts for \(balances.count) balances")
        }
        if opening.count != balances.count { fail("\(opening.count) opening amounts for \(balances.count) balances") }
        for i in lineItems.indices.dropFirst() where !lineItems[i - 1].id.utf8Precedes(lineItems[i].id) {
            fail("line items out of order: \(lineItems[i - 1].id) before \(lineItems[i].id)")
        }
        for item in lineItems {
            let counts = [item.daily, item.cumQuantity, item.cumAmount, item.credits, item.commits].map(\.count)
            if counts.contains(where: { $0 != days }) {
                fail("\(item.id): day arrays of lengths \(counts) for \(days) days")
            }
        }
        guard problems.isEmpty else { return problems }

        // Line items.
        for item in lineItems {
            let isMax = maxProducts.contains(item.productID)
            var q = FixedDecimal.zero
            var sums = Totals()
            var totalSum = FixedDecimal.zero
            for d in 0..<days {
                if item.daily[d].isNegative { fail("\(item.id) day \(d): contribution \(item.daily[d]) < 0") }
                q = isMax ? max(q, item.daily[d]) : q + item.daily[d]
                if item.cumQuantity[d] != q {
                    fail(
                        "\(item.id) day \(d): Q = \(item.cumQuantity[d]), the running \(isMax ? "max" : "sum") is \(q)")
                }
                if let a = amount?(item.productID, item.cumQuantity[d]), a != item.cumAmount[d] {
                    fail("\(item.id) day \(d): A = \(item.cumAmount[d]), P(Q(d)) rounds to \(a)")
                }
                let subtotal = item.subtotal(d)
                if item.credits[d].isNegative || item.commits[d].isNegative {
                    fail("\(item.id) day \(d): credits \(item.credits[d]), commits \(item.commits[d]) below 0")
                }
                if subtotal < item.credits[d] + item.commits[d] {
                    fail(
                        "\(item.id) day \(d): credits \(item.credits[d]) + commits \(item.commits[d]) exceed subtotal \(subtotal)"
                    )
                }
                sums.quantity = sums.quantity + item.quantity(d)
                sums.subtotal = sums.subtotal + subtotal
                sums.credits = sums.credits + item.credits[d]
                sums.commits = sums.commits + item.commits[d]
                totalSum = totalSum + item.total(d)
            }
            let t = item.periodTotals
            if sums != t { fail("\(item.id): daily rows sum to \(sums), period totals are \(t)") }
            if totalSum != t.total { fail("\(item.id): daily totals sum to \(totalSum), period total is \(t.total)") }
        }

        // Balances.
        var open = opening
        for d in 0..<days {
            let day = period.start.adding(days: d)
            var drawn = (credits: FixedDecimal.zero, commits: FixedDecimal.zero)
            for (b, balance) in balances.enumerated() {
                let close = closing[d][b]
                if close.isNegative || open[b] < close {
                    fail("day \(d) balance \(balance.id): opening \(open[b]), closing \(close)")
                }
                if !balance.isActive(on: day) && close != open[b] {
                    fail("day \(d) balance \(balance.id) (inactive): opening \(open[b]), closing \(close)")
                }
                switch balance.kind {
                case .credit: drawn.credits = drawn.credits + (open[b] - close)
                case .commit: drawn.commits = drawn.commits + (open[b] - close)
                }
            }
            let credits = lineItems.reduce(FixedDecimal.zero) { $0 + $1.credits[d] }
            let commits = lineItems.reduce(FixedDecimal.zero) { $0 + $1.commits[d] }
            if drawn.credits != credits {
                fail("day \(d): credit balances drew \(drawn.credits), line items record credits \(credits)")
            }
            if drawn.commits != commits {
                fail("day \(d): commit balances drew \(drawn.commits), line items record commits \(commits)")
            }
            open = closing[d]
        }
        return problems
    }

    /// Checks the materialized invoices of one contract: they are its periods from `starts` on,
    /// one after the other; the first opens with every balance's full amount and each later
    /// one with the closing of the period before; and each passes
    /// ``invariantViolations(opening:balances:maxProducts:amount:)``.
    ///
    /// - Parameters:
    ///   - invoices: the contract's invoices (any order).
    ///   - balances: the contract's balances in draw order.
    package static func contractInvariantViolations(
        _ invoices: [InvoiceState], contract: Contract, balances: [Balance], maxProducts: Set<String>,
        amount: ((_ productID: String, _ quantity: FixedDecimal) -> FixedDecimal?)? = nil
    ) -> [String] {
        var problems: [String] = []
        var opening = balances.map(\.amount)
        var expectedStart = contract.starts
        for invoice in invoices.sorted(by: { $0.period.start < $1.period.start }) {
            if invoice.contractID != contract.id {
                problems.append("\(invoice.contractID)/\(invoice.period.start): listed under contract \(contract.id)")
            }
            if invoice.period.start != expectedStart
                || contract.period(containing: invoice.period.start) != invoice.period
            {
                problems.append(
                    "\(contract.id): invoice for \(invoice.period) where the next period starts \(expectedStart)")
                return problems  // openings would no longer chain
            }
            problems += invoice.invariantViolations(
                opening: opening, balances: balances, maxProducts: maxProducts, amount: amount)
            guard let last = invoice.closing.last else { return problems }
            opening = last
            expectedStart = invoice.period.end
        }
        return problems
    }
}
