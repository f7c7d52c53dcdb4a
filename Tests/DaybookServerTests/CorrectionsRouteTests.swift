import DaybookTestSupport
import Foundation
import Testing

/// `GET /v1/corrections` (SPEC §7: the JSON of `daybook corrections --format json`), on a real
/// `daybook serve`, checked against hand-worked values.
@Suite("GET /v1/corrections", .watchdog(seconds: 600))
struct CorrectionsRouteTests {
    /// ``CorrectionsFixture``: September (c: 100 tokens, 1.00) ingested on Sep 20; the server's clock is Oct 5. Over HTTP:
    /// October usage (its batch finalizes September), then 50 late tokens of Sep 10 (+0.50): a
    /// true-up proposed for `k/2026-09-01`, listed with the filters, refused with a bad status.
    @Test func lateEventIntoAFinalizedInvoiceIsListedAsAProposal() throws {
        let scratch = try Scratch()
        let catalog = try scratch.write("catalog.json", CorrectionsFixture.catalog)
        try Daybook.ok(["catalog", "apply", catalog, "--data", scratch.store, "--now", "2026-09-01T00:00:00Z"])
        let september = try scratch.write(
            "september.ndjson", CorrectionsFixture.event("t1", "c", "2026-09-05", tokens: 100) + "\n")
        try Daybook.ok(["ingest", september, "--data", scratch.store, "--now", "2026-09-20T00:00:00Z"])
        let server = try ServeProcess(store: scratch.store, now: "2026-10-05T00:00:00Z")
        defer { server.stop() }
        let http = try server.connect()
        #expect(try http.get("/v1/corrections").text == "[]\n", "nothing finalized has drifted yet")

        let october = try http.ingest(Fixture.array([CorrectionsFixture.event("t2", "c", "2026-10-02", tokens: 30)]))
        try #require(october.status == 200 && Fixture.count(october, "accepted") == 1, "\(october.text)")
        #expect(try http.get("/v1/corrections").text == "[]\n", "September is finalized, no drift")
        let late = try http.ingest(Fixture.array([CorrectionsFixture.event("t3", "c", "2026-09-10", tokens: 50)]))
        try #require(late.status == 200 && Fixture.count(late, "accepted") == 1, "\(late.text)")
        // Events t1, t2, t3 are seqs 1, 2, 3: the proposal's values last changed at seq 3.
        #expect(Fixture.results(late).first?["seq"] as? Int == 3)

        let proposal = [
            "correction_id": "k/2026-09-01/c1", "invoice_id": "k/2026-09-01", "customer_id": "c", "kind": "true_up",
            "status": "proposed", "line_item_id": "tok", "quantity_delta": "50", "subtotal_delta": "0.50",
            "credits_delta": "0.00", "commits_delta": "0.00", "total_delta": "0.50", "proposed_seq": "3",
            "issued_at": "",
        ]
        let columns = [
            "correction_id", "invoice_id", "customer_id", "kind", "status", "line_item_id", "quantity_delta",
            "subtotal_delta", "credits_delta", "commits_delta", "total_delta", "proposed_seq", "issued_at",
        ]
        // The CLI's JSON layout: one object a line, keys in the SPEC §4 column order.
        let line = "  {" + columns.map { "\"\($0)\": \"\(proposal[$0]!)\"" }.joined(separator: ", ") + "}"
        for path in ["/v1/corrections", "/v1/corrections?status=proposed", "/v1/corrections?customer=c"] {
            let response = try http.get(path)
            #expect(response.status == 200, "\(path): \(response.text)")
            #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
            #expect(response.json as? [[String: String]] == [proposal], "\(path): \(response.text)")
            #expect(response.text == "[\n\(line)\n]\n", "\(path)")
        }
        for path in ["/v1/corrections?status=issued", "/v1/corrections?status=rejected", "/v1/corrections?customer=d"] {
            let response = try http.get(path)
            #expect(response.status == 200 && response.text == "[]\n", "\(path): \(response.text)")
        }
        let bad = try http.get("/v1/corrections?status=open")
        #expect(bad.status == 400)
        #expect(bad.errorMessage == "?status=open: write proposed, issued or rejected", "\(bad.text)")
        let unknown = try http.get("/v1/corrections?invoice=k%2F2026-09-01")
        #expect(unknown.status == 400 && unknown.errorMessage?.contains("unknown query parameter") == true)
        #expect(try http.send("POST", "/v1/corrections").status == 405)
    }
}
