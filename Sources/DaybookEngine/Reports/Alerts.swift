import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

// `daybook alerts` and `GET /v1/alerts` (issue 11): one table, built here, so the CLI and the
// server print the same bytes.

extension Engine {
    /// The columns of ``balanceAlertsTable(now:withinDays:customer:)``, in order.
    ///
    /// `amount`, `remaining` and `daily_run_rate` carry the currency's decimals (the run rate is
    /// rounded half-even for display; the projection uses the exact ratio); `run_rate_days` is how
    /// many complete days before today the rate averages (up to 7, fewer at a balance's start);
    /// `days_left` is 0 for an exhausted balance; `exhausts_on` is today + `days_left` for one
    /// running out, `exhausted_on` the first day its closing amount was zero for an exhausted one
    /// (each empty otherwise); `ends` is the balance's exclusive end date.
    public static let balanceAlertColumns = [
        "balance_id", "customer_id", "contract_id", "type", "status", "amount", "remaining", "daily_run_rate",
        "run_rate_days", "days_left", "exhausts_on", "exhausted_on", "ends",
    ]

    /// The alert horizon in days: `within` when given, else the catalog's `balance_alert_days`
    /// (30 without a catalog or the setting).
    public func balanceAlertDays(within: Int?) -> Int {
        within ?? catalog?.balanceAlertDays ?? Catalog.defaultBalanceAlertDays
    }

    /// The balances exhausted or projected to run out within `withinDays` days of `now`'s day
    /// (nil: the catalog's `balance_alert_days`), in the order of
    /// ``balanceAlerts(now:withinDays:customer:)``, as a table of ``balanceAlertColumns``.
    ///
    /// - Throws: ``EngineError`` `.notFound` for a `customer` not in the catalog (a misspelt id
    ///   never reads as "no alerts"), `.noCatalog` before a catalog is applied.
    public func balanceAlertsTable(now: Timestamp, withinDays: Int? = nil, customer: String? = nil) throws -> Table {
        // The catalog as stored now: a read engine kept by the server may hold an older version.
        let store = self.store
        try store.env.read { txn in try refreshPlan(try EngineState.load(store, txn), txn) }
        guard let catalog else {
            throw EngineError(code: .noCatalog, message: "no catalog yet: apply one with `daybook catalog apply FILE`")
        }
        if let customer, catalog.customer(customer) == nil {
            throw EngineError(
                code: .notFound, message: "no customer \"\(customer)\" in the catalog in force (see `daybook invoices`)"
            )
        }
        let decimals = catalog.currencyDecimals
        func money(_ v: FixedDecimal) -> String { v.formatted(decimals: decimals) }
        var table = Table(columns: Self.balanceAlertColumns)
        for p in try balanceAlerts(now: now, withinDays: balanceAlertDays(within: withinDays), customer: customer) {
            table.rows.append([
                p.balanceID, p.customerID, p.contractID, p.kind.rawValue, p.status.rawValue, money(p.amount),
                money(p.remaining), money(p.dailyRunRate(decimals: decimals)), "\(p.runRateDays)",
                p.daysLeft.map { "\($0)" } ?? "", p.exhaustsOn.map { "\($0)" } ?? "",
                p.exhaustedOn.map { "\($0)" } ?? "", "\(p.ends)",
            ])
        }
        return table
    }
}
