/// The small catalog and events the corrections outputs' tests (warehouse, HTTP) work by hand:
/// `tok` at 0.01 a token, no balances, customers `c` (contract `k`) and `d` (contract `m`), both
/// billed monthly from Sep 1, so `N` late tokens move a September invoice's total by `N × 0.01`.
public enum CorrectionsFixture {
    public static let catalog = #"""
        {"currency": "USD", "currency_decimals": 2, "max_lateness_days": 60, "finalization_grace_hours": 24,
         "metrics": [{"id": "tokens", "event_type": "inference", "aggregation": "sum", "property": "tokens"}],
         "products": [{"id": "tok", "name": "Tokens", "metric": "tokens"}],
         "rate_cards": [{"id": "r", "rates": [{"product": "tok", "unit_price": "0.01"}]}],
         "customers": [
           {"id": "c", "name": "Cee", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-09-01", "ends": null, "balances": []}]},
           {"id": "d", "name": "Dee", "contracts": [{"id": "m", "rate_card": "r", "starts": "2026-09-01", "ends": null, "balances": []}]}
         ]}
        """#

    /// One inference event of `tokens` for `customer` at noon UTC on `date` (YYYY-MM-DD), as a JSON line.
    public static func event(_ id: String, _ customer: String, _ date: String, tokens: Int) -> String {
        #"{"transaction_id": "\#(id)", "customer_id": "\#(customer)", "event_type": "inference", "#
            + #""timestamp": "\#(date)T12:00:00Z", "properties": {"tokens": \#(tokens)}}"#
    }
}
