import DaybookTestSupport
import Foundation
import Testing

/// `daybook generate --customer-count N --catalog-out FILE` (issue 11): a catalog for many
/// generated customers that applies and covers every generated event.
@Suite("generate --catalog-out", .watchdog(seconds: 600))
struct GenerateCatalogTests {
    @Test func theGeneratedCatalogAppliesAndBillsEveryGeneratedCustomer() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let catalog = cli.file("catalog.json").path, events = cli.file("events.ndjson").path
        let args = [
            "generate", "--seed", "3", "--start", "2026-09-01", "--days", "45", "--events-per-day", "20",
            "--customer-count", "30",
        ]
        let made = try CLI.daybook(args + ["--out", events, "--catalog-out", catalog])
        try #require(made.status == 0, "\(made.stderr)")

        // The catalog read as plain JSON (not through the engine's parser).
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: catalog))) as? [String: Any])
        let customers = try #require(document["customers"] as? [[String: Any]])
        let ids = customers.compactMap { $0["id"] as? String }
        #expect(ids == (1...30).map { String(format: "c%04d", $0) })
        let contracts = customers.flatMap { ($0["contracts"] as? [[String: Any]]) ?? [] }
        #expect(contracts.count == 30, "one contract per customer")
        #expect(Set(contracts.compactMap { $0["starts"] as? String }) == ["2026-09-01"])
        #expect(Set(contracts.compactMap { $0["rate_card"] as? String }) == ["standard", "startup"])
        #expect(Set(contracts.compactMap { $0["billing_anchor_day"] as? Int }).count >= 2, "a few anchor days")
        let balances = contracts.flatMap { ($0["balances"] as? [[String: Any]]) ?? [] }
        let commits = balances.filter { $0["type"] as? String == "commit" }
        #expect(commits.count == 30)
        #expect(Set(commits.compactMap { $0["amount"] as? String }).count >= 4, "commits of varied sizes")
        #expect(balances.contains { $0["type"] as? String == "credit" })
        #expect(document["products"] as? [[String: Any]] != nil && document["rate_cards"] as? [[String: Any]] != nil)

        // Every generated event names one of its customers (lines that parse and have one).
        let known = Set(ids)
        var named = 0
        for line in try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let customer = object["customer_id"] as? String
            else { continue }
            named += 1
            #expect(known.contains(customer), "\(customer) is not in the generated catalog")
        }
        #expect(named > 1_000)

        // It applies, and after ingesting the whole file at its end nothing is unbilled.
        let applied = try cli.run(["catalog", "apply", catalog], now: "2026-09-01")
        #expect(applied.status == 0, "\(applied.stderr)")
        let ingested = try cli.run(["ingest", events, "--format", "json"], now: "2026-10-16")
        #expect(ingested.status == 0, "\(ingested.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(ingested.stdout.utf8)) as? [String: Int])
        #expect(summary["accepted"]! > 1_000)
        let unbilled = try cli.run(["unbilled", "--format", "csv"], now: "2026-10-16")
        #expect(
            unbilled.stdout == "seq,transaction_id,customer_id,event_type,day,reason\n",
            "\(unbilled.stdout.prefix(300))")
        // Dead letters are the generator's invalid records only, none too late.
        let dead = try cli.run(["dead-letters", "--format", "csv"], now: "2026-10-16").stdout
        #expect(!dead.contains("too_late"))

        // Seeded: the same arguments make the same catalog, another seed another one; the
        // events are those of a plain `generate` for the same customers.
        let again = cli.file("again.json").path
        try #require(try CLI.daybook(args + ["--out", cli.file("e2").path, "--catalog-out", again]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: catalog)))
        let other = cli.file("other.json").path
        var reseeded = args
        reseeded[2] = "4"
        try #require(try CLI.daybook(reseeded + ["--out", cli.file("e3").path, "--catalog-out", other]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)) != Data(contentsOf: URL(fileURLWithPath: catalog)))
        let plain = try CLI.daybook(args)
        #expect(Data(plain.stdout.utf8) == (try Data(contentsOf: URL(fileURLWithPath: events))))

        #expect(try CLI.daybook(args + ["--customers", "a,b"]).status == 2, "--customers or --customer-count")
        #expect(try CLI.daybook(["generate", "--customer-count", "0"]).status == 2)
    }
}
