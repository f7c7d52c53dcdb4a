import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Breakdown: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The per-day breakdown of one invoice: a row per day and line item, plus day totals (line item '*').")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Invoice id, CONTRACT/YYYY-MM-DD.") var invoice: String

    func run() throws {
        let table = try global.engine(.read).breakdown(invoiceID: invoice, now: try global.clock())
        output.emit(
            table, rightAligned: ["quantity", "unit_price", "subtotal", "credits_applied", "commits_applied", "total"])
    }
}
