import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct InvoiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice", abstract: "Inspect one invoice.",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The finalized snapshot beside the live values, per line item.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: FormatOption
        @Argument(help: "Invoice id, CONTRACT/YYYY-MM-DD.") var id: String

        func run() throws {
            let (snapshot, table) = try global.engine(.read).invoiceComparison(
                invoiceID: id, now: try global.clock())
            if output.resolved() == .table {
                if let snapshot {
                    print(
                        "\(id): finalized at \(snapshot.finalizedAt) (log seq \(snapshot.seq)); finalized values beside live values\n"
                    )
                } else {
                    print("\(id): draft (not finalized); live values\n")
                }
            }
            output.emit(table, rightAligned: Set(table.columns.dropFirst()))
        }
    }
}
