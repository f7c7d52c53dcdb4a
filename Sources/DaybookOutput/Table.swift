/// Tables and their writers: what every report and export produces, as text, CSV, NDJSON or JSON.

/// A table of string cells with named columns: what every report and export produces.
public struct Table: Sendable, Hashable {
    public var columns: [String]
    public var rows: [[String]]
    public init(columns: [String], rows: [[String]] = []) {
        self.columns = columns
        self.rows = rows
    }
}

extension Table {
    /// The named columns only, in that order; cells longer than `maxCellWidth` cut with "...".
    public func projected(_ names: [String], maxCellWidth: Int? = nil) -> Table {
        let indices = names.map { name in columns.firstIndex(of: name)! }
        return Table(
            columns: names,
            rows: rows.map { row in
                indices.map { i in
                    guard let width = maxCellWidth, row[i].count > width else { return row[i] }
                    return String(row[i].prefix(width - 3)) + "..."
                }
            })
    }
}

