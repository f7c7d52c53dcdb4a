/// How cell values are shown: the display form of the text table (cut, control characters
/// escaped), and the lossless forms of raw bytes (`raw`: UTF-8 with invalid bytes escaped;
/// `raw_base64`).
public enum CellText {
    /// `text` as the text table shows it: control characters (Unicode `Cc`, and U+2028/U+2029)
    /// escaped as `\n`, `\r`, `\t` or `\u{1B}`, and, when it is wider than `maxWidth` characters,
    /// cut to `maxWidth − 1` of them followed by "…". An escape is never cut in two.
    ///
    /// - Returns: the text and its width in characters.
    /// - Complexity: O(`maxWidth`): only the characters that can be shown are looked at.
    public static func display(_ text: String, maxWidth: Int) -> (text: String, width: Int) {
        let maxWidth = max(maxWidth, 1)
        var pieces: [(String, Int)] = []
        var width = 0
        var rest = text[...]
        while let character = rest.first, width <= maxWidth {
            rest = rest.dropFirst()
            if character.unicodeScalars.contains(where: needsEscape) {
                for scalar in character.unicodeScalars {
                    let piece = needsEscape(scalar) ? escape(scalar) : String(scalar)
                    pieces.append((piece, piece.count))
                    width += piece.count
                }
            } else {
                pieces.append((String(character), 1))
                width += 1
            }
        }
        if rest.isEmpty && width <= maxWidth { return (pieces.map(\.0).joined(), width) }
        var shown = ""
        var shownWidth = 0
        for (piece, pieceWidth) in pieces {
            guard shownWidth + pieceWidth <= maxWidth - 1 else { break }
            shown += piece
            shownWidth += pieceWidth
        }
        return (shown + "…", shownWidth + 1)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029
    }

    static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return "\\u{" + hex(scalar.value, digits: scalar.value > 0xFF ? 4 : 2) + "}"
        }
    }

    /// Raw bytes as text, losslessly readable: valid UTF-8 as it is, each byte that is not part
    /// of a valid UTF-8 sequence as `\xFF` (two uppercase hex digits). A record that itself holds
    /// the text `\xFF` reads the same, so the exact bytes are in ``base64(_:)``.
    ///
    /// - Complexity: O(n).
    public static func raw(_ bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        var runStart = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] < 0x80 {
                i += 1
                continue
            }
            let length = validSequenceLength(bytes, at: i)
            if length > 0 {
                i += length
                continue
            }
            out += String(decoding: bytes[runStart..<i], as: UTF8.self)
            out += "\\x" + hex(UInt32(bytes[i]), digits: 2)
            i += 1
            runStart = i
        }
        out += String(decoding: bytes[runStart...], as: UTF8.self)
        return out
    }

    /// The length of the valid UTF-8 sequence that starts at `i` (a byte ≥ 0x80), or 0 when
    /// none does (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
    static func validSequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
        let lead = bytes[i]
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        default: return 0
        }
        guard i + length <= bytes.count, second.contains(bytes[i + 1]) else { return 0 }
        for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) { return 0 }
        return length
    }

    /// RFC 4648 base64 (standard alphabet, `=` padding).
    ///
    /// - Complexity: O(n).
    public static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [
                alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)],
            ]
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        case 2:
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
