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
    @Option(help: "Also finalize every invoice whose period end is on or before this date.") var through: String?

    func run() throws {
        let through = try through.map { try parseDay($0, option: "--through") }
        let ids = try global.engine().finalize(now: try global.clock(), through: through)
        print(
            "\(ids.count) invoice\(ids.count == 1 ? "" : "s") finalized"
                + (ids.isEmpty ? "" : ": " + ids.joined(separator: ", ")))
    }
}
