import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import LMDB
import Testing

/// Corrections under random histories (SPEC §4 "Corrections"): whatever the events, catalog
/// changes and issue/reject actions, what was issued, rejected and proposed partitions what moved.
@Suite struct CorrectionPropertyTests {
    /// Plays a random history (late events into finalized invoices, price and balance changes,
    /// contracts moved or removed) and, after every step, acts on each open proposal at random:
    /// issue it (as shown, or plain, which a moved one refuses), reject it, or leave it. After
    /// every step and every round of actions the store must satisfy ``CorrectionModel/problems``.
    @Test(arguments: correctionSeeds)
    func issuedRejectedAndProposedPartitionWhatMoved(seed: Int) throws {
        let history = RandomHistory(seed: UInt64(50_000 + seed))
        var rng = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9 &+ 5)
        let store = try TemporaryStore()
        var model = CorrectionModel()
        var trail: [String] = []
        var clock = Timestamp(day: Day(year: 2026, month: 1, day: 1)!)
        // Seeds 0 mod 3 keep the default threshold (absent), the others set one: zero or, on a
        // catalog change now and then (seeds 2 mod 3), a positive one (a small movement then stays
        // unproposed). Written with at most the currency's decimals, which a change may move.
        var threshold: String? = seed % 3 == 0 ? nil : "0"
        var refused = 0

        func check(_ what: String) throws -> Bool {
            let problems = try model.problems(store)
            guard !problems.isEmpty else { return true }
            Issue.record(
                """
                seed \(seed), \(what): corrections do not partition what moved
                \(trail.suffix(40).joined(separator: "\n"))
                \(problems.prefix(12).joined(separator: "\n"))
                """)
            return false
        }

        for (index, step) in history.steps.enumerated() {
            switch step {
            case .catalog(var catalog, let change, let now):
                if index > 0 && seed % 3 == 2 && rng.chance(0.5) { threshold = rng.pick(["0", "0.5", "5", "1"]) }
                if threshold == "0.5" && catalog.currencyDecimals == 0 { threshold = "1" }
                catalog.correctionThreshold =
                    threshold == "0" && catalog.currencyDecimals >= 2 ? "0.00" : threshold
                model.threshold = threshold.flatMap { FixedDecimal($0) } ?? .zero
                trail.append("step \(index): catalog (\(change), threshold \(threshold ?? "absent")) at \(now)")
                try store.engine.applyCatalog(catalog.bytes, now: now)
                clock = now
            case .ingest(let lines, let now):
                trail.append("step \(index): ingest \(lines.count) records at \(now)")
                _ = try store.engine.ingest(IngestRecord.lines(lines), source: "property", now: now)
                clock = now
            }
            guard try check("after step \(index)") else { return }
            // Act on the open proposals, a minute apart (the clock of an action is recorded).
            for proposal in try store.engine.corrections(status: .proposed) {
                clock = clock.adding(seconds: 60)
                let roll = rng.int(0...99)
                let total = proposal.totals.total
                if roll < 25 {
                    trail.append("  issue \(proposal.id) as shown \(total)")
                    let action = try store.engine.issueCorrection(
                        proposal.id, note: "seed \(seed)", asShown: total, now: clock)
                    try model.acted(action, on: proposal, status: .issued, seed: seed)
                } else if roll < 45 {
                    // Plain issue: refused (conflict, nothing written) once the proposal has moved.
                    let moved = proposal.proposedSeq != proposal.firstProposedSeq
                    trail.append("  issue \(proposal.id) plainly (moved: \(moved))")
                    if moved {
                        let before = try store.engine.corrections()
                        #expect("seed \(seed): \(proposal.id) moved, a plain issue is refused") {
                            try store.engine.issueCorrection(proposal.id, now: clock)
                        } throws: { ($0 as? EngineError)?.code == .conflict }
                        #expect(try store.engine.corrections() == before, "seed \(seed): a refusal writes nothing")
                        refused += 1
                    } else {
                        let action = try store.engine.issueCorrection(proposal.id, now: clock)
                        try model.acted(action, on: proposal, status: .issued, seed: seed)
                    }
                } else if roll < 60 {
                    trail.append("  reject \(proposal.id)")
                    let action = try store.engine.rejectCorrection(proposal.id, reason: "seed \(seed)", now: clock)
                    try model.acted(action, on: proposal, status: .rejected, seed: seed)
                } else {
                    trail.append("  leave \(proposal.id) (\(total))")
                }
            }
            // Now and then repeat an action already taken: the same one is a no-op, the other refused.
            if !model.acted.isEmpty, rng.chance(0.3) {
                let id = rng.pick(model.acted.keys.sorted { $0.utf8Precedes($1) })
                let done = model.acted[id]!
                clock = clock.adding(seconds: 60)
                let again =
                    done.status == .issued
                    ? try store.engine.issueCorrection(id, asShown: done.totals.total, now: clock)
                    : try store.engine.rejectCorrection(id, reason: "again", now: clock)
                #expect(again == .unchanged(done), "seed \(seed): acting on \(id) again")
                #expect("seed \(seed): \(id) was \(done.status), the other action is refused") {
                    _ =
                        done.status == .issued
                        ? try store.engine.rejectCorrection(id, reason: "late", now: clock)
                        : try store.engine.issueCorrection(id, now: clock)
                } throws: { ($0 as? EngineError)?.code == .conflict }
            }
            guard try check("after the actions of step \(index)") else { return }
        }
        let open = try store.engine.corrections(status: .proposed).count
        let issued = model.acted.values.filter { $0.status == .issued }.count
        let credits = model.acted.values.filter { $0.kind == .creditNote }.count
        print(
            "seed \(seed): \(issued) issued, \(model.acted.count - issued) rejected, \(open) open, "
                + "\(credits) credit notes acted on, \(refused) moved ones refused")
        #expect(try store.engine.verify() == [], "seed \(seed): replay --verify")
        let report = try StoreCheck.run(path: store.path)
        #expect(report.isIntact, "seed \(seed): \(report.problems)")
    }
}

/// 12 seeds; `DAYBOOK_CORRECTION_SEEDS=N` runs seeds 0..<N instead.
let correctionSeeds: [Int] = {
    let count = ProcessInfo.processInfo.environment["DAYBOOK_CORRECTION_SEEDS"].flatMap { Int($0) } ?? 12
    return Array(0..<count)
}()

/// What the test has done to corrections, and the identities the store must keep.
///
/// SPEC §4's acceptance says "snapshot + issued corrections + open proposal = live values"; with
/// rejections the identity needs the rejected ones too (a rejected delta is neither billed nor
/// proposed again): per finalized invoice and line item,
/// `snapshot + Σ issued + Σ rejected + open proposal = live`.
/// A proposal exists only when its summed `total_delta` is non-zero (and ≥ the threshold), so when
/// there is none the per-line identity need not hold (a quantity moved at price 0, credits moved
/// between line items); then the summed total of `live − (snapshot + issued + rejected)` is zero
/// (below the threshold in absolute value). Issued and rejected corrections are compared with what
/// they were when acted on: together with the identity, no movement is in two of them.
struct CorrectionModel {
    /// Every correction issued or rejected, as the action returned it.
    var acted: [String: Correction] = [:]
    var threshold = FixedDecimal.zero

    /// Records an action on `proposal` (as listed just before): it froze exactly those lines.
    mutating func acted(_ action: CorrectionAction, on proposal: Correction, status: CorrectionStatus, seed: Int)
        throws
    {
        guard case .done(let c) = action else {
            Issue.record("seed \(seed): \(proposal.id) was open, \(status) did nothing: \(action)")
            return
        }
        #expect(
            c.id == proposal.id && c.status == status && c.lines == proposal.lines && c.kind == proposal.kind
                && c.proposedSeq == proposal.proposedSeq && c.firstProposedSeq == proposal.firstProposedSeq,
            "seed \(seed): \(status) \(proposal.id) froze \(c), not the proposal shown \(proposal)")
        #expect(acted[c.id] == nil, "seed \(seed): \(c.id) acted on twice")
        acted[c.id] = c
    }

    func problems(_ store: TemporaryStore) throws -> [String] {
        let engine = store.engine
        var problems: [String] = []
        let all = try engine.corrections()
        let proposals = all.filter { $0.status == .proposed }
        // Acted-on corrections never change, and none appears that the test did not act on.
        let stored = all.filter { $0.status != .proposed }
        if stored.count != acted.count {
            problems.append("\(stored.count) acted-on corrections stored, \(acted.count) made")
        }
        for c in stored where acted[c.id] != c {
            problems.append(
                "\(c.id) changed after it was \(c.status): \(c) was \(acted[c.id].map { "\($0)" } ?? "never made")")
        }
        if Set(proposals.map(\.invoiceID)).count != proposals.count { problems.append("two proposals for one invoice") }

        let raw = try Store(path: store.path)
        let snapshots: [Snapshot] = try raw.env.read { txn in
            var result: [Snapshot] = []
            try txn.scan(in: raw.snapshots) { _, value in
                result.append(try Snapshot(decoding: value))
                return true
            }
            return result
        }
        var live: [String: InvoiceState] = [:]
        for state in try engine.materializedInvoices() { live["\(state.contractID)/\(state.period.start)"] = state }
        let drift = Dictionary(grouping: try engine.discrepancies(), by: \.invoiceID)
        let finalized = Set(snapshots.map(\.invoiceID))
        for id in drift.keys where !finalized.contains(id) { problems.append("drift of \(id), which is not finalized") }
        for c in all where !finalized.contains(c.invoiceID) { problems.append("\(c.id) of an invoice not finalized") }

        for snapshot in snapshots {
            let invoice = snapshot.invoiceID
            let mine = stored.filter { $0.invoiceID == invoice }
            let proposal = proposals.first { $0.invoiceID == invoice }
            // Numbers run 1… in the order of the actions, the proposal next.
            let numbers = mine.map(\.number).sorted()
            if numbers != Array(1..<UInt32(numbers.count + 1))
                || proposal.map({ $0.number != UInt32(numbers.count + 1) }) == true
            {
                problems.append("\(invoice): corrections numbered \(numbers), proposal \(proposal?.number ?? 0)")
            }
            let state = live[invoice]
            func liveTotals(_ item: String) -> Totals {
                state.flatMap { s in s.index(ofLineItem: item).map { s.lineItems[$0].periodTotals } } ?? Totals()
            }
            func sum(_ cs: [Correction], _ item: String) -> Totals {
                cs.reduce(Totals()) { t, c in t + (c.lines.first { $0.lineItemID == item }?.delta ?? Totals()) }
            }
            var items = Set(snapshot.lines.map(\.lineItemID))
            items.formUnion(state?.lineItems.map(\.id) ?? [])
            for c in all where c.invoiceID == invoice { items.formUnion(c.lines.map(\.lineItemID)) }
            items.formUnion(drift[invoice]?.map(\.lineItemID) ?? [])

            var unproposed = FixedDecimal.zero
            for item in items.sorted(by: { $0.utf8Precedes($1) }) {
                let current = liveTotals(item)
                let issued = sum(mine.filter { $0.status == .issued }, item)
                let rejected = sum(mine.filter { $0.status == .rejected }, item)
                let billed = snapshot.totals(of: item) + issued
                let moved = current - (billed + rejected)
                unproposed = unproposed + moved.total
                if let proposal {
                    let proposed = sum([proposal], item)
                    if billed + rejected + proposed != current {
                        problems.append(
                            "\(invoice) \(item): snapshot + issued + rejected + proposed \(describe(billed + rejected + proposed)) ≠ live \(describe(current))"
                        )
                    }
                }
                // Drift is open exactly where live ≠ billed, measured against billed.
                let records = drift[invoice]?.filter { $0.lineItemID == item } ?? []
                if current == billed {
                    if !records.isEmpty { problems.append("\(invoice) \(item): drift open though live = billed") }
                } else if records.count != 1 {
                    problems.append("\(invoice) \(item): \(records.count) drift records, live ≠ billed")
                } else if let r = records.first,
                    r.finalized != snapshot.totals(of: item) || r.billed != billed || r.current != current
                        || r.deltaTotal != current.total - billed.total
                {
                    problems.append(
                        "\(invoice) \(item): drift finalized \(describe(r.finalized)) billed \(describe(r.billed)) current \(describe(r.current)) Δ \(r.deltaTotal), want \(describe(snapshot.totals(of: item))) \(describe(billed)) \(describe(current))"
                    )
                }
            }
            let magnitude = unproposed.isNegative ? .zero - unproposed : unproposed
            if let proposal {
                if proposal.lines.contains(where: { $0.delta.isZero }) {
                    problems.append("\(proposal.id) has a zero line")
                }
                if proposal.kind != (proposal.totals.total.isNegative ? .creditNote : .trueUp)
                    || proposal.totals.total.isZero
                    || magnitude < threshold
                {
                    problems.append(
                        "\(proposal.id): a \(proposal.kind) of \(proposal.totals.total), threshold \(threshold)")
                }
            } else if !unproposed.isZero && !(magnitude < threshold) {
                problems.append(
                    "\(invoice): \(unproposed) moved, not issued, rejected or proposed (threshold \(threshold))")
            }
        }
        return problems
    }

    func describe(_ t: Totals) -> String { "\(t.quantity)/\(t.subtotal)/\(t.credits)/\(t.commits)" }
}
