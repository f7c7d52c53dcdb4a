import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commits and credits exhausted or projected to run out within DAYS days.",
        discussion: """
            The projection divides what each active balance had left at the end of today by what \
            it drew per day over the complete days before today (up to 7, fewer when it or its \
            contract started less than 7 days ago). \
            DAYS is --within, else the catalog's balance_alert_days, else 30. Exhausted balances \
            come first, then by days left. Backdated usage counts as soon as it is ingested.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    // Read `.unconditional`ly: `--within -3` is the value -3 (out of range), not a missing value.
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Look this many days ahead, 1 to 3660 (default: the catalog's balance_alert_days, else 30).",
            valueName: "days"))
    var within: Int?
    @Option(help: "Only this customer's balances.") var customer: String?

    func validate() throws {
        if let within { try requireRange(within, Catalog.balanceAlertDayRange, option: "--within") }
    }

    func run() throws {
        let engine = try global.engine(.read)
        let table = try engine.balanceAlertsTable(now: try global.clock(), withinDays: within, customer: customer)
        if output.resolved() == .table && table.rows.isEmpty {
            let days = engine.balanceAlertDays(within: within)
            print("no alerts: no balance is exhausted or projected to run out within \(days) days")
            return
        }
        output.emit(
            table, rightAligned: ["amount", "remaining", "daily_run_rate", "run_rate_days", "days_left"])
    }
}
