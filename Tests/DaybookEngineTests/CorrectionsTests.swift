import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Foundation
import Testing

/// Corrections proposed from drift, issued and rejected (SPEC §4 "Corrections"), worked by hand.
@Suite("Corrections of finalized invoices")
struct CorrectionsTests {
    typealias Harness = ScenarioTests.Harness

    func money(_ s: String) -> FixedDecimal { FixedDecimal(s)! }
    func at(_ s: String) throws -> Timestamp { try Timestamp(parsing: s) }

    /// Tokens at 0.01; October (100 + 300 tokens = 4.00) finalized by the Nov 3 batch.
    func finalizedOctober(threshold: String? = nil, price: String = "0.01") throws -> Harness {
        var text = String(
            decoding: ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"\(price)\"}"),
            as: UTF8.self)
        if let threshold {
            text = text.replacingOccurrences(
                of: "\"finalization_grace_hours\": 24,",
                with: "\"finalization_grace_hours\": 24, \"correction_threshold\": \"\(threshold)\",")
        }
        let h = try Harness(Array(text.utf8))
        _ = try h.ingest(
            [("inference", "2026-10-03", "\"tokens\": 100"), ("inference", "2026-10-20", "\"tokens\": 300")],
            now: "2026-10-25T00:00:00Z")
        _ = try h.engine.finalize(now: try at("2026-11-03T00:00:00Z"))
        return h
    }

    @Test func lateEventProposesATrueUpEqualToTheDriftAndIssuingItClosesTheDrift() throws {
        let h = try finalizedOctober()
        #expect(try h.engine.corrections().isEmpty)
        // 50 late tokens on Oct 10: +0.50.
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-04T00:00:00Z")
        let proposals = try h.engine.corrections()
        try #require(proposals.count == 1)
        let p = proposals[0]
        #expect(p.id == "k/2026-10-01/c1" && p.kind == .trueUp && p.status == .proposed && p.customerID == "c")
        #expect(p.lines.map(\.lineItemID) == ["tok"])
        #expect(p.lines[0].delta.quantity == FixedDecimal(50) && p.lines[0].delta.subtotal == money("0.5"))
        let drift = try h.engine.discrepancies()
        #expect(p.totals.total == drift.reduce(FixedDecimal.zero) { $0 + $1.deltaTotal })
        #expect(p.totals.total == money("0.5"))

        let issued = try h.engine.issueCorrection(p.id, note: "sent", now: try at("2026-11-05T00:00:00Z"))
        guard case .done(let c) = issued else { Issue.record("not issued: \(issued)"); return }
        #expect(c.status == .issued && c.text == "sent" && c.actedSeq == 3)
        #expect(c.causes.lateTransactionIDs == ["t3"] && c.causes.lateEventCount == 1)
        // Open drift against what was billed is zero: the record resolved; no new proposal.
        #expect(try h.engine.discrepancies().isEmpty)
        #expect(try h.engine.corrections(status: .proposed).isEmpty)
        #expect(try h.engine.corrections().map(\.id) == ["k/2026-10-01/c1"])
        // Idempotent: issuing again writes nothing and says so.
        #expect(try h.engine.issueCorrection(p.id, now: try at("2026-11-06T00:00:00Z")) == .unchanged(c))

        // Another late event (20 tokens, +0.20) proposes only the new delta, as c2.
        _ = try h.ingest([("inference", "2026-10-11", "\"tokens\": 20")], now: "2026-11-07T00:00:00Z")
        let next = try h.engine.corrections(status: .proposed)
        #expect(next.map(\.id) == ["k/2026-10-01/c2"])
        #expect(next.first?.lines.first?.delta.quantity == FixedDecimal(20))
        #expect(next.first?.totals.total == money("0.2"))
        let d = try #require(try h.engine.discrepancies().first)
        #expect(d.finalized.total == money("4") && d.billed.total == money("4.5") && d.current.total == money("4.7"))
        #expect(d.deltaTotal == money("0.2"))
        let doc = try h.engine.correctionDocument("k/2026-10-01/c2")
        #expect(doc.billedBefore.total == money("4.5") && doc.billedAfter.total == money("4.7"))
        #expect(doc.finalized.total == money("4"))
    }

    @Test func priceCutProposesACreditNote() throws {
        let h = try finalizedOctober()
        var text = String(
            decoding: ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.005\"}"), as: UTF8.self)
        try h.engine.applyCatalog(Array(text.utf8), now: try at("2026-11-04T00:00:00Z"))
        let p = try #require(try h.engine.corrections().first)
        // 400 tokens at 0.005 = 2.00 instead of 4.00.
        #expect(p.kind == .creditNote && p.totals.total == money("-2") && p.lines.count == 1)
        #expect(p.lines[0].delta.quantity == .zero && p.lines[0].delta.subtotal == money("-2"))
        #expect(try h.engine.correctionDocument(p.id).correction.causes.catalogVersions == [2])
    }

    @Test func rejectedDeltaIsNotProposedAgainButALaterChangeIs() throws {
        let h = try finalizedOctober()
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-04T00:00:00Z")
        let rejected = try h.engine.rejectCorrection(
            "k/2026-10-01/c1", reason: "goodwill", now: try at("2026-11-05T00:00:00Z"))
        #expect(rejected.correction.status == .rejected && rejected.correction.text == "goodwill")
        #expect(try h.engine.corrections(status: .proposed).isEmpty)
        // The drift stays open (nothing was billed for it).
        #expect(try h.engine.discrepancies().first?.deltaTotal == money("0.5"))
        // Rejecting again is a no-op; issuing a rejected one is refused.
        #expect(
            try h.engine.rejectCorrection("k/2026-10-01/c1", reason: "x", now: try at("2026-11-05T01:00:00Z"))
                == .unchanged(rejected.correction))
        #expect(throws: EngineError.self) {
            try h.engine.issueCorrection("k/2026-10-01/c1", now: try at("2026-11-05T02:00:00Z"))
        }
        _ = try h.ingest([("inference", "2026-10-12", "\"tokens\": 10")], now: "2026-11-06T00:00:00Z")
        let p = try #require(try h.engine.corrections(status: .proposed).first)
        #expect(p.id == "k/2026-10-01/c2" && p.totals.total == money("0.1"))
    }

    @Test func thresholdSuppressesASmallDrift() throws {
        let h = try finalizedOctober(threshold: "1.00")
        // 26 tokens: +0.26 < 1.00.
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 26")], now: "2026-11-04T00:00:00Z")
        #expect(try h.engine.discrepancies().first?.deltaTotal == money("0.26"))
        #expect(try h.engine.corrections().isEmpty)
        // 80 more: +1.06 ≥ 1.00 is proposed.
        _ = try h.ingest([("inference", "2026-10-11", "\"tokens\": 80")], now: "2026-11-04T01:00:00Z")
        #expect(try h.engine.corrections().first?.totals.total == money("1.06"))
    }

    @Test func aMovedProposalIsIssuedOnlyAsShown() throws {
        let h = try finalizedOctober()
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-04T00:00:00Z")
        _ = try h.ingest([("inference", "2026-10-11", "\"tokens\": 50")], now: "2026-11-04T01:00:00Z")
        let p = try #require(try h.engine.corrections().first)
        #expect(p.firstProposedSeq == 3 && p.proposedSeq == 4 && p.totals.total == money("1"))
        let now = try at("2026-11-05T00:00:00Z")
        #expect(throws: EngineError.self) { try h.engine.issueCorrection(p.id, now: now) }
        #expect(throws: EngineError.self) { try h.engine.issueCorrection(p.id, asShown: money("0.5"), now: now) }
        #expect(try h.engine.corrections(status: .proposed).count == 1)
        let done = try h.engine.issueCorrection(p.id, asShown: money("1.00"), now: now)
        #expect(done.correction.status == .issued && done.correction.totals.total == money("1"))
    }

    @Test func issuedAndRejectedCorrectionsReplayAndVerify() throws {
        let h = try finalizedOctober()
        _ = try h.ingest([("inference", "2026-10-10", "\"tokens\": 50")], now: "2026-11-04T00:00:00Z")
        _ = try h.engine.issueCorrection("k/2026-10-01/c1", now: try at("2026-11-05T00:00:00Z"))
        _ = try h.ingest([("inference", "2026-10-11", "\"tokens\": 20")], now: "2026-11-06T00:00:00Z")
        _ = try h.engine.rejectCorrection("k/2026-10-01/c2", reason: "no", now: try at("2026-11-07T00:00:00Z"))
        _ = try h.ingest([("inference", "2026-10-12", "\"tokens\": 30")], now: "2026-11-08T00:00:00Z")
        #expect(try h.engine.verify().isEmpty)
        let all = try h.engine.corrections()
        #expect(all.map(\.id) == ["k/2026-10-01/c1", "k/2026-10-01/c2", "k/2026-10-01/c3"])
        #expect(all.map(\.status) == [.issued, .rejected, .proposed])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try h.engine.replay(into: dir.path + "/r")
        let replayed = try Engine(path: dir.path + "/r", access: .read)
        #expect(try replayed.corrections() == all)
        #expect(try replayed.discrepancies() == h.engine.discrepancies())
        // As of seq 3: c1 (issued after event 3, before event 4) is in it, c2 is not yet.
        _ = try h.engine.replay(into: dir.path + "/s", asOf: .seq(3))
        let early = try Engine(path: dir.path + "/s", access: .read)
        #expect(try early.corrections().map(\.status) == [.issued])
        #expect(try early.discrepancies().isEmpty)
    }
}
