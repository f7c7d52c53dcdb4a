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

// MARK: - Draw-down sweep

@Suite("Draw-down sweep with early cutoff (SPEC §3 Balances)")
struct DrawDownSweepTests {
    func balance(
        _ id: String, _ kind: Balance.Kind, _ amount: String, products: Set<String>? = nil, priority: Int = 0,
        starts: Day = jan(1), ends: Day = Day(year: 2026, month: 3, day: 1)!
    ) -> Balance {
        Balance(
            id: id, kind: kind, amount: dec(amount), starts: starts, ends: ends, products: products, priority: priority)
    }

    /// One stored day: its charges and its closing before the sweep.
    struct StoredDay {
        var charges: [(product: String, subtotal: FixedDecimal)]
        var closing: [FixedDecimal]
    }

    /// Drives the sweep the way the engine does: from `from`, one stored day per step, until it
    /// converges or the stored days end. Returns the steps taken.
    func run(_ sweep: inout DrawDownSweep, _ stored: [Day: StoredDay]) -> [DrawDownSweep.Step] {
        var steps: [DrawDownSweep.Step] = []
        while !sweep.isConverged, let day = stored[sweep.day] {
            steps.append(sweep.step(charges: day.charges, storedClosing: day.closing))
        }
        return steps
    }

    @Test func aCommitRunsOutMidPeriod() {
        // Commit 25.00; 10.00 of api a day. Days 1–5: draws 10, 10, 5, 0, 0; closing 15, 5, 0, 0, 0.
        let commit = balance("c", .commit, "25")
        var sweep = DrawDownSweep(balances: [commit], from: jan(1), through: jan(5), opening: [dec("25")])
        var stored: [Day: StoredDay] = [:]
        for d in 1...5 { stored[jan(d)] = StoredDay(charges: [("api", dec("10"))], closing: [dec("25")]) }
        let steps = run(&sweep, stored)
        #expect(steps.map(\.day) == (1...5).map(jan))
        #expect(steps.map { $0.applied[0].commits } == decs(["10", "10", "5", "0", "0"]))
        #expect(steps.map { $0.applied[0].credits } == decs(["0", "0", "0", "0", "0"]))
        #expect(steps.map { $0.closing[0] } == decs(["15", "5", "0", "0", "0"]))
        #expect(sweep.daysEvaluated == 5)
        // Past through, 0 remaining ≠ the stored 25: not converged (only the stored days ran out).
        #expect(sweep.day == jan(6) && !sweep.isConverged)
    }

    @Test func creditsDrawBeforeCommitsWithinAPriority() {
        // Draw order (priority, credits before commits, ends, id):
        //   s: credit 10, storage only, ends Feb 1, priority 0
        //   k: credit 25, all products, ends Mar 1, priority 0
        //   c: commit 40, all products, priority 0
        //   p: commit 5, all products, priority −1 (a lower priority draws first, commit or not)
        let s = balance("s", .credit, "10", products: ["storage"], ends: Day(year: 2026, month: 2, day: 1)!)
        let k = balance("k", .credit, "25")
        let c = balance("c", .commit, "40")
        let p = balance("p", .commit, "5", priority: -1)
        let ordered = [c, k, p, s].sorted(by: Balance.drawsBefore)
        #expect(ordered.map(\.id) == ["p", "s", "k", "c"])
        // One day: api 30.00 then storage 20.00 (line-item id order).
        //   api 30: p gives 5 (commit), s does not apply, k gives 25 (credit) → credits 25, commits 5.
        //   storage 20: s gives 10 (credit), k is empty, c gives 10 → credits 10, commits 10.
        // Closing: p 0, s 0, k 0, c 30.
        var sweep = DrawDownSweep(
            balances: ordered, from: jan(1), through: jan(1), opening: ordered.map(\.amount))
        let step = sweep.step(
            charges: [("api", dec("30")), ("storage", dec("20"))], storedClosing: ordered.map(\.amount))
        #expect(
            step.applied == [
                DrawDown.Applied(credits: dec("25"), commits: dec("5")),
                DrawDown.Applied(credits: dec("10"), commits: dec("10")),
            ])
        #expect(step.closing == decs(["0", "0", "0", "30"]))
        #expect(sweep.remaining == step.closing)
    }

    @Test func aBalanceNotYetActiveKeepsItsFullAmount() {
        // Credit 8 active from Jan 3; 5.00 a day. Jan 1, 2: nothing drawn (closing 8); Jan 3: 5 → 3;
        // Jan 4: 3 → 0.
        let credit = balance("k", .credit, "8", starts: jan(3))
        var sweep = DrawDownSweep(balances: [credit], from: jan(1), through: jan(4), opening: [dec("8")])
        var stored: [Day: StoredDay] = [:]
        for d in 1...4 { stored[jan(d)] = StoredDay(charges: [("api", dec("5"))], closing: [dec("8")]) }
        let steps = run(&sweep, stored)
        #expect(steps.map { $0.applied[0].credits } == decs(["0", "0", "5", "3"]))
        #expect(steps.map { $0.closing[0] } == decs(["8", "8", "3", "0"]))
    }

    @Test func aChangeIsAbsorbedWhenTheBalanceIsAlreadyExhausted() {
        // Commit 12; stored: 5.00 a day, closings Jan 1–6: 7, 2, 0, 0, 0, 0.
        let commit = balance("c", .commit, "12")
        let storedClosing = decs(["7", "2", "0", "0", "0", "0"])
        var stored: [Day: StoredDay] = [:]
        for d in 1...6 { stored[jan(d)] = StoredDay(charges: [("api", dec("5"))], closing: [storedClosing[d - 1]]) }
        // Jan 4's subtotal becomes 9.00 (a change through Jan 5). Opening of Jan 4 = stored closing of Jan 3 = 0.
        stored[jan(4)]!.charges = [("api", dec("9"))]
        var sweep = DrawDownSweep(balances: [commit], from: jan(4), through: jan(5), opening: [storedClosing[2]])
        let steps = run(&sweep, stored)
        // Jan 4 and Jan 5 are evaluated (≤ through) and draw nothing; at Jan 6 the running 0 equals
        // the stored opening 0 (Jan 5's closing): converged after exactly 2 days.
        #expect(steps.map(\.day) == [jan(4), jan(5)])
        #expect(steps.map { $0.applied[0] } == [DrawDown.Applied(), DrawDown.Applied()])
        #expect(steps.map { $0.closing[0] } == decs(["0", "0"]))
        #expect(sweep.isConverged && sweep.day == jan(6) && sweep.daysEvaluated == 2)
    }

    @Test func daysThroughTheChangeAreEvaluatedEvenWhenBalancesAgree() {
        // Credit 50 for api only; a new uncovered web charge of 7.00 on Jan 3 (through Jan 4).
        // Stored: api 5.00 a day, closings 45, 40, 35, 30, 25.
        let credit = balance("k", .credit, "50", products: ["api"])
        let storedClosing = decs(["45", "40", "35", "30", "25"])
        var stored: [Day: StoredDay] = [:]
        for d in 1...5 {
            stored[jan(d)] = StoredDay(charges: [("api", dec("5")), ("web", .zero)], closing: [storedClosing[d - 1]])
        }
        stored[jan(3)]!.charges = [("api", dec("5")), ("web", dec("7"))]
        var sweep = DrawDownSweep(balances: [credit], from: jan(3), through: jan(4), opening: [storedClosing[1]])
        // After Jan 3 the running 35 equals the stored opening of Jan 4 (35), but Jan 4 ≤ through.
        _ = sweep.step(charges: stored[jan(3)]!.charges, storedClosing: stored[jan(3)]!.closing)
        #expect(sweep.remaining == decs(["35"]) && sweep.storedOpening == decs(["35"]) && !sweep.isConverged)
        let last = sweep.step(charges: stored[jan(4)]!.charges, storedClosing: stored[jan(4)]!.closing)
        #expect(last.applied == [DrawDown.Applied(credits: dec("5")), DrawDown.Applied()])
        #expect(sweep.isConverged && sweep.daysEvaluated == 2)
    }

    @Test func aChangePropagatesUntilTheBalanceReconverges() {
        // Credit 30 for api; stored: 5.00 a day, closings Jan 1–10: 25, 20, 15, 10, 5, 0, 0, 0, 0, 0.
        let credit = balance("k", .credit, "30", products: ["api"])
        let storedClosing = decs(["25", "20", "15", "10", "5", "0", "0", "0", "0", "0"])
        var stored: [Day: StoredDay] = [:]
        for d in 1...10 { stored[jan(d)] = StoredDay(charges: [("api", dec("5"))], closing: [storedClosing[d - 1]]) }
        // Jan 2's subtotal becomes 12.00 (through Jan 2). Opening Jan 2 = stored closing Jan 1 = 25.
        stored[jan(2)]!.charges = [("api", dec("12"))]
        var sweep = DrawDownSweep(balances: [credit], from: jan(2), through: jan(2), opening: [storedClosing[0]])
        let steps = run(&sweep, stored)
        // Jan 2: 12 → 13 (stored 20); Jan 3: 5 → 8 (15); Jan 4: 5 → 3 (10); Jan 5: 3 → 0 (5);
        // Jan 6: 0 → 0 (stored 0): at Jan 7 the running 0 equals the stored opening 0 → stop.
        // 5 days evaluated; Jan 7–10 never looked at.
        #expect(steps.map(\.day) == (2...6).map(jan))
        #expect(steps.map { $0.applied[0].credits } == decs(["12", "5", "5", "3", "0"]))
        #expect(steps.map { $0.closing[0] } == decs(["13", "8", "3", "0", "0"]))
        #expect(sweep.isConverged && sweep.day == jan(7) && sweep.daysEvaluated == 5)
    }

    @Test func startingAmountsAreTheFullAmounts() {
        let balances = [balance("a", .credit, "12.5"), balance("b", .commit, "100")]
        #expect(DrawDownSweep.startingAmounts(balances) == decs(["12.5", "100"]))
    }
}
