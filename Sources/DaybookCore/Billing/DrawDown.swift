/// The balance draw-down of one contract day (SPEC §3 "Balances"), as a pure function.
///
/// Line items are offered in line-item id byte order; each line item's subtotal is covered by
/// the balances active that day that apply to its product, in draw order, each giving
/// `min(remaining charge, remaining balance)`.
public enum DrawDown {
    /// What one line item took from balances on a day.
    public struct Applied: Hashable, Sendable {
        public var credits: FixedDecimal = .zero
        public var commits: FixedDecimal = .zero
        public init(credits: FixedDecimal = .zero, commits: FixedDecimal = .zero) {
            self.credits = credits
            self.commits = commits
        }
    }

    /// Allocates one day.
    ///
    /// - Parameters:
    ///   - charges: `(product id, subtotal)` per line item, already in line-item id order.
    ///   - balances: the contract's balances in draw order (``Balance/drawsBefore(_:_:)``).
    ///   - remaining: remaining amount per balance (same order) at the start of the day; updated.
    ///   - day: the day, for the balances' active ranges.
    /// - Returns: per line item, what credits and commits covered.
    public static func allocate(
        charges: [(product: String, subtotal: FixedDecimal)], balances: [Balance],
        remaining: inout [FixedDecimal], day: Day
    ) -> [Applied] {
        var result = [Applied](repeating: Applied(), count: charges.count)
        if balances.isEmpty { return result }
        let active = balances.indices.filter { balances[$0].isActive(on: day) && !remaining[$0].isZero }
        if active.isEmpty { return result }
        for (i, charge) in charges.enumerated() where charge.subtotal > .zero {
            var left = charge.subtotal
            for b in active where balances[b].applies(to: charge.product) && remaining[b] > .zero {
                let take = min(left, remaining[b])
                remaining[b] = remaining[b] - take
                left = left - take
                switch balances[b].kind {
                case .credit: result[i].credits = result[i].credits + take
                case .commit: result[i].commits = result[i].commits + take
                }
                if left.isZero { break }
            }
        }
        return result
    }
}
