import DaybookCore

/// Writes tables as RFC 4180 CSV or NDJSON (SPEC §5).
public enum TableWriter {
    /// CSV: header row, `\n` line endings, a field quoted only when it holds `,` `"` CR or LF.
    public static func csv(_ table: Table) -> String {
        var out = ""
        out.reserveCapacity(64 * (table.rows.count + 1))
        func line(_ fields: [String]) {
            for (i, f) in fields.enumerated() {
                if i > 0 { out += "," }
                out += csvField(f)
            }
            out += "\n"
        }
        line(table.columns)
        for row in table.rows { line(row) }
        return out
    }

    public static func csvField(_ f: String) -> String {
        guard f.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else { return f }
        var quoted = "\""
        for ch in f.unicodeScalars {
            if ch == "\"" { quoted += "\"\"" } else { quoted.unicodeScalars.append(ch) }
        }
        return quoted + "\""
    }

    /// NDJSON: one object per row, keys in column order, values as JSON strings.
    public static func ndjson(_ table: Table) -> String {
        var out = ""
        for row in table.rows {
            out += "{"
            for (i, column) in table.columns.enumerated() {
                if i > 0 { out += ", " }
                out += StrictJSON.quote(column) + ": " + StrictJSON.quote(row[i])
            }
            out += "}\n"
        }
        return out
    }

    /// A JSON array of objects (for `--format json` reports); values are strings unless
    /// `rawColumns` names them (numbers, arrays written as they are).
    public static func jsonArray(_ table: Table, rawColumns: Set<String> = []) -> String {
        var out = "["
        for (r, row) in table.rows.enumerated() {
            out += r == 0 ? "\n  {" : ",\n  {"
            for (i, column) in table.columns.enumerated() {
                if i > 0 { out += ", " }
                out +=
                    StrictJSON.quote(column) + ": " + (rawColumns.contains(column) ? row[i] : StrictJSON.quote(row[i]))
            }
            out += "}"
        }
        return out + (table.rows.isEmpty ? "]\n" : "\n]\n")
    }

    /// The widest a cell of the text table is shown, in characters, unless `maxWidths` says
    /// otherwise: wide enough for any id (at most 128 bytes) and line-item id.
    public static let maxCellWidth = 200

    /// An aligned plain-text table for people. Each cell is shown in its display form
    /// (``CellText/display(_:maxWidth:)``: control characters escaped, cut with "…" past
    /// `maxWidths[column]`, else ``maxCellWidth``), and column widths are those of what is shown,
    /// so one huge cell costs its own row only.
    ///
    /// - Complexity: O(rows × columns × width shown), whatever the length of the cells.
    public static func text(
        _ table: Table, rightAligned: Set<String> = [], maxWidths: [String: Int] = [:]
    ) -> String {
        let limits = table.columns.map { maxWidths[$0] ?? maxCellWidth }
        var widths = table.columns.map { $0.count }
        let shown = table.rows.map { row in
            row.enumerated().map { i, cell in
                let cell = CellText.display(cell, maxWidth: limits[i])
                widths[i] = max(widths[i], cell.width)
                return cell
            }
        }
        let right = table.columns.map { rightAligned.contains($0) }
        var out = ""
        func line(_ cells: [(text: String, width: Int)]) {
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.width)
                if i > 0 { out += "  " }
                if right[i] {
                    out += pad + cell.text
                } else {
                    out += cell.text
                    if i < cells.count - 1 { out += pad }
                }
            }
            out += "\n"
        }
        line(table.columns.map { ($0, $0.count) })
        line(widths.map { (String(repeating: "-", count: $0), $0) })
        for row in shown { line(row) }
        return out
    }
}
