import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the breakdown as of a date: invoices, line_items and balances tables, to files or PostgreSQL (SPEC §5).")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Option(help: ArgumentHelp("Export days strictly before this date, YYYY-MM-DD.", valueName: "date")) var asOf: Day
    @Option(help: "Output directory (created if missing).") var out: String?
    @Option(help: "File format.") var format: ExportFormat = .csv
    @OptionGroup var warehouse: WarehouseOptions

    func validate() throws {
        try requireNonEmpty(out, option: "--out")
        try warehouse.validate(out: out)
    }

    func run() throws {
        if let url = warehouse.postgres { return try warehouse.run(url: url, store: store, asOf: asOf) }
        guard let out else { return }
        let export = try store.engine(.read).export(asOf: asOf)
        var info = stat()
        if stat(out, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR {
            throw UsageError("--out \(out): exists and is not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw FileProblem(error, subject: "--out \(out)", action: "cannot create the directory") ?? error
        }
        for (name, table) in export.files {
            let text = format == .csv ? TableWriter.csv(table) : TableWriter.ndjson(table)
            // Open errors are bad usage naming the path (exit 2); a failed write is exit 1.
            let file = try OutputFile(path: "\(out)/\(name).\(format.rawValue)")
            try file.write(text)
            try file.flush()
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
