import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Finalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Finalize invoices due by the clock, or every invoice whose period ends on or before --through.")
    @OptionGroup var global: GlobalOptions
    @Option(
        help: ArgumentHelp(
            "Also finalize every invoice whose period end is on or before this date, YYYY-MM-DD.", valueName: "date"))
    var through: Day?

    func run() throws {
        let ids = try global.engine(.write, mustExist: true).finalize(now: try global.clock(), through: through)
        print(
            "\(ids.count) invoice\(ids.count == 1 ? "" : "s") finalized"
                + (ids.isEmpty ? "" : ": " + ids.joined(separator: ", ")))
    }
}
