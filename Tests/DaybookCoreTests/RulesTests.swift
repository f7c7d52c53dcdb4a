import DaybookCore
import Testing

// The pure billing rules of DaybookCore/Rules, tested directly (no store). Every expected value
// below is worked out by hand in the comments next to it.

private func dec(_ text: String) -> FixedDecimal { FixedDecimal(text)! }
private func decs(_ texts: [String]) -> [FixedDecimal] { texts.map(dec) }
private func ts(_ text: String) throws -> Timestamp { try Timestamp(parsing: text) }
private func jan(_ day: Int) -> Day { Day(year: 2026, month: 1, day: day)! }

// MARK: - Lateness

@Suite("Lateness window (SPEC §1)")
struct LatenessTests {
    // Ingest time 2026-03-10T12:00:00Z, max_lateness_days 34.
    // earliest = now − 34 days: March 10 − 10 days = Feb 28, − 24 more = Feb 4 → 2026-02-04T12:00:00Z.
    // latest = now + 1 day = 2026-03-11T12:00:00Z.
    let now = try! Timestamp(parsing: "2026-03-10T12:00:00Z")
    var window: Lateness.Window { Lateness.Window(now: now, maxLatenessDays: 34) }

    @Test func boundsAreNowMinusMaxLatenessDaysAndNowPlusOneDay() throws {
        #expect(window.earliest == (try ts("2026-02-04T12:00:00Z")))
        #expect(window.latest == (try ts("2026-03-11T12:00:00Z")))
    }

    @Test func exactlyAtEarliestIsOnTimeOneSecondBeforeIsTooLate() throws {
        #expect(window.classify(try ts("2026-02-04T12:00:00Z")) == .onTime)
        #expect(window.classify(try ts("2026-02-04T11:59:59Z")) == .tooLate)
        // A nanosecond before, and a fraction beyond nanoseconds below the next nanosecond.
        #expect(window.classify(try ts("2026-02-04T11:59:59.999999999Z")) == .tooLate)
        #expect(window.classify(try ts("2026-02-04T11:59:59.9999999999Z")) == .tooLate)
        // The same instant written with an offset: 13:00+01:00 is 12:00Z.
        #expect(window.classify(try ts("2026-02-04T13:00:00+01:00")) == .onTime)
    }

    @Test func exactlyOneDayAfterNowIsOnTimeOneSecondLaterIsInFuture() throws {
        #expect(window.classify(try ts("2026-03-11T12:00:00Z")) == .onTime)
        #expect(window.classify(try ts("2026-03-11T12:00:01Z")) == .inFuture)
        #expect(window.classify(try ts("2026-03-11T12:00:00.000000001Z")) == .inFuture)
        // Digits past the ninth make the instant later than 12:00:00 exactly.
        #expect(window.classify(try ts("2026-03-11T12:00:00.0000000001Z")) == .inFuture)
        #expect(window.classify(now) == .onTime)
    }

    @Test func theStaticRuleIsTheWindowsRule() throws {
        #expect(Lateness.classify(try ts("2026-02-04T11:59:59Z"), now: now, maxLatenessDays: 34) == .tooLate)
        #expect(Lateness.classify(try ts("2026-02-04T11:59:59Z"), now: now, maxLatenessDays: 35) == .onTime)
        // max_lateness_days 0: anything before the ingest time itself is too late.
        #expect(Lateness.classify(try ts("2026-03-10T11:59:59Z"), now: now, maxLatenessDays: 0) == .tooLate)
        #expect(Lateness.classify(now, now: now, maxLatenessDays: 0) == .onTime)
    }

    @Test func rejectionsCarryReasonFieldAndMessage() throws {
        #expect(window.rejection(try ts("2026-02-04T12:00:00Z")) == nil)
        #expect(window.rejection(try ts("2026-03-11T12:00:00Z")) == nil)
        #expect(
            window.rejection(try ts("2026-02-04T11:59:59Z"))
                == InvalidEvent(
                    .tooLate, field: "timestamp",
                    "timestamp 2026-02-04T11:59:59Z is more than 34 days before ingest time 2026-03-10T12:00:00Z"))
        #expect(
            window.rejection(try ts("2026-03-11T12:00:01.5Z"))
                == InvalidEvent(
                    .inFuture, field: "timestamp",
                    "timestamp 2026-03-11T12:00:01.5Z is more than 1 day after ingest time 2026-03-10T12:00:00Z"))
        #expect(window.rejection(try ts("2020-01-01T00:00:00Z"))?.reason.rawValue == "too_late")
        #expect(window.rejection(try ts("2027-01-01T00:00:00Z"))?.reason.rawValue == "in_future")
    }
}

// MARK: - Finalization

@Suite("Finalization due rule (SPEC §4)")
struct FinalizationRuleTests {
    // A January invoice: period end 2026-02-01 (exclusive, midnight UTC).
    let end = Day(year: 2026, month: 2, day: 1)!

    @Test func dueExactlyAtEndPlusGraceNotOneSecondBefore() throws {
        // 24 h grace: due from 2026-02-02T00:00:00Z.
        #expect(
            FinalizationRule.isDue(periodEnd: end, now: try ts("2026-02-02T00:00:00Z"), graceHours: 24, through: nil))
        #expect(
            !FinalizationRule.isDue(periodEnd: end, now: try ts("2026-02-01T23:59:59Z"), graceHours: 24, through: nil))
        #expect(
            !FinalizationRule.isDue(
                periodEnd: end, now: try ts("2026-02-01T23:59:59.999999999Z"), graceHours: 24, through: nil))
        // 36 h grace: due from 2026-02-02T12:00:00Z.
        #expect(
            FinalizationRule.isDue(periodEnd: end, now: try ts("2026-02-02T12:00:00Z"), graceHours: 36, through: nil))
        #expect(
            !FinalizationRule.isDue(periodEnd: end, now: try ts("2026-02-02T11:59:59Z"), graceHours: 36, through: nil))
        // No grace: due at the period end itself.
        #expect(
            FinalizationRule.isDue(periodEnd: end, now: try ts("2026-02-01T00:00:00Z"), graceHours: 0, through: nil))
        #expect(
            !FinalizationRule.isDue(periodEnd: end, now: try ts("2026-01-31T23:59:59Z"), graceHours: 0, through: nil))
    }

    @Test func throughFinalizesEndsOnOrBeforeItWhateverTheClock() throws {
        let early = try ts("2026-01-15T00:00:00Z")  // long before end + grace
        #expect(FinalizationRule.isDue(periodEnd: end, now: early, graceHours: 24, through: end))
        #expect(FinalizationRule.isDue(periodEnd: end, now: early, graceHours: 24, through: end.adding(days: 1)))
        #expect(!FinalizationRule.isDue(periodEnd: end, now: early, graceHours: 24, through: end.adding(days: -1)))
        // `through` only adds: the clock still finalizes what it makes due.
        #expect(
            FinalizationRule.isDue(
                periodEnd: end, now: try ts("2026-02-02T00:00:00Z"), graceHours: 24, through: end.adding(days: -10)))
    }

    @Test func latestDueEndIsWhereTheAscendingScanStops() throws {
        // now − 24 h = 2026-02-01T00:00:00Z → ends up to Feb 1 are due.
        let atGrace = FinalizationRule(now: try ts("2026-02-02T00:00:00Z"), graceHours: 24, through: nil)
        #expect(atGrace.latestDueEnd == end)
        // One second earlier: now − 24 h = 2026-01-31T23:59:59Z → Jan 31.
        let before = FinalizationRule(now: try ts("2026-02-01T23:59:59Z"), graceHours: 24, through: nil)
        #expect(before.latestDueEnd == end.adding(days: -1))
        // through later than the clock's: through wins.
        let through = FinalizationRule(
            now: try ts("2026-02-01T23:59:59Z"), graceHours: 24, through: Day(year: 2026, month: 3, day: 1)!)
        #expect(through.latestDueEnd == Day(year: 2026, month: 3, day: 1)!)

        // isDue(e) ⇔ e ≤ latestDueEnd, for ends around the bound: so once one end in ascending
        // order is not due, no later end is.
        for rule in [atGrace, before, through] {
            var seenNotDue = false
            for offset in -40...40 {
                let e = end.adding(days: offset)
                let due = rule.isDue(periodEnd: e)
                #expect(due == (e <= rule.latestDueEnd), "end \(e), now \(rule.now)")
                if !due { seenNotDue = true }
                #expect(!(seenNotDue && due), "end \(e) due after an earlier end was not")
            }
        }
    }
}

// MARK: - Cumulative recompute

@Suite("Cutoff recompute of Q and A (SPEC §3)")
struct CumulativeRecomputeTests {
    @Test func sumChangeRipplesToTheEndOfThePeriod() {
        // Flat 1.50 a unit. Before: daily 2,0,3,0,1 → Q 2,2,5,5,6 → A 3,3,7.5,7.5,9.
        let price = Price.flat(dec("1.5"))
        var q = decs(["2", "2", "5", "5", "6"])
        var a = decs(["3", "3", "7.5", "7.5", "9"])
        // +4 on day 1: Q 2,6,9,9,10 → A 3,9,13.5,13.5,15. Days 1–4 all change: 4 evaluated.
        let daily = decs(["2", "4", "3", "0", "1"])
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 1, isMax: false, price: price,
            decimals: 2)
        #expect(q == decs(["2", "6", "9", "9", "10"]))
        #expect(a == decs(["3", "9", "13.5", "13.5", "15"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: 1...4, daysEvaluated: 4))
    }

    @Test func countLikeChangeStopsWhereQMeetsTheStoredValue() {
        // unique_count: a value first seen on day 3 is now seen on day 1 (day 3 −1, day 1 +1).
        // Before: daily 1,0,0,1,0,1 → Q 1,1,1,2,2,3; at 0.25 a unit A 0.25,0.25,0.25,0.5,0.5,0.75.
        let price = Price.flat(dec("0.25"))
        var q = decs(["1", "1", "1", "2", "2", "3"])
        var a = decs(["0.25", "0.25", "0.25", "0.5", "0.5", "0.75"])
        let daily = decs(["1", "1", "0", "0", "0", "1"])
        // k=1: Q 2 (was 1); k=2: Q 2 (was 1); k=3: Q 2 = stored 2 and k ≥ lastTouched 3 → stop.
        // Evaluated days 1, 2, 3; A changed on days 1 and 2 only; days 4, 5 not looked at.
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 3, isMax: false, price: price,
            decimals: 2)
        #expect(q == decs(["1", "2", "2", "2", "2", "3"]))
        #expect(a == decs(["0.25", "0.5", "0.5", "0.5", "0.5", "0.75"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: 1...2, daysEvaluated: 3))
    }

    @Test func cutoffDoesNotStopBeforeTheLastTouchedDay() {
        // unique_count, days 1–4 touched: a value moved from day 2 to day 1 (day 1 +1, day 2 −1)
        // and two new values on day 4 (+2).
        // Before: daily 1,1,1,1,1 → Q 1,2,3,4,5. After: daily 1,2,0,1,3.
        // k=1: Q 3 (was 2) changed; k=2: Q 3 = stored 3 but k < 4 → go on; k=3: Q 4 = stored, go on;
        // k=4: Q 7 (was 5) changed. 4 days evaluated; at 1.00 a unit A changed on days 1 and 4.
        let price = Price.flat(dec("1"))
        var q = decs(["1", "2", "3", "4", "5"])
        var a = q
        let daily = decs(["1", "2", "0", "1", "3"])
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 4, isMax: false, price: price,
            decimals: 2)
        #expect(q == decs(["1", "3", "3", "4", "7"]))
        #expect(a == decs(["1", "3", "3", "4", "7"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: 1...4, daysEvaluated: 4))
    }

    @Test func maxChangeStopsAtALaterLargerMaximum() {
        // Before: daily max 2,0,5,0,0 → Q 2,2,5,5,5. A value 4 on day 1: daily 2,4,5,0,0.
        // k=1: Q max(2,4) = 4 (was 2); k=2: max(4,5) = 5 = stored → stop. 2 days evaluated.
        // At 10 a unit: A(1) 20 → 40; the rest unchanged.
        let price = Price.flat(dec("10"))
        var q = decs(["2", "2", "5", "5", "5"])
        var a = decs(["20", "20", "50", "50", "50"])
        let daily = decs(["2", "4", "5", "0", "0"])
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 1, isMax: true, price: price,
            decimals: 2)
        #expect(q == decs(["2", "4", "5", "5", "5"]))
        #expect(a == decs(["20", "40", "50", "50", "50"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: 1...1, daysEvaluated: 2))
    }

    @Test func maxChangeAboveEveryLaterDayRipplesToTheEnd() {
        // Before: daily 1,3,0,2 → Q 1,3,3,3. A value 6 on day 2: daily 1,3,6,2 → Q 1,3,6,6.
        // k=2 and k=3 change; 2 days evaluated. The running max is not the sum: Q(3) stays 6, not 8.
        var q = decs(["1", "3", "3", "3"])
        var a = decs(["1", "3", "3", "3"])
        let daily = decs(["1", "3", "6", "2"])
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 2, lastTouched: 2, isMax: true,
            price: .flat(dec("1")), decimals: 2)
        #expect(q == decs(["1", "3", "6", "6"]))
        #expect(a == decs(["1", "3", "6", "6"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: 2...3, daysEvaluated: 2))
    }

    @Test func tierCrossingChangesAOnlyFromALaterDay() {
        // Graduated: the first 10 units free, then 2.00 a unit. A = 2 × max(0, Q − 10).
        let price = Price.graduated([
            Tier(upTo: FixedDecimal(10), unitPrice: .zero), Tier(upTo: nil, unitPrice: FixedDecimal(2)),
        ])
        // Before: daily 4,3,2,5,0 → Q 4,7,9,14,14 → A 0,0,0,8,8.
        var q = decs(["4", "7", "9", "14", "14"])
        var a = decs(["0", "0", "0", "8", "8"])
        // +2 on day 0: Q 6,9,11,16,16 → A 0,0,2,12,12. Q changes on every day (5 evaluated), but
        // A only from day 2, where Q crosses the tier bound 10.
        let daily = decs(["6", "3", "2", "5", "0"])
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 0, lastTouched: 0, isMax: false, price: price,
            decimals: 2)
        #expect(q == decs(["6", "9", "11", "16", "16"]))
        #expect(a == decs(["0", "0", "2", "12", "12"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: 2...4, daysEvaluated: 5))
    }

    @Test func quantityChangeThatRoundsToTheSameAmountChangesNoAmount() {
        // 0.001 a unit, 2 decimals. Q 1 → 5 on days 1–2: P = 0.001 → 0.005, which rounds half-even
        // to 0.00 like 0.001 does. Q moves, A does not: no changed amounts, 2 days evaluated.
        var q = decs(["1", "1", "1"])
        var a = decs(["0", "0", "0"])
        let daily = decs(["1", "4", "0"])
        let r = CumulativeRecompute.run(
            daily: daily, cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 1, isMax: false,
            price: .flat(dec("0.001")), decimals: 2)
        #expect(q == decs(["1", "5", "5"]))
        #expect(a == decs(["0", "0", "0"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: nil, daysEvaluated: 2))
    }

    @Test func priceIsEvaluatedOnlyForDaysWhoseQChanged() {
        // The max case above again with a counting price: Q changes on day 1 only → one call.
        var calls: [FixedDecimal] = []
        var q = decs(["2", "2", "5", "5", "5"])
        var a = decs(["2", "2", "5", "5", "5"])
        let r = CumulativeRecompute.run(
            daily: decs(["2", "4", "5", "0", "0"]), cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 1,
            isMax: true,
            amount: {
                calls.append($0); return $0
            })
        #expect(calls == [FixedDecimal(4)])
        #expect(r.daysEvaluated == 2)
    }

    @Test func unchangedInputEvaluatesOnlyUpToTheLastTouchedDay() {
        // Nothing really changed (a max value below the day's max): from 1, lastTouched 3.
        // Days 1, 2, 3 evaluated (equal but not past lastTouched until 3), nothing written.
        var q = decs(["3", "3", "3", "3", "3"])
        var a = q
        let r = CumulativeRecompute.run(
            daily: decs(["3", "1", "0", "2", "0"]), cumQuantity: &q, cumAmount: &a, from: 1, lastTouched: 3,
            isMax: true, price: .flat(dec("1")), decimals: 2)
        #expect(q == decs(["3", "3", "3", "3", "3"]))
        #expect(r == CumulativeRecompute.Result(changedAmounts: nil, daysEvaluated: 3))
    }
}
