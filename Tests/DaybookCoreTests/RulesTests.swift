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
