/// One tier's part of a price function `P(Q)` (SPEC §3): the units of the cumulative quantity
/// that fall in the tier, and what they cost before rounding.
public struct TierShare: Sendable, Hashable {
    /// The tier's exclusive lower bound of cumulative quantity (0 for the first tier).
    public var from: FixedDecimal
    /// The tier's inclusive upper bound (`up_to`); nil when unbounded (and for a flat price).
    public var upTo: FixedDecimal?
    /// The units of `Q` in the tier: `min(Q, up_to) − from`.
    public var quantity: FixedDecimal
    public var unitPrice: FixedDecimal
    /// `quantity × unit_price`, exact (canonical text, up to 24 fractional digits).
    public var amount: String

    public init(
        from: FixedDecimal, upTo: FixedDecimal?, quantity: FixedDecimal, unitPrice: FixedDecimal, amount: String
    ) {
        self.from = from
        self.upTo = upTo
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.amount = amount
    }
}

/// `P(Q)` taken apart: the tiers it draws on, the exact sum and `A = round(P(Q))`.
public struct PriceSplit: Sendable, Hashable {
    public var quantity: FixedDecimal
    /// The tiers `Q` reaches, in order, each with at least one unit in it (none when `Q` is 0);
    /// a flat price is one share from 0, unbounded.
    public var tiers: [TierShare]
    /// `P(Q)` exactly, before rounding (canonical text).
    public var exact: String
    /// `round_half_even(P(Q))` to the currency's decimals: the cumulative amount `A`.
    public var amount: FixedDecimal
}

extension Price {
    /// `P(q)` tier by tier, with the exact sum and its rounding to `decimals`. Its `amount` is
    /// ``amount(for:decimals:)`` of the same quantity (one rounding of the exact total).
    public func split(for q: FixedDecimal, decimals: Int) -> PriceSplit {
        var total = WideAccumulator()
        var shares: [TierShare] = []
        func share(from: FixedDecimal, upTo: FixedDecimal?, quantity: FixedDecimal, price: FixedDecimal) {
            var part = WideAccumulator()
            part.add(quantity, times: price)
            total.add(quantity, times: price)
            shares.append(
                TierShare(from: from, upTo: upTo, quantity: quantity, unitPrice: price, amount: part.exactText))
        }
        switch self {
        case .flat(let price):
            if q > .zero { share(from: .zero, upTo: nil, quantity: q, price: price) }
        case .graduated(let tiers):
            var lower = FixedDecimal.zero
            for tier in tiers {
                if q <= lower { break }
                share(
                    from: lower, upTo: tier.upTo, quantity: (tier.upTo.map { min($0, q) } ?? q) - lower,
                    price: tier.unitPrice)
                guard let upTo = tier.upTo else { break }
                lower = upTo
            }
        }
        return PriceSplit(quantity: q, tiers: shares, exact: total.exactText, amount: total.rounded(decimals: decimals))
    }
}
