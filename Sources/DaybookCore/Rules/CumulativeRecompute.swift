/// The cutoff recompute of one line item's period-to-date quantity `Q` and cumulative amount
/// `A` (SPEC §3), as a pure function over its day arrays.
///
/// `Q(k)` is the running sum of the daily contributions (count, sum, unique_count, fixed) or
/// their running maximum (max); `A(k) = round(P(Q(k)))`. After the contributions of some days
/// changed, only days from the first changed one need recomputing, and the walk can stop at
/// the first day `k ≥ lastTouched` whose recomputed `Q(k)` equals the stored one: every later
/// `Q` (hence `A`) depends only on `Q(k)` and contributions that did not change.
public enum CumulativeRecompute {
    public struct Result: Sendable, Hashable {
        /// First and last day index whose `A` changed (nil when no amount changed). A changed
        /// `A(k)` changes the subtotals of days `k` and `k + 1`.
        public var changedAmounts: ClosedRange<Int>?
        /// Days whose `Q` was evaluated (the engine's `line_item_days_evaluated`).
        public var daysEvaluated: Int

        public init(changedAmounts: ClosedRange<Int>?, daysEvaluated: Int) {
            self.changedAmounts = changedAmounts
            self.daysEvaluated = daysEvaluated
        }
    }

    /// Recomputes `cumQuantity` and `cumAmount` in place from day index `from`.
    ///
    /// - Parameters:
    ///   - daily: each day's own contribution (already updated).
    ///   - cumQuantity: stored `Q`, same length as `daily`; updated.
    ///   - cumAmount: stored `A`, same length; updated where `Q` changed.
    ///   - from: the first day index whose contribution changed.
    ///   - lastTouched: the last day index whose contribution changed; the walk does not stop
    ///     before it.
    ///   - isMax: `Q` is the running maximum (max aggregation) rather than the running sum.
    ///   - amount: `A` of a quantity, `round(P(q))`.
    public static func run(
        daily: [FixedDecimal], cumQuantity: inout [FixedDecimal], cumAmount: inout [FixedDecimal],
        from: Int, lastTouched: Int, isMax: Bool, amount: (FixedDecimal) -> FixedDecimal
    ) -> Result {
        precondition(cumQuantity.count == daily.count && cumAmount.count == daily.count, "day arrays differ in length")
        var first: Int?, last = from
        var evaluated = 0
        for k in from..<daily.count {
            evaluated += 1
            let previous = k > 0 ? cumQuantity[k - 1] : .zero
            let q = isMax ? max(previous, daily[k]) : previous + daily[k]
            if q == cumQuantity[k] {
                if k >= lastTouched { break }
                continue
            }
            cumQuantity[k] = q
            let a = amount(q)
            if a != cumAmount[k] {
                cumAmount[k] = a
                if first == nil { first = k }
                last = k
            }
        }
        return Result(changedAmounts: first.map { $0...last }, daysEvaluated: evaluated)
    }

    /// ``run(daily:cumQuantity:cumAmount:from:lastTouched:isMax:amount:)`` with
    /// `A = price.amount(for: Q, decimals: decimals)`.
    public static func run(
        daily: [FixedDecimal], cumQuantity: inout [FixedDecimal], cumAmount: inout [FixedDecimal],
        from: Int, lastTouched: Int, isMax: Bool, price: Price, decimals: Int
    ) -> Result {
        run(
            daily: daily, cumQuantity: &cumQuantity, cumAmount: &cumAmount, from: from, lastTouched: lastTouched,
            isMax: isMax, amount: { price.amount(for: $0, decimals: decimals) })
    }
}
