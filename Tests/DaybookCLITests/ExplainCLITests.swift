import DaybookCore
import DaybookTestSupport
import Foundation
import Testing

/// `daybook explain`: the events and arithmetic behind one breakdown row, as a person reads it
/// (table) and as a script reads it (one JSON object), and its usage errors (exit 2).
@Suite("daybook explain", .watchdog(seconds: 600))
struct ExplainCLITests {
    /// Tokens in two tiers (100 at 0.10, then 0.05) and a 2.00 credit.
    static let catalog = """
        {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 60, "finalization_grace_hours": 24,
         "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens"}],
         "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}],
         "rate_cards": [{"id": "r", "rates": [{"product": "tok", "tiers": [{"up_to": "100", "unit_price": "0.10"}, {"up_to": null, "unit_price": "0.05"}]}]}],
         "customers": [{"id": "c", "name": "C", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-10-01", "ends": null,
           "balances": [{"id": "cr", "type": "credit", "amount": "2.00", "starts": "2026-10-01", "ends": "2027-01-01", "products": null}]}]}]}
        """

    static func event(_ id: String, _ day: String, tokens: Int) -> String {
        "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"\(day)T10:00:00Z\", \"properties\": {\"tokens\": \(tokens)}}"
    }

    /// Oct 3: 80 tokens (8.00, all but 2.00 of it billed after the credit); Oct 5: 20 + 10 tokens
    /// on time, then at Nov 2 (October finalized first) 5 more late: Q(Oct 5) = 115.
    static func store(_ cli: CLI) throws {
        try #require(
            try cli.run(["catalog", "apply", try cli.write("catalog.json", catalog)], now: "2026-10-01").status == 0)
        let onTime = [
            event("a", "2026-10-03", tokens: 80), event("b", "2026-10-05", tokens: 20),
            event("c", "2026-10-05", tokens: 10),
        ]
        try #require(
            try cli.run(["ingest", try cli.write("on.ndjson", onTime.joined(separator: "\n"))], now: "2026-10-20")
                .status
                == 0)
        let late = try cli.run(
            ["ingest", try cli.write("late.ndjson", event("d", "2026-10-05", tokens: 5))], now: "2026-11-02")
        try #require(late.status == 0, "\(late.stderr)")
    }

    /// `daybook explain` of line item `tok` on Oct 5, which must succeed.
    static func explainOct5(_ cli: CLI, format: String) throws -> CLI.Result {
        let r = try cli.run(
            ["explain", "--invoice", "k/2026-10-01", "--line-item", "tok", "--day", "2026-10-05", "--format", format])
        try #require(r.status == 0, "\(r.stderr)")
        return r
    }

    @Test func jsonIsOneObjectWithTheRowsArithmetic() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        let r = try Self.explainOct5(cli, format: "json")
        guard case .object(let json) = try StrictJSON.parse(r.stdout) else {
            Issue.record("not a JSON object: \(r.stdout)")
            return
        }
        // Q(Oct 4) = 80; c = 20 + 10 + 5 = 35; Q = 115; P(80) = 8; P(115) = 100 × 0.10 + 15 × 0.05 = 10.75.
        // Subtotal 2.75; the credit gave 2.00 on Oct 3 (its whole amount), nothing is left: total 2.75.
        #expect(json["status"] == .string("finalized"))
        #expect(json["q_previous"] == .string("80") && json["contribution"] == .string("35"))
        #expect(json["q"] == .string("115") && json["quantity"] == .string("35"))
        #expect(json["a_previous"] == .string("8.00") && json["a"] == .string("10.75"))
        #expect(json["subtotal"] == .string("2.75") && json["unit_price"] == .string("0.05"))
        #expect(json["credits_applied"] == .string("0.00") && json["total"] == .string("2.75"))
        #expect(json["matches_stored"] == .bool(true))
        guard case .array(let events) = json["events"] else {
            Issue.record("no events array")
            return
        }
        let ids = events.compactMap { e -> String? in
            guard case .object(let o) = e, case .string(let id) = o["transaction_id"] else { return nil }
            return id
        }
        #expect(ids == ["b", "c", "d"])
        guard case .object(let last) = events.last, case .array(let balances) = json["balances"],
            case .object(let credit) = balances.first, case .object(let f) = json["finalization"]
        else {
            Issue.record("events, balances or finalization missing")
            return
        }
        #expect(last["seq"] == .number("4") && last["late"] == .bool(true) && last["value"] == .string("5"))
        #expect(credit["balance_id"] == .string("cr") && credit["opening"] == .string("0.00"))
        // The snapshot (seq 3) had Oct 5 at 30 tokens: period 110 tokens, 10.50; now 115, 10.75.
        #expect(f["seq"] == .number("3") && f["late_event_count"] == .number("1"))
        #expect(f["delta_total"] == .string("0.25"))
    }

    @Test func tableNamesTheRowAndShowsTheArithmetic() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        let r = try Self.explainOct5(cli, format: "table")
        for expected in [
            "invoice    k/2026-10-01  (customer c, contract k)",
            "status     finalized at 2026-11-02T00:00:00Z (snapshot at log seq 3)",
            "events behind this row: 3 of the 3 events of c on 2026-10-05",
            "Q(d)     = Q(d−1) + c(d) = 80 + 35 = 115",
            "P(Q(d)) = P(115) = 10.75",
            "subtotal   = A(d) − A(d−1) = 10.75 − 8.00 = 2.75",
            "check: the events and the arithmetic give the stored row exactly",
            "late events since finalization: 1 on the invoice; 1 of them behind this row: d (seq 4)",
        ] {
            #expect(r.stdout.contains(expected), "missing \(expected) in\n\(r.stdout)")
        }
    }

    @Test func unknownRowsAndCSVAreUsageErrors() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.store(cli)
        for (args, says) in [
            (["--invoice", "k/2026-10-02", "--line-item", "tok", "--day", "2026-10-05"], "k/2026-10-01"),
            (["--invoice", "k/2026-10-01", "--line-item", "seats", "--day", "2026-10-05"], "its line items: tok"),
            (["--invoice", "k/2026-10-01", "--line-item", "tok", "--day", "2026-11-05"], "2026-10-01 to 2026-10-31"),
            (["--invoice", "k/2026-10-01", "--line-item", "tok", "--day", "2026-10-5"], "--day"),
            (["--invoice", "k/2026-10-01", "--line-item", "tok", "--day", "2026-10-05", "--format", "csv"], "csv"),
        ] {
            let r = try cli.run(["explain"] + args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
            #expect(r.stderr.contains(says), "\(args): \(r.stderr)")
        }
    }
}
