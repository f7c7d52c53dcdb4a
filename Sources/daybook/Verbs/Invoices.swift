import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Invoices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List invoices with status and period totals.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only this customer's invoices.") var customer: String?

    func run() throws {
        let table = try global.engine(.read).invoicesTable(now: try global.clock(), customer: customer)
        output.emit(table, rightAligned: ["line_items", "subtotal", "credits_applied", "commits_applied", "total"])
    }
}
