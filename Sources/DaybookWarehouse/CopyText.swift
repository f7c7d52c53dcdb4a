import Foundation
import PostgresNIO

/// PostgreSQL's `COPY … FROM STDIN (FORMAT text)` encoding: a row per line, cells separated by
/// tabs, `\N` for null, and backslash, tab, newline and carriage return escaped. Cells are the
/// SQL text form of the value (numbers as their decimal text, so nothing goes through binary
/// floating point; arrays as array literals).
enum CopyText {
    /// Appends one row to `buffer`.
    static func append(_ cells: some Sequence<String?>, to buffer: inout ByteBuffer) {
        var first = true
        for cell in cells {
            if !first { buffer.writeInteger(UInt8(ascii: "\t")) }
            first = false
            guard let cell else {
                buffer.writeStaticString("\\N")
                continue
            }
            var plain = true
            for byte in cell.utf8 where byte == UInt8(ascii: "\\") || byte == 9 || byte == 10 || byte == 13 {
                plain = false
                break
            }
            if plain {
                buffer.writeString(cell)
                continue
            }
            for byte in cell.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 9: buffer.writeStaticString("\\t")
                case 10: buffer.writeStaticString("\\n")
                case 13: buffer.writeStaticString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// A `text[]` literal: every element double-quoted, `"` and `\` escaped with a backslash.
    static func textArray(_ items: [String]) -> String {
        "{"
            + items.map { item in
                "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }.joined(separator: ",") + "}"
    }

    /// An `integer[]` literal.
    static func integerArray(_ items: [UInt32]) -> String {
        "{" + items.map { "\($0)" }.joined(separator: ",") + "}"
    }
}
