import DaybookCore
import Testing

@Suite("Pricing, periods and draw-down")
struct PricingTests {
    let tiers = Price.graduated([
        Tier(upTo: FixedDecimal(1_000_000), unitPrice: FixedDecimal("0.000004")!),
        Tier(upTo: FixedDecimal(50_000_000), unitPrice: FixedDecimal("0.0000032")!),
        Tier(upTo: nil, unitPrice: FixedDecimal("0.0000025")!),
    ])

    @Test func graduatedTiersPriceEachUnitByItsPosition() {
        // 1,000,000 × 0.000004 = 4.00 exactly at the first bound.
        #expect(tiers.amount(for: FixedDecimal(1_000_000), decimals: 2) == FixedDecimal(4))
        // 4.00 + 500,000 × 0.0000032 (1.60) = 5.60
        #expect(tiers.amount(for: FixedDecimal(1_500_000), decimals: 2) == FixedDecimal("5.6")!)
        // 4 + 49,000,000 × 0.0000032 (156.80) + 10,000,000 × 0.0000025 (25) = 185.80
        #expect(tiers.amount(for: FixedDecimal(60_000_000), decimals: 2) == FixedDecimal("185.8")!)
        #expect(tiers.amount(for: FixedDecimal.zero, decimals: 2) == FixedDecimal.zero)
    }

    @Test func roundingHappensOnTheExactTierSum() {
        // 1,000,001 units: 4 + 0.0000032 = 4.0000032 → 4.00 (rounding the sum, not each tier)
        #expect(tiers.amount(for: FixedDecimal(1_000_001), decimals: 2) == FixedDecimal(4))
        let gpu = Price.graduated([
            Tier(upTo: FixedDecimal(8), unitPrice: FixedDecimal(120)),
            Tier(upTo: nil, unitPrice: FixedDecimal(95)),
        ])
        // 9 GPUs: 8 × 120 + 1 × 95 = 1055
        #expect(gpu.amount(for: FixedDecimal(9), decimals: 2) == FixedDecimal(1055))
        // fractional quantity across the bound: 8.5 → 960 + 47.5
        #expect(gpu.amount(for: FixedDecimal("8.5")!, decimals: 2) == FixedDecimal("1007.5")!)
    }

    @Test func unitPriceIsTheFirstTierWhoseBoundHoldsQ() {
        #expect(tiers.unitPrice(at: FixedDecimal.zero) == FixedDecimal("0.000004")!)
        #expect(tiers.unitPrice(at: FixedDecimal(1_000_000)) == FixedDecimal("0.000004")!)
        #expect(tiers.unitPrice(at: FixedDecimal(1_000_001)) == FixedDecimal("0.0000032")!)
        #expect(tiers.unitPrice(at: FixedDecimal(90_000_000)) == FixedDecimal("0.0000025")!)
    }

    func contract(starts: String, ends: String? = nil, anchor: Int) -> Contract {
        Contract(
            id: "c", customerID: "x", rateCard: "r", starts: Day(parsing: starts)!,
            ends: ends.flatMap(Day.init(parsing:)),
            billingAnchorDay: anchor, balances: [])
    }

    @Test func periodsRunFromStartToAnchorThenAnchorToAnchor() {
        let c = contract(starts: "2026-01-10", ends: "2026-04-20", anchor: 1)
        let periods = c.periods(beginningOnOrBefore: Day(parsing: "2026-12-31")!).map(\.description)
        #expect(
            periods == [
                "2026-01-10..<2026-02-01", "2026-02-01..<2026-03-01", "2026-03-01..<2026-04-01",
                "2026-04-01..<2026-04-20",
            ])
        // Starting on the anchor day: the first period is a whole month.
        let d = contract(starts: "2026-09-15", anchor: 15)
        #expect(d.period(containing: Day(parsing: "2026-10-14")!)?.description == "2026-09-15..<2026-10-15")
        #expect(d.period(containing: Day(parsing: "2026-10-15")!)?.description == "2026-10-15..<2026-11-15")
        #expect(d.period(containing: Day(parsing: "2026-09-14")!) == nil)
        // Anchor 28 across February and the year end.
        let e = contract(starts: "2026-12-30", anchor: 28)
        #expect(e.period(containing: Day(parsing: "2027-01-05")!)?.description == "2026-12-30..<2027-01-28")
        #expect(e.period(containing: Day(parsing: "2027-02-28")!)?.description == "2027-02-28..<2027-03-28")
        #expect(c.period(containing: Day(parsing: "2026-04-20")!) == nil)
        #expect(c.invoiceID(c.period(containing: Day(parsing: "2026-02-03")!)!) == "c/2026-02-01")
    }

    func balance(
        _ id: String, _ kind: Balance.Kind, _ amount: Int, priority: Int = 0, ends: String = "2027-01-01",
        products: Set<String>? = nil
    ) -> Balance {
        Balance(
            id: id, kind: kind, amount: FixedDecimal(amount), starts: Day(parsing: "2026-01-01")!,
            ends: Day(parsing: ends)!, products: products, priority: priority)
    }

    @Test func drawOrderIsPriorityThenCreditsThenEndsThenID() {
        let list = [
            balance("z", .commit, 1), balance("b", .credit, 1, ends: "2026-06-01"), balance("a", .credit, 1),
            balance("p", .credit, 1, priority: -1), balance("c", .commit, 1, ends: "2026-03-01"),
        ]
        #expect(list.sorted(by: Balance.drawsBefore).map(\.id) == ["p", "b", "a", "c", "z"])
    }

    @Test func drawDownCoversLineItemsInOrderAndCarriesRemainders() {
        let balances = [
            balance("promo", .credit, 10, products: ["tokens"]), balance("commit", .commit, 25, priority: 1),
        ]
        var remaining = balances.map(\.amount)
        let day = Day(parsing: "2026-03-01")!
        // fee 20: only the commit applies (20); tokens 12: credit 10, then commit 2 (of 5 left).
        let applied = DrawDown.allocate(
            charges: [("fee", FixedDecimal(20)), ("tokens", FixedDecimal(12))],
            balances: balances, remaining: &remaining, day: day)
        #expect(
            applied == [
                DrawDown.Applied(credits: .zero, commits: FixedDecimal(20)),
                DrawDown.Applied(credits: FixedDecimal(10), commits: FixedDecimal(2)),
            ])
        #expect(remaining == [.zero, FixedDecimal(3)])
        // Next day the commit has 3 left; inactive balances give nothing.
        let later = DrawDown.allocate(
            charges: [("fee", FixedDecimal(5))], balances: balances, remaining: &remaining, day: day)
        #expect(later == [DrawDown.Applied(credits: .zero, commits: FixedDecimal(3))])
        var fresh = balances.map(\.amount)
        let expired = DrawDown.allocate(
            charges: [("fee", FixedDecimal(5))], balances: balances, remaining: &fresh,
            day: Day(parsing: "2027-01-01")!)
        #expect(expired == [DrawDown.Applied()])
    }
}
