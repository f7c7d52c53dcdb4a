import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log position and recompute counters.")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption

    func run() throws {
        let fields = try store.engine(.read).statsFields()
        switch output.resolved(summary: true) {
        case .json: print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        case .csv:
            print(fields.map(\.0).joined(separator: ",") + "\n" + fields.map { "\($0.1)" }.joined(separator: ","))
        case .table:
            var table = Table(columns: ["counter", "value"])
            table.rows = fields.map { [$0.0, "\($0.1)"] }
            print(TableWriter.text(table, rightAligned: ["value"]), terminator: "")
        }
    }
}
