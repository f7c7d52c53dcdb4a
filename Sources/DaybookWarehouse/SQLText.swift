import Foundation

/// The text forms the warehouse's rows travel in. Cells are the SQL text form of the value
/// (numbers as their decimal text, so nothing goes through binary floating point; arrays as array
/// literals), and PostgreSQL parses each with its column type's input function.
enum SQLText {
    /// Appends `{"c1":"v1","c2":null,…}` to `json` (a JSON object of one row: `keys` are the
    /// column names already encoded as `"name":`, nil cells are JSON null).
    static func appendObject(keys: [[UInt8]], cells: some Sequence<String?>, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "{"))
        for (i, cell) in cells.enumerated() {
            if i > 0 { json.append(UInt8(ascii: ",")) }
            json.append(contentsOf: keys[i])
            guard let cell else {
                json.append(contentsOf: "null".utf8)
                continue
            }
            appendString(cell, to: &json)
        }
        json.append(UInt8(ascii: "}"))
    }

    /// `"name":`, for ``appendObject(keys:cells:to:)``.
    static func key(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        return bytes
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\u00XX`, the rest as UTF-8.
    static func appendString(_ string: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): json.append(contentsOf: #"\\"#.utf8)
            case 0..<0x20:
                json.append(contentsOf: #"\u00"#.utf8)
                json.append(hex[Int(byte >> 4)])
                json.append(hex[Int(byte & 0xf)])
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    private static let hex = Array("0123456789abcdef".utf8)

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
