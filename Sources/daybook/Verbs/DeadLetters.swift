import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Records that were not accepted, with reason and position.")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption

    /// The text table leaves out `raw_base64` and shows `message` and `raw` cut to a width;
    /// CSV and JSON carry every column in full.
    func run() throws {
        let table = try store.engine(.read).deadLettersTable()
        switch output.resolved() {
        case .table:
            let shown = Engine.deadLetterColumns.filter { $0 != "raw_base64" }
            output.emit(table.projected(shown), rightAligned: ["number"], maxWidths: ["message": 80, "raw": 60])
        case .csv, .json:
            output.emit(table)
        }
    }
}
