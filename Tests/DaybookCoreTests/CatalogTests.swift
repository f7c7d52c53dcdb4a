import DaybookCore
import Testing

@Suite("Catalog validation")
struct CatalogTests {
    static let valid = """
        {"currency": "USD", "currency_decimals": 2,
         "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens",
                      "filters": {"region": ["us", 1]}, "group_by": ["model"]}],
         "products": [{"id": "t", "name": "Tokens", "metric": "tokens"}, {"id": "fee", "name": "Fee", "fixed": true}],
         "rate_cards": [{"id": "std", "rates": [{"product": "t", "tiers": [{"up_to": "10", "unit_price": "1"}, {"up_to": null, "unit_price": "0.5"}]},
                                                {"product": "fee", "unit_price": "5.00"}]}],
         "customers": [{"id": "a", "name": "A", "contracts": [
            {"id": "a-1", "rate_card": "std", "starts": "2026-01-01", "ends": "2026-06-01",
             "balances": [{"id": "b1", "type": "credit", "amount": "10.00", "starts": "2026-01-01", "ends": "2026-03-01", "products": null}]},
            {"id": "a-2", "rate_card": "std", "starts": "2026-06-01", "ends": null, "billing_anchor_day": 15}]}]}
        """

    @Test func loadsAValidCatalogWithDefaults() throws {
        let c = try Catalog.parse(Array(Self.valid.utf8))
        #expect(c.maxLatenessDays == 34)
        #expect(c.finalizationGraceHours == 24)
        #expect(c.contracts.map(\.id) == ["a-1", "a-2"])
        #expect(c.contracts[0].billingAnchorDay == 1)
        #expect(c.contracts[1].billingAnchorDay == 15)
        #expect(c.metrics["tokens"]?.filters.first?.allowed == ["us", "1"])
        #expect(c.contracts[0].balances.first?.priority == 0)
    }

    func issues(_ json: String) -> [String] {
        do {
            _ = try Catalog.parse(Array(json.utf8))
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    /// Ids are parts of store keys (LMDB keys are at most 511 bytes): 128 bytes at most, like
    /// the ids of events (SPEC §1).
    @Test func idsOver128BytesAreRefusedWithTheirPathAndLimit() {
        let at128 = Self.valid.replacingOccurrences(of: "\"a-1\"", with: "\"\(String(repeating: "k", count: 128))\"")
        #expect(issues(at128).isEmpty)
        let over = Self.valid.replacingOccurrences(of: "\"a-1\"", with: "\"\(String(repeating: "k", count: 129))\"")
            .replacingOccurrences(
                of: "\"tokens\", \"event_type\"", with: "\"\(String(repeating: "m", count: 129))\", \"event_type\"")
        #expect(issues(over).contains("$.customers[0].contracts[0].id: longer than 128 bytes"))
        #expect(issues(over).contains("$.metrics[0].id: longer than 128 bytes"))
    }

    @Test func reportsEveryErrorWithItsPath() {
        var doc = Self.valid
        doc = doc.replacingOccurrences(of: "\"up_to\": \"10\"", with: "\"up_to\": null")
        doc = doc.replacingOccurrences(of: "\"ends\": \"2026-06-01\"", with: "\"ends\": \"2026-07-01\"")
        doc = doc.replacingOccurrences(of: "\"amount\": \"10.00\"", with: "\"amount\": \"10.001\"")
        let found = issues(doc)
        #expect(found.contains { $0.hasPrefix("$.rate_cards[0].rates[0].tiers[0].up_to") })
        #expect(found.contains { $0.hasPrefix("$.customers[0].contracts[1]: overlaps contract \"a-1\"") })
        #expect(found.contains { $0.hasPrefix("$.customers[0].contracts[0].balances[0].amount") })
        #expect(found.count == 3, "\(found)")
    }

    @Test(arguments: [
        ("\"billing_anchor_day\": 15", "\"billing_anchor_day\": 29", "$.customers[0].contracts[1].billing_anchor_day"),
        ("\"unit_price\": \"5.00\"", "\"unit_price\": \"5.001\"", "$.rate_cards[0].rates[1].unit_price"),
        ("\"unit_price\": \"0.5\"", "\"unit_price\": \"-0.5\"", "$.rate_cards[0].rates[0].tiers[1].unit_price"),
        ("\"unit_price\": \"0.5\"", "\"unit_price\": \"1000000000\"", "$.rate_cards[0].rates[0].tiers[1].unit_price"),
        ("\"metric\": \"tokens\"", "\"metric\": \"nope\"", "$.products[0].metric"),
        ("\"aggregation\": \"sum\"", "\"aggregation\": \"avg\"", "$.metrics[0].aggregation"),
        (
            "\"rate_card\": \"std\", \"starts\": \"2026-06-01\"", "\"rate_card\": \"gold\", \"starts\": \"2026-06-01\"",
            "$.customers[0].contracts[1].rate_card"
        ),
        (
            "\"starts\": \"2026-01-01\", \"ends\": \"2026-03-01\"",
            "\"starts\": \"2026-01-01\", \"ends\": \"2025-03-01\"", "$.customers[0].contracts[0].balances[0].ends"
        ),
        ("\"group_by\": [\"model\"]", "\"group_by\": [\"a\", \"b\", \"c\", \"d\"]", "$.metrics[0].group_by"),
        (
            "{\"up_to\": \"10\"", "{\"up_to\": \"20\", \"unit_price\": \"1\"}, {\"up_to\": \"10\"",
            "$.rate_cards[0].rates[0].tiers[1].up_to"
        ),
    ])
    func rejectsInvalidValues(original: String, replacement: String, path: String) {
        let doc = Self.valid.replacingOccurrences(of: original, with: replacement)
        #expect(doc != Self.valid, "test setup: \(original) not found")
        let found = issues(doc)
        #expect(found.contains { $0.hasPrefix(path) }, "\(found)")
    }

    /// `balance_alert_days` (issue 11): the alert horizon, default 30, an integer 1–3660.
    @Test func balanceAlertDaysDefaultsTo30AndIsValidatedWithItsPath() throws {
        #expect(try Catalog.parse(Array(Self.valid.utf8)).balanceAlertDays == 30)
        let with = { (value: String) in
            Self.valid.replacingOccurrences(
                of: "\"currency_decimals\": 2,", with: "\"currency_decimals\": 2, \"balance_alert_days\": \(value),")
        }
        #expect(try Catalog.parse(Array(with("14").utf8)).balanceAlertDays == 14)
        #expect(try Catalog.parse(Array(with("1").utf8)).balanceAlertDays == 1)
        #expect(try Catalog.parse(Array(with("3660").utf8)).balanceAlertDays == 3660)
        #expect(try Catalog.parse(Array(with("null").utf8)).balanceAlertDays == 30, "null is absent")
        #expect(issues(with("0")) == ["$.balance_alert_days: must be between 1 and 3660"])
        #expect(issues(with("3661")) == ["$.balance_alert_days: must be between 1 and 3660"])
        #expect(issues(with("7.5")) == ["$.balance_alert_days: must be an integer"])
        #expect(issues(with("\"7\"")) == ["$.balance_alert_days: must be an integer"])
    }

    /// `correction_threshold` (issue 13): a currency amount, default 0, with at most
    /// `currency_decimals` fractional digits; a JSON number is read leniently like other amounts.
    @Test func correctionThresholdDefaultsToZeroAndIsValidatedWithItsPath() throws {
        #expect(try Catalog.parse(Array(Self.valid.utf8)).correctionThreshold == .zero)
        let with = { (value: String, decimals: Int) in
            Self.valid.replacingOccurrences(
                of: "\"currency_decimals\": 2,",
                with: "\"currency_decimals\": \(decimals), \"correction_threshold\": \(value),")
        }
        #expect(try Catalog.parse(Array(with("\"1.00\"", 2).utf8)).correctionThreshold == FixedDecimal(1))
        #expect(try Catalog.parse(Array(with("\"0.26\"", 2).utf8)).correctionThreshold == FixedDecimal("0.26")!)
        #expect(try Catalog.parse(Array(with("\"0.00\"", 2).utf8)).correctionThreshold == .zero)
        #expect(try Catalog.parse(Array(with("\"5\"", 0).utf8)).correctionThreshold == FixedDecimal(5))
        #expect(try Catalog.parse(Array(with("\"0.125\"", 3).utf8)).correctionThreshold == FixedDecimal("0.125")!)
        let path = "$.correction_threshold"
        for (value, decimals) in [
            ("\"-1.00\"", 2), ("\"0.001\"", 2), ("\"0.5\"", 0), ("\"abc\"", 2), ("\"1e2\"", 2), ("true", 2),
            ("[1]", 2), ("\"\"", 2),
        ] {
            let found = issues(with(value, decimals))
            #expect(found.count == 1 && found[0].hasPrefix(path + ": "), "\(value) with \(decimals) decimals: \(found)")
        }
        #expect(issues(with("\"-1.00\"", 2)) == ["\(path): correction_threshold must not be negative"])
        #expect(
            issues(with("\"0.001\"", 2)) == [
                "\(path): correction_threshold \"0.001\" has more than 2 fractional digits"
            ])
    }

    @Test func rejectsNonJSON() {
        #expect(issues("{\"currency\": \"USD\",}").first?.hasPrefix("$: not valid JSON") == true)
    }
}

extension String {
    /// Replaces the first occurrence of `target` (no Foundation in this module's tests).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        let parts = self.split(separator: target, maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return self }
        return String(parts[0]) + replacement + String(parts[1])
    }
}
