/// The example catalog of the specification (`shared/examples/catalog.json`), embedded so
/// `daybook demo` runs on a fresh machine with nothing else.
public enum ExampleCatalog {
    public static let json = #"""
        {
          "currency": "USD",
          "currency_decimals": 2,
          "max_lateness_days": 34,
          "finalization_grace_hours": 24,
          "metrics": [
            {"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens",
             "filters": {"region": ["us", "eu"]}, "group_by": ["model"]},
            {"id": "requests", "event_type": "inference", "aggregation": "count"},
            {"id": "peak_gpus", "event_type": "gpu_sample", "aggregation": "max", "property": "gpus"},
            {"id": "active_users", "event_type": "session", "aggregation": "unique_count", "property": "user_id"},
            {"id": "storage_gb_hours", "event_type": "storage", "aggregation": "sum", "property": "gb_hours"}
          ],
          "products": [
            {"id": "inference_tokens", "name": "Inference tokens", "metric": "tokens"},
            {"id": "api_requests", "name": "API requests", "metric": "requests"},
            {"id": "gpu_capacity", "name": "Peak GPU capacity", "metric": "peak_gpus"},
            {"id": "seats", "name": "Active users", "metric": "active_users"},
            {"id": "storage", "name": "Storage", "metric": "storage_gb_hours"},
            {"id": "platform_fee", "name": "Platform fee", "fixed": true}
          ],
          "rate_cards": [
            {"id": "standard", "rates": [
              {"product": "inference_tokens", "tiers": [
                {"up_to": "1000000", "unit_price": "0.000004"},
                {"up_to": "50000000", "unit_price": "0.0000032"},
                {"up_to": null, "unit_price": "0.0000025"}]},
              {"product": "api_requests", "unit_price": "0.0001"},
              {"product": "gpu_capacity", "tiers": [
                {"up_to": "8", "unit_price": "120.00"},
                {"up_to": null, "unit_price": "95.00"}]},
              {"product": "seats", "unit_price": "12.00"},
              {"product": "storage", "unit_price": "0.000125"},
              {"product": "platform_fee", "unit_price": "500.00"}]},
            {"id": "startup", "rates": [
              {"product": "inference_tokens", "unit_price": "0.000005"},
              {"product": "api_requests", "unit_price": "0.0002"},
              {"product": "storage", "unit_price": "0.00015"}]}
          ],
          "customers": [
            {"id": "acme", "name": "Acme Robotics", "contracts": [
              {"id": "acme-2026", "rate_card": "standard", "starts": "2026-01-01", "ends": null,
               "billing_anchor_day": 1,
               "balances": [
                 {"id": "acme-commit-2026", "type": "commit", "amount": "25000.00",
                  "starts": "2026-01-01", "ends": "2027-01-01", "products": null, "priority": 1},
                 {"id": "acme-promo", "type": "credit", "amount": "300.00",
                  "starts": "2026-09-01", "ends": "2026-12-01",
                  "products": ["inference_tokens"], "priority": 0}]}]},
            {"id": "globex", "name": "Globex", "contracts": [
              {"id": "globex-1", "rate_card": "startup", "starts": "2026-09-15", "ends": null,
               "billing_anchor_day": 15,
               "balances": [
                 {"id": "globex-welcome", "type": "credit", "amount": "50.00",
                  "starts": "2026-09-15", "ends": "2026-12-15", "products": null, "priority": 0}]}]},
            {"id": "initech", "name": "Initech", "contracts": []}
          ]
        }
        """#

    public static var bytes: [UInt8] { Array(json.utf8) }
}

extension ExampleCatalog {
    /// The example catalog's settings, metrics, products and rate cards with `customers` (the
    /// JSON objects of a `customers` array, joined) in place of its own, and `max_lateness_days`
    /// set to `maxLatenessDays`: how the generated and benchmark catalogs are made.
    public static func withCustomers(_ customers: [String], maxLatenessDays: Int = 34) -> String {
        guard let customersKey = json.firstRange(of: "\"customers\": ["),
            let lateness = json.firstRange(of: "\"max_lateness_days\": 34")
        else { fatalError("ExampleCatalog.json has lost its \"customers\" or \"max_lateness_days\" key") }
        var head = String(json[..<customersKey.lowerBound])
        head.replaceSubrange(lateness, with: "\"max_lateness_days\": \(maxLatenessDays)")
        return head + "\"customers\": [\n" + customers.joined(separator: ",\n") + "\n  ]\n}\n"
    }
}
