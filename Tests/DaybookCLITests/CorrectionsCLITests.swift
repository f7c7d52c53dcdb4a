import DaybookTestSupport
import Foundation
import Testing

/// `daybook corrections` (list, show, issue, reject), `discrepancies` billed_* and
/// `export`'s corrections file, run through the binary (SPEC §4 "Corrections", §5). Every
/// expected value is worked by hand from the catalog (`CorrectionsFixture`): tokens at 0.01 USD,
/// September of contract k finalized with 400 tokens (4.00).
@Suite("daybook corrections", .watchdog(seconds: 600))
struct CorrectionsCLITests {
    static let correctionsHeader =
        "correction_id,invoice_id,customer_id,kind,status,line_item_id,quantity_delta,subtotal_delta,"
        + "credits_delta,commits_delta,total_delta,proposed_seq,issued_at"

    /// The discrepancies CSV header of SPEC §4, as it is without issued corrections.
    static let driftHeader =
        "invoice_id,customer_id,line_item_id,finalized_quantity,finalized_subtotal,finalized_credits_applied,"
        + "finalized_commits_applied,finalized_total,current_quantity,current_subtotal,current_credits_applied,"
        + "current_commits_applied,current_total,delta_total,first_detected_seq,last_changed_seq,late_event_count,"
        + "late_transaction_ids,via_invoices,catalog_versions"

    /// The same with billed_* after finalized_*.
    static let billedDriftHeader =
        "invoice_id,customer_id,line_item_id,finalized_quantity,finalized_subtotal,finalized_credits_applied,"
        + "finalized_commits_applied,finalized_total,billed_quantity,billed_subtotal,billed_credits_applied,"
        + "billed_commits_applied,billed_total,current_quantity,current_subtotal,current_credits_applied,"
        + "current_commits_applied,current_total,delta_total,first_detected_seq,last_changed_seq,late_event_count,"
        + "late_transaction_ids,via_invoices,catalog_versions"

    /// Ingests events (one per log seq, in order) and requires success.
    static func ingest(_ cli: CLI, _ name: String, _ events: [String], now: String) throws {
        let r = try cli.run(["ingest", try cli.write(name, events.joined(separator: "\n"))], now: now)
        try #require(r.status == 0, "\(r.stderr)")
    }

    /// The catalog applied, September billed 100 + 300 tokens to c (seq 1, 2), finalized on Oct 3
    /// (with d's empty month).
    static func finalizedSeptember(_ cli: CLI) throws {
        let apply = try cli.run(
            ["catalog", "apply", try cli.write("c1.json", CorrectionsFixture.catalog)], now: "2026-09-01T00:00:00Z")
        try #require(apply.status == 0, "\(apply.stderr)")
        try ingest(
            cli, "on.ndjson",
            [
                CorrectionsFixture.event("t1", "c", "2026-09-03", tokens: 100),
                CorrectionsFixture.event("t2", "c", "2026-09-20", tokens: 300),
            ], now: "2026-09-25")
        let fin = try cli.run(["finalize"], now: "2026-10-03T00:00:00Z")
        try #require(
            fin.status == 0 && fin.stdout == "2 invoices finalized: k/2026-09-01, m/2026-09-01\n",
            "\(fin.stdout)\(fin.stderr)")
    }

    func csv(_ cli: CLI, _ args: [String]) throws -> [String] {
        let r = try cli.run(args + ["--format", "csv"], now: "2026-12-01T00:00:00Z")
        try #require(r.status == 0, "\(args): \(r.stderr)")
        return r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func proposeShowIssueRejectAndExport() throws {
        let cli = try CLI()
        defer { cli.remove() }
        try Self.finalizedSeptember(cli)

        // Nothing drifted: no corrections, in every format; discrepancies has its usual columns.
        #expect(try csv(cli, ["corrections"]) == [Self.correctionsHeader])
        #expect(try cli.run(["corrections", "--format", "json"]).stdout == "[]\n")
        #expect(try cli.run(["corrections", "--format", "table"]).stdout == "no corrections\n")
        #expect(
            try cli.run(["corrections", "--status", "issued", "--format", "table"]).stdout == "no issued corrections\n")
        let emptyExport = cli.file("export0").path
        try #require(try cli.run(["export", "--as-of", "2026-10-01", "--out", emptyExport]).status == 0)
        #expect(
            try String(contentsOfFile: emptyExport + "/corrections.csv", encoding: .utf8) == Self.correctionsHeader
                + "\n")

        // t3: 50 late tokens on Sep 10 (seq 3) → a true-up of 50 × 0.01 = 0.50.
        try Self.ingest(
            cli, "t3.ndjson", [CorrectionsFixture.event("t3", "c", "2026-09-10", tokens: 50)],
            now: "2026-10-04T00:00:00Z")
        #expect(
            try csv(cli, ["corrections"]) == [
                Self.correctionsHeader, "k/2026-09-01/c1,k/2026-09-01,c,true_up,proposed,tok,50,0.50,0.00,0.00,0.50,3,",
            ])
        #expect(try csv(cli, ["corrections", "--status", "issued"]) == [Self.correctionsHeader])
        #expect(try csv(cli, ["corrections", "--customer", "d"]) == [Self.correctionsHeader])
        // No correction issued yet: discrepancies is byte for byte what it was (no billed_*).
        #expect(
            try csv(cli, ["discrepancies"]) == [
                Self.driftHeader, "k/2026-09-01,c,tok,400,4.00,0.00,0.00,4.00,450,4.50,0.00,0.00,4.50,0.50,3,3,1,t3,,",
            ])

        let shown = try cli.run(["corrections", "show", "k/2026-09-01/c1"])
        try #require(shown.status == 0, "\(shown.stderr)")
        let text = shown.stdout
        for part in [
            "Correction k/2026-09-01/c1: true-up", "Customer:     c (Cee)", "Invoice:      k/2026-09-01",
            "Period:       2026-09-01 to 2026-09-30", "Finalized at: 2026-10-03T00:00:00Z", "Currency:     USD",
            "proposed, not yet issued", "1 late event billed to the invoice after it was finalized: t3",
        ] {
            #expect(text.contains(part), "\(part) in:\n\(text)")
        }
        let rows = text.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.contains("tok 50 0.50 0.00 0.00 0.50"), "\(text)")
        #expect(rows.contains("billed before 4.00 0.00 0.00 4.00"), "\(text)")
        #expect(rows.contains("this correction 0.50 0.00 0.00 0.50"), "\(text)")
        #expect(rows.contains("billed after 4.50 0.00 0.00 4.50"), "\(text)")
        #expect(!text.contains("finalized invoice"), "billed before is the snapshot: not shown twice")

        let json = try cli.run(["corrections", "show", "k/2026-09-01/c1", "--format", "json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(doc["kind"] as? String == "true_up" && doc["status"] as? String == "proposed")
        #expect(doc["customer_name"] as? String == "Cee" && doc["period_end"] as? String == "2026-10-01")
        let totals = try #require(doc["totals"] as? [String: [String: String]])
        #expect(totals["billed_before"]?["total"] == "4.00" && totals["correction"]?["total"] == "0.50")
        #expect(totals["billed_after"]?["total"] == "4.50" && totals["billed_after"]?["quantity"] == "450")
        #expect((doc["causes"] as? [String: Any])?["late_transaction_ids"] as? [String] == ["t3"])

        // Issue: once, then a no-op.
        let issued = try cli.run(
            ["corrections", "issue", "k/2026-09-01/c1", "--note", "INV-77"], now: "2026-10-05T00:00:00Z")
        #expect(
            issued.status == 0 && issued.stdout == "issued k/2026-09-01/c1: true_up of 0.50 USD; note: INV-77\n",
            "\(issued.stderr)")
        let again = try cli.run(["corrections", "issue", "k/2026-09-01/c1"], now: "2026-10-06T00:00:00Z")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout == "k/2026-09-01/c1 was already issued at 2026-10-05T00:00:00Z; nothing changed\n")
        #expect(
            try csv(cli, ["corrections"]) == [
                Self.correctionsHeader,
                "k/2026-09-01/c1,k/2026-09-01,c,true_up,issued,tok,50,0.50,0.00,0.00,0.50,3,2026-10-05T00:00:00Z",
            ])
        // Billed is now 4.50 = current: no open drift; the resolved record shows billed_*.
        #expect(try csv(cli, ["discrepancies"]) == [Self.driftHeader])
        let history = try csv(cli, ["discrepancies", "--history"])
        #expect(history.first == Self.billedDriftHeader)
        #expect(
            history.dropFirst().first?.hasPrefix(
                "k/2026-09-01,c,tok,400,4.00,0.00,0.00,4.00,450,4.50,0.00,0.00,4.50,450,4.50,0.00,0.00,4.50,0.00,")
                == true, "\(history)")
        let issuedShow = try cli.run(["corrections", "show", "k/2026-09-01/c1"]).stdout
        #expect(issuedShow.contains("issued at 2026-10-05T00:00:00Z (log seq 3); note: INV-77"), "\(issuedShow)")

        // t4: 20 more tokens (seq 4): drift against billed is 4.70 − 4.50 = 0.20, proposed as c2.
        try Self.ingest(
            cli, "t4.ndjson", [CorrectionsFixture.event("t4", "c", "2026-09-11", tokens: 20)],
            now: "2026-10-06T00:00:00Z")
        #expect(
            try csv(cli, ["discrepancies"]) == [
                Self.billedDriftHeader,
                "k/2026-09-01,c,tok,400,4.00,0.00,0.00,4.00,450,4.50,0.00,0.00,4.50,470,4.70,0.00,0.00,4.70,0.20,4,4,2,t3 t4,,",
            ])
        let driftJSON = try cli.run(["discrepancies", "--format", "json"]).stdout
        #expect(
            driftJSON.contains(
                "\"finalized_total\": \"4.00\", \"billed_quantity\": \"450\", \"billed_subtotal\": \"4.50\""))
        let c2Show = try cli.run(["corrections", "show", "k/2026-09-01/c2"]).stdout
        let c2Rows = c2Show.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(c2Rows.contains("finalized invoice 4.00 0.00 0.00 4.00"), "\(c2Show)")
        #expect(
            c2Rows.contains("billed before 4.50 0.00 0.00 4.50") && c2Rows.contains("billed after 4.70 0.00 0.00 4.70"))

        // t5: 30 more (seq 5) moves c2 to 50 tokens, 0.50: issuing it needs --as-shown 0.50.
        try Self.ingest(
            cli, "t5.ndjson", [CorrectionsFixture.event("t5", "c", "2026-09-12", tokens: 30)],
            now: "2026-10-07T00:00:00Z")
        let moved = [
            Self.correctionsHeader, "k/2026-09-01/c2,k/2026-09-01,c,true_up,proposed,tok,50,0.50,0.00,0.00,0.50,5,",
        ]
        #expect(try csv(cli, ["corrections", "--status", "proposed"]) == moved)
        for args in [[], ["--as-shown", "0.20"]] {
            let refused = try cli.run(["corrections", "issue", "k/2026-09-01/c2"] + args, now: "2026-10-07T12:00:00Z")
            #expect(refused.status == 1 && refused.stdout.isEmpty, "\(args): \(refused.stdout)")
            #expect(refused.stderr.contains("nothing issued"), "\(args): \(refused.stderr)")
            #expect(try csv(cli, ["corrections", "--status", "proposed"]) == moved, "\(args): nothing changed")
        }
        let bad = try cli.run(
            ["corrections", "issue", "k/2026-09-01/c2", "--as-shown", "0,50"], now: "2026-10-07T12:00:00Z")
        #expect(bad.status == 2 && bad.stderr.contains("--as-shown"), "\(bad.stderr)")
        let asShown = try cli.run(
            ["corrections", "issue", "k/2026-09-01/c2", "--as-shown", "0.5"], now: "2026-10-07T12:00:00Z")
        #expect(
            asShown.status == 0 && asShown.stdout == "issued k/2026-09-01/c2: true_up of 0.50 USD\n",
            "\(asShown.stderr)")

        // t6: 10 more (seq 6) → c3 of 0.10, rejected.
        try Self.ingest(
            cli, "t6.ndjson", [CorrectionsFixture.event("t6", "c", "2026-09-13", tokens: 10)],
            now: "2026-10-08T00:00:00Z")
        let noReason = try cli.run(["corrections", "reject", "k/2026-09-01/c3"], now: "2026-10-08T12:00:00Z")
        #expect(noReason.status == 2 && noReason.stderr.contains("--reason"), "\(noReason.stderr)")
        let rejected = try cli.run(
            ["corrections", "reject", "k/2026-09-01/c3", "--reason", "goodwill"], now: "2026-10-08T12:00:00Z")
        #expect(
            rejected.status == 0
                && rejected.stdout == "rejected k/2026-09-01/c3: true_up of 0.10 USD; reason: goodwill\n")
        let rejectAgain = try cli.run(
            ["corrections", "reject", "k/2026-09-01/c3", "--reason", "again"], now: "2026-10-09T00:00:00Z")
        #expect(rejectAgain.status == 0 && rejectAgain.stdout.contains("already rejected at 2026-10-08T12:00:00Z"))
        let issueRejected = try cli.run(["corrections", "issue", "k/2026-09-01/c3"], now: "2026-10-09T00:00:00Z")
        #expect(issueRejected.status == 1 && issueRejected.stderr.contains("rejected"), "\(issueRejected.stderr)")
        // Billed before c3: 4.00 + 0.50 + 0.50 = 5.00; rejected, it bills nothing.
        let c3 = try cli.run(["corrections", "show", "k/2026-09-01/c3"]).stdout
        let c3Rows = c3.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(c3.contains("rejected at 2026-10-08T12:00:00Z (log seq 6); reason: goodwill"), "\(c3)")
        #expect(c3Rows.contains("this correction (rejected, not billed) 0.10 0.00 0.00 0.10"), "\(c3)")
        #expect(
            c3Rows.contains("billed before 5.00 0.00 0.00 5.00") && c3Rows.contains("billed after 5.00 0.00 0.00 5.00"))
        for id in ["k/2026-09-01/c4", "k/2026-09-01", "nope/2026-09-01/c1"] {
            for verb in [["show"], ["issue"], ["reject", "--reason", "x"]] {
                let unknown = try cli.run(["corrections"] + verb + [id], now: "2026-10-09T00:00:00Z")
                #expect(unknown.status == 2 && unknown.stdout.isEmpty, "\(verb) \(id): \(unknown.stderr)")
                #expect(
                    unknown.stderr.contains("no correction") || unknown.stderr.contains("no invoice"),
                    "\(unknown.stderr)")
            }
        }

        // A price cut to 0.005: 510 tokens = 2.55; proposed = 2.55 − 4.00 − (0.50 + 0.50 issued)
        // − 0.10 rejected = −2.55, quantity 510 − 400 − 100 − 10 = 0: a credit note, issued as shown.
        let cut = CorrectionsFixture.catalog.replacingOccurrences(of: "\"0.01\"", with: "\"0.005\"")
        try #require(
            try cli.run(["catalog", "apply", try cli.write("c2.json", cut)], now: "2026-10-09T00:00:00Z").status == 0)
        #expect(
            try csv(cli, ["corrections", "--status", "proposed"]) == [
                Self.correctionsHeader,
                "k/2026-09-01/c4,k/2026-09-01,c,credit_note,proposed,tok,0,-2.55,0.00,0.00,-2.55,6,",
            ])
        #expect(
            try cli.run(["corrections", "show", "k/2026-09-01/c4"]).stdout.contains("re-priced by catalog version 2"))
        let credit = try cli.run(
            ["corrections", "issue", "k/2026-09-01/c4", "--as-shown", "-2.55"], now: "2026-10-10T00:00:00Z")
        #expect(
            credit.status == 0 && credit.stdout == "issued k/2026-09-01/c4: credit_note of -2.55 USD\n",
            "\(credit.stderr)")
        // Billed 5.00 − 2.55 = 2.45 against 2.55 live: the rejected 0.10 stays open drift.
        #expect(
            try csv(cli, ["discrepancies"]) == [
                Self.billedDriftHeader,
                "k/2026-09-01,c,tok,400,4.00,0.00,0.00,4.00,500,2.45,0.00,0.00,2.45,510,2.55,0.00,0.00,2.55,0.10,6,6,4,t3 t4 t5 t6,,2",
            ])

        // export: every correction, whole, in CSV and NDJSON; the incremental export writes it whole too.
        let expected =
            [
                Self.correctionsHeader,
                "k/2026-09-01/c1,k/2026-09-01,c,true_up,issued,tok,50,0.50,0.00,0.00,0.50,3,2026-10-05T00:00:00Z",
                "k/2026-09-01/c2,k/2026-09-01,c,true_up,issued,tok,50,0.50,0.00,0.00,0.50,5,2026-10-07T12:00:00Z",
                "k/2026-09-01/c3,k/2026-09-01,c,true_up,rejected,tok,10,0.10,0.00,0.00,0.10,6,",
                "k/2026-09-01/c4,k/2026-09-01,c,credit_note,issued,tok,0,-2.55,0.00,0.00,-2.55,6,2026-10-10T00:00:00Z",
            ].joined(separator: "\n") + "\n"
        let out = cli.file("export1").path
        let export = try cli.run(["export", "--as-of", "2026-10-01", "--out", out])
        #expect(export.status == 0 && export.stdout.contains("4 correction rows"), "\(export.stdout)\(export.stderr)")
        #expect(try String(contentsOfFile: out + "/corrections.csv", encoding: .utf8) == expected)
        #expect(try csv(cli, ["corrections"]).joined(separator: "\n") + "\n" == expected)
        let changed = cli.file("export2").path
        let delta = try cli.run([
            "export", "--as-of", "2026-10-01", "--out", changed, "--changed-since", "6", "--format", "ndjson",
        ])
        try #require(delta.status == 0, "\(delta.stderr)")
        let objects = try String(contentsOfFile: changed + "/corrections.ndjson", encoding: .utf8).split(
            separator: "\n"
        )
        .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
        #expect(
            objects.map { $0["correction_id"] ?? "" } == [
                "k/2026-09-01/c1", "k/2026-09-01/c2", "k/2026-09-01/c3", "k/2026-09-01/c4",
            ])
        #expect(objects.last?["total_delta"] == "-2.55" && objects.last?["issued_at"] == "2026-10-10T00:00:00Z")
        #expect(try cli.run(["replay", "--verify"]).status == 0)
    }
}
