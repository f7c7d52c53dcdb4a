extension Price {
    /// `round_half_even(P(q))` to `decimals` digits (SPEC §3): flat `q × price`, or the graduated
    /// sum where each unit is priced by the tier its cumulative position falls in. Exact.
    public func amount(for q: FixedDecimal, decimals: Int) -> FixedDecimal {
        switch self {
        case .flat(let price):
            return FixedDecimal.amount(q, times: price, decimals: decimals)
        case .graduated(let tiers):
            var acc = WideAccumulator()
            var lower = FixedDecimal.zero
            for tier in tiers {
                if q <= lower { break }
                let top = tier.upTo.map { min($0, q) } ?? q
                acc.add(top - lower, times: tier.unitPrice)
                guard let upTo = tier.upTo else { break }
                lower = upTo
            }
            return acc.rounded(decimals: decimals)
        }
    }

    /// The unit price shown for a period-to-date quantity (SPEC §5): the flat price, or the
    /// price of the first tier with `q ≤ up_to`.
    public func unitPrice(at q: FixedDecimal) -> FixedDecimal {
        switch self {
        case .flat(let price): return price
        case .graduated(let tiers):
            for tier in tiers {
                guard let upTo = tier.upTo else { return tier.unitPrice }
                if q <= upTo { return tier.unitPrice }
            }
            return tiers.last!.unitPrice
        }
    }
}
