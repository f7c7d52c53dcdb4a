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

    /// An aligned plain-text table for people.
    public static func text(_ table: Table, rightAligned: Set<String> = []) -> String {
        var widths = table.columns.map { $0.count }
        for row in table.rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var s = ""
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let right = rightAligned.contains(table.columns[i])
                s += (i > 0 ? "  " : "") + (right ? pad + cell : cell + (i == cells.count - 1 ? "" : pad))
            }
            return s + "\n"
        }
        var out = line(table.columns)
        out += line(widths.map { String(repeating: "-", count: $0) })
        for row in table.rows { out += line(row) }
        return out
    }
}
