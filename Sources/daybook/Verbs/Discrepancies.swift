import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Discrepancies: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open drift between finalized invoices and the live breakdown, per invoice line item.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only this customer.") var customer: String?
    @Flag(help: "Resolved drift (returned to the snapshot) instead of open drift.") var history = false

    func run() throws {
        let engine = try global.engine(mustExist: true)
        let records = try engine.discrepancies(customer: customer, history: history)
        switch output.resolved() {
        case .json: print(engine.discrepanciesJSON(records), terminator: "")
        case .csv: print(TableWriter.csv(engine.discrepanciesTable(records)), terminator: "")
        case .table:
            if records.isEmpty {
                print(
                    history ? "no resolved drift" : "no open drift: every finalized invoice matches the live breakdown")
                return
            }
            printDiscrepancyReport(engine, records, causes: true)
        }
    }
}
