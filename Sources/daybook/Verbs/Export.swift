import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write the breakdown as of a date: invoices, line_items and balances tables, and the corrections, to files or PostgreSQL (SPEC §5).",
        discussion: """
            Files: invoices, line_items, balances and corrections (.csv or .ndjson) in --out. The \
            corrections file lists every correction as it stands now, one row per correction and line \
            item (a header only while there are none); it is not limited by --as-of, and with \
            --changed-since it is written whole (it replaces the earlier one).
            """)
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Option(help: ArgumentHelp("Export days strictly before this date, YYYY-MM-DD.", valueName: "date")) var asOf: Day
    @Option(help: "Output directory (created if missing).") var out: String?
    @Option(help: "File format.") var format: ExportFormat = .csv
    @Option(
        help: ArgumentHelp(
            "Write only the rows whose values changed after this log seq (the log seq of the export being "
                + "updated). Files: also deleted.ndjson, the keys of rows gone since, one JSON object per key with "
                + "\"table\" and the key columns. PostgreSQL: upserts and deletes in one transaction.",
            valueName: "seq")) var changedSince: UInt64?
    @Option(
        help: ArgumentHelp(
            "Files, with --changed-since: the --as-of date of the export being updated (default: the same --as-of); "
                + "rows of days between the two dates are written or deleted.", valueName: "date")) var sinceAsOf: Day?
    @OptionGroup var warehouse: WarehouseOptions

    func validate() throws {
        try requireNonEmpty(out, option: "--out")
        try warehouse.validate(out: out, changedSince: changedSince)
        if sinceAsOf != nil && changedSince == nil {
            throw ValidationError("--since-as-of goes with --changed-since SEQ")
        }
        if sinceAsOf != nil && warehouse.postgres != nil {
            throw ValidationError(
                "--since-as-of is for file exports: with --postgres the as-of date of the tables is read from invoice_breakdown.exports"
            )
        }
    }

    func run() throws {
        if let url = warehouse.postgres {
            return try warehouse.run(url: url, store: store, asOf: asOf, changedSince: changedSince)
        }
        guard let out else { return }
        if let changedSince {
            return try exportChangedFiles(
                store.engine(.read), asOf: asOf, since: changedSince, sinceAsOf: sinceAsOf, out: out, format: format)
        }
        let engine = try store.engine(.read)
        // One read for the rows and the corrections (a correction issued meanwhile is in neither or both).
        let export = try engine.warehouseExport(asOf: asOf)
        let t = export.tables
        try prepareExportDirectory(out)
        for (name, table) in t.files { try writeExportFile(table, name: name, out: out, format: format) }
        let corrections = try writeCorrectionsFile(engine, export, out: out, format: format)
        print(
            "exported \(t.invoices.rows.count) invoice rows, \(t.lineItems.rows.count) line-item rows, "
                + "\(t.balances.rows.count) balance rows, \(corrections) correction rows to \(out)")
    }
}

/// `export --format`: the file format of the snapshot (SPEC §5).
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case csv, ndjson
}
