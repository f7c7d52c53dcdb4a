import DaybookCore
import DaybookEngine
import DaybookOutput
import Foundation

/// `export --out DIR` needs a directory: creates it (with parents) unless something else is there.
func prepareExportDirectory(_ out: String) throws {
    var info = stat()
    if stat(out, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR {
        throw UsageError("--out \(out): exists and is not a directory")
    }
    do {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
        throw FileProblem(error, subject: "--out \(out)", action: "cannot create the directory") ?? error
    }
}

/// Writes `table` to `DIR/NAME.FORMAT`. Open errors are bad usage naming the path (exit 2); a
/// failed write is exit 1.
func writeExportFile(_ table: Table, name: String, out: String, format: ExportFormat) throws {
    let text = format == .csv ? TableWriter.csv(table) : TableWriter.ndjson(table)
    let file = try OutputFile(path: "\(out)/\(name).\(format.rawValue)")
    try file.write(text)
    try file.flush()
}

/// `export --changed-since SEQ [--since-as-of DATE]` into files (SPEC §5, issue 10): the rows
/// changed after log seq SEQ, in the full export's files, columns and order, and
/// `deleted.ndjson`: one object per row gone since, `{"table": "line_items", "invoice_id": …,
/// "line_item_id": …, "day": …}` (the table's key columns, values strings). Applying both to
/// the files of the export made at SEQ (as of `sinceAsOf`) gives the full export as of `asOf`.
func exportChangedFiles(
    _ engine: Engine, asOf: Day, since seq: UInt64, sinceAsOf: Day?, out: String, format: ExportFormat
) throws {
    let export: WarehouseExport
    do {
        let basis = ExportBasis(position: try engine.journalPosition(appendingSeq: seq), asOf: sinceAsOf ?? asOf)
        export = try engine.warehouseExport(asOf: asOf, since: basis)
    } catch let error as ExportBasisError {
        throw UsageError("\(error)")
    }
    try prepareExportDirectory(out)
    for (name, table) in export.tables.files { try writeExportFile(table, name: name, out: out, format: format) }
    let corrections = try writeCorrectionsFile(engine, export, out: out, format: format)
    var deleted = ""
    for (name, keys) in [
        ("invoices", export.deletedInvoices), ("line_items", export.deletedLineItems),
        ("balances", export.deletedBalances),
    ] {
        var table = Table(columns: ["table"] + keys.columns)
        table.rows = keys.rows.map { [name] + $0 }
        deleted += TableWriter.ndjson(table)
    }
    let file = try OutputFile(path: "\(out)/deleted.ndjson")
    try file.write(deleted)
    try file.flush()
    let t = export.tables
    let gone =
        export.deletedInvoices.rows.count + export.deletedLineItems.rows.count + export.deletedBalances.rows.count
    print(
        "exported \(t.invoices.rows.count) invoice rows, \(t.lineItems.rows.count) line-item rows, "
            + "\(t.balances.rows.count) balance rows changed since seq \(seq) and \(gone) deleted keys, "
            + "\(corrections) correction rows (all of them) to \(out) (log seq \(export.logSeq))")
}

/// Writes `DIR/corrections.FORMAT`: every correction as it stands, one row per correction × line
/// item (SPEC §5; a header only while there are none). Incremental exports write it whole too:
/// corrections are few, and a whole file replaces the earlier one without deletion keys. Returns
/// the number of rows.
func writeCorrectionsFile(_ engine: Engine, _ export: WarehouseExport, out: String, format: ExportFormat) throws -> Int
{
    let table = engine.correctionsTable(export.corrections)
    try writeExportFile(table, name: "corrections", out: out, format: format)
    return table.rows.count
}
