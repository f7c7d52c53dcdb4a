/// The day-by-day balance draw-down of one contract with early cutoff (SPEC §3 "Balances"), as
/// pure code: the caller owns the stored days (invoices, across periods) and feeds them in.
///
/// The sweep starts at `from` with the balances remaining at the start of that day and walks
/// forward one day per ``step(charges:storedClosing:)``, allocating each day with
/// ``DrawDown/allocate(charges:balances:remaining:day:)``. Days up to `through` are always
/// evaluated (their charges may have changed). Past `through` the charges are as stored, so
/// once the running balances equal the stored opening of the next day, every later day would
/// come out as stored: ``isConverged`` turns true and the caller stops.
///
/// ```swift
/// var sweep = DrawDownSweep(balances: balances, from: from, through: through, opening: opening)
/// while !sweep.isConverged, let stored = storedDay(sweep.day) {
///     let step = sweep.step(charges: stored.charges, storedClosing: stored.closing)
///     // write step.applied (per line item) and step.closing back to the day
/// }
/// ```
public struct DrawDownSweep: Sendable {
    /// What one day of the sweep computed.
    public struct Step: Sendable, Hashable {
        public var day: Day
        /// Per charge (line item), what credits and commits covered.
        public var applied: [DrawDown.Applied]
        /// Remaining amount per balance after the day (the day's new closing).
        public var closing: [FixedDecimal]
    }

    /// The contract's balances in draw order.
    public let balances: [Balance]
    /// The last day whose charges may differ from the stored ones.
    public let through: Day
    /// The next day to evaluate.
    public private(set) var day: Day
    /// Remaining amount per balance at the start of ``day``.
    public private(set) var remaining: [FixedDecimal]
    /// The stored remaining amounts at the start of ``day`` (the stored closing of the day
    /// before; the start opening on the first day).
    public private(set) var storedOpening: [FixedDecimal]
    /// Days evaluated so far (the engine's `draw_down_days_evaluated`).
    public private(set) var daysEvaluated = 0

    /// - Parameters:
    ///   - balances: the contract's balances in draw order (``Balance/drawsBefore(_:_:)``).
    ///   - from: the first day whose charges may have changed.
    ///   - through: the last day whose charges may have changed (`≥ from`).
    ///   - opening: remaining amount per balance at the start of `from` (the stored closing of
    ///     the day before, or ``startingAmounts(_:)`` on the contract's first day).
    public init(balances: [Balance], from: Day, through: Day, opening: [FixedDecimal]) {
        precondition(opening.count == balances.count, "one opening amount per balance")
        self.balances = balances
        self.through = through
        day = from
        remaining = opening
        storedOpening = opening
    }

    /// The remaining amounts on a contract's first day: every balance's full amount (a balance
    /// that starts later keeps its full amount until it is active; one that ended keeps what
    /// was left).
    public static func startingAmounts(_ balances: [Balance]) -> [FixedDecimal] { balances.map(\.amount) }

    /// Past `through`, with the running balances back on the stored ones: nothing later changes.
    public var isConverged: Bool { day > through && remaining == storedOpening }

    /// Allocates ``day`` and moves to the next day.
    ///
    /// - Parameters:
    ///   - charges: `(product id, subtotal)` per line item of the day, in line-item id order.
    ///   - storedClosing: the day's closing as stored before this sweep (the next day's stored opening).
    public mutating func step(charges: [(product: String, subtotal: FixedDecimal)], storedClosing: [FixedDecimal])
        -> Step
    {
        let applied = DrawDown.allocate(charges: charges, balances: balances, remaining: &remaining, day: day)
        let step = Step(day: day, applied: applied, closing: remaining)
        storedOpening = storedClosing
        daysEvaluated += 1
        day = day.adding(days: 1)
        return step
    }
}
