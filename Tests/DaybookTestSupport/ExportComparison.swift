import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload

/// Row-by-row comparison of two exports, naming the first difference of each table.
public enum ExportComparison {
    /// One message per table that differs (empty when the exports are equal): its row counts and its
    /// first differing row, both versions, with the differing columns named.
    public static func differences(
        actual: BreakdownExport, expected: BreakdownExport,
        actualName: String = "engine", expectedName: String = "reference"
    ) -> [String] {
        var messages: [String] = []
        for ((name, a), (_, e)) in zip(actual.files, expected.files) {
            if let message = firstDifference(name, a, e, actualName: actualName, expectedName: expectedName) {
                messages.append(message)
            }
        }
        return messages
    }

    static func firstDifference(_ name: String, _ a: Table, _ e: Table, actualName: String, expectedName: String)
        -> String?
    {
        if a.columns != e.columns { return "\(name): columns \(a.columns) vs \(e.columns)" }
        let counts = "\(name): \(a.rows.count) rows (\(actualName)) vs \(e.rows.count) (\(expectedName))"
        for i in 0..<max(a.rows.count, e.rows.count) {
            let ra = i < a.rows.count ? a.rows[i] : nil
            let re = i < e.rows.count ? e.rows[i] : nil
            if ra == re { continue }
            var cells: [String] = []
            if let ra, let re {
                for (c, column) in a.columns.enumerated() where ra[c] != re[c] {
                    cells.append("\(column): \(ra[c]) vs \(re[c])")
                }
            }
            return """
                \(counts); first difference at row \(i)\(cells.isEmpty ? "" : " [" + cells.joined(separator: "; ") + "]")
                  \(actualName.padding(9)): \(ra.map { $0.joined(separator: ",") } ?? "(none)")
                  \(expectedName.padding(9)): \(re.map { $0.joined(separator: ",") } ?? "(none)")
                """
        }
        return nil
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
