import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the breakdown as of a date: invoices, line_items and balances tables (SPEC §5).")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Option(help: ArgumentHelp("Export days strictly before this date, YYYY-MM-DD.", valueName: "date")) var asOf: Day
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "File format.") var format: ExportFormat = .csv

    func validate() throws { try requireNonEmpty(out, option: "--out") }

    func run() throws {
        let export = try store.engine(.read).export(asOf: asOf)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for (name, table) in export.files {
            let text = format == .csv ? TableWriter.csv(table) : TableWriter.ndjson(table)
            let path = "\(out)/\(name).\(format.rawValue)"
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw UsageError("cannot write \(path)")
            }
        }
        print(
            "exported \(export.invoices.rows.count) invoice rows, \(export.lineItems.rows.count) line-item rows, "
                + "\(export.balances.rows.count) balance rows to \(out)")
    }
}

/// `export --format`: the file format of the snapshot (SPEC §5).
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case csv, ndjson
}
