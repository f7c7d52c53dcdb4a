/// A strict RFC 8259 JSON parser and a compact serializer.
///
/// The parser rejects everything RFC 8259 does not allow, plus a few things it
/// merely discourages: invalid UTF-8 anywhere, a leading byte order mark, lone
/// surrogate `\u` escapes, duplicate keys in one object (compared after unescaping,
/// byte for byte) and nesting deeper than ``maxDepth``. Numbers keep their exact
/// source text.
public enum StrictJSON {
    /// The deepest nesting of arrays and objects accepted.
    public static let maxDepth = 64

    /// Parses one JSON document (a single value with optional surrounding whitespace).
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONError) in try parse(buffer: buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document. Error offsets are relative to the slice's first byte.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONError) in try parse(buffer: buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from its text. Error offsets are UTF-8 byte offsets.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONError) in try parse(buffer: buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from raw UTF-8 bytes.
    public static func parse(buffer: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONValue {
        var parser = JSONParser(bytes: buffer)
        return try parser.parseDocument()
    }

    /// Writes a JSON string literal (with escapes) for `s`.
    ///
    /// Escapes `"` and `\`, writes `\b \f \n \r \t` for those control characters and
    /// `\u00XX` for the other characters below U+0020; everything else is written as is.
    public static func quote(_ s: String) -> String {
        var needsEscape = false
        for byte in s.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            needsEscape = true
            break
        }
        if !needsEscape { return "\"" + s + "\"" }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 8)
        appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Serializes a value compactly (used to re-emit properties canonically): no
    /// whitespace, object members in their stored order, strings escaped as by
    /// ``quote(_:)``, numbers written as their text (unchecked).
    public static func serialize(_ v: JSONValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        appendSerialized(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendSerialized(_ v: JSONValue, to out: inout [UInt8]) {
        switch v {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let text):
            out.append(contentsOf: text.utf8)
        case .string(let s):
            appendQuoted(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendSerialized(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendQuoted(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                appendSerialized(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Parser

private let quoteByte = UInt8(ascii: "\"")
private let backslash = UInt8(ascii: "\\")

/// Recursive-descent parser over a buffer of bytes.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let end: Int
    var pos = 0
    var depth = 0
    /// Reused buffer for strings containing escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.end = bytes.count
    }

    // MARK: Document

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        if end >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw JSONError(offset: 0, message: "UTF-8 byte order mark (BOM) is not allowed")
        }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if pos != end {
            throw unexpected("trailing characters after value")
        }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    /// The error for an unexpected byte at `pos`, with a more specific message
    /// for common non-JSON constructs and invalid UTF-8.
    func unexpected(_ expectation: String) -> JSONError {
        guard pos < end else {
            return JSONError(offset: pos, message: "unexpected end of input: \(expectation)")
        }
        let byte = bytes[pos]
        if byte >= 0x80, utf8SequenceLength(at: pos) == nil {
            return JSONError(offset: pos, message: "invalid UTF-8")
        }
        if byte == UInt8(ascii: "/"), pos + 1 < end,
            bytes[pos + 1] == UInt8(ascii: "/") || bytes[pos + 1] == UInt8(ascii: "*")
        {
            return JSONError(offset: pos, message: "comments are not valid JSON")
        }
        return JSONError(offset: pos, message: expectation)
    }

    // MARK: Values

    mutating func parseValue() throws(JSONError) -> JSONValue {
        guard pos < end else {
            throw JSONError(offset: pos, message: "unexpected end of input: expected a value")
        }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            return .object(try parseObject())
        case UInt8(ascii: "["):
            return .array(try parseArray())
        case quoteByte:
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw badValueStart()
        }
    }

    func matches(_ word: StaticString, at i: Int) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= end else { return false }
        let start = word.utf8Start
        for k in 0..<count where bytes[i + k] != start[k] {
            return false
        }
        return true
    }

    func badValueStart() -> JSONError {
        switch bytes[pos] {
        case UInt8(ascii: "N") where matches("NaN", at: pos):
            return JSONError(offset: pos, message: "NaN is not valid JSON")
        case UInt8(ascii: "I") where matches("Infinity", at: pos):
            return JSONError(offset: pos, message: "Infinity is not valid JSON")
        case UInt8(ascii: "+"):
            return JSONError(offset: pos, message: "invalid number: a leading '+' is not allowed")
        case UInt8(ascii: "."):
            return JSONError(offset: pos, message: "invalid number: a digit is required before '.'")
        case UInt8(ascii: "'"):
            return JSONError(offset: pos, message: "single-quoted strings are not valid JSON")
        case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ","):
            return JSONError(offset: pos, message: "expected a value")
        default:
            return unexpected("unexpected character, expected a value")
        }
    }

    mutating func parseLiteral(_ word: StaticString) throws(JSONError) {
        guard matches(word, at: pos) else {
            throw JSONError(offset: pos, message: "invalid literal, expected '\(word)'")
        }
        pos += word.utf8CodeUnitCount
    }

    mutating func enterContainer() throws(JSONError) {
        depth += 1
        if depth > StrictJSON.maxDepth {
            throw JSONError(offset: pos, message: "nesting deeper than \(StrictJSON.maxDepth) levels")
        }
    }

    mutating func parseArray() throws(JSONError) -> [JSONValue] {
        try enterContainer()
        pos += 1  // '['
        skipWhitespace()
        var items: [JSONValue] = []
        if pos < end, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return items
        }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard pos < end else { throw unexpected("expected ',' or ']'") }
            switch bytes[pos] {
            case UInt8(ascii: ","):
                pos += 1
                skipWhitespace()
                if pos < end, bytes[pos] == UInt8(ascii: "]") {
                    throw JSONError(offset: pos, message: "trailing comma in array")
                }
            case UInt8(ascii: "]"):
                pos += 1
                depth -= 1
                return items
            default:
                throw unexpected("expected ',' or ']'")
            }
        }
    }

    mutating func parseObject() throws(JSONError) -> JSONObject {
        try enterContainer()
        pos += 1  // '{'
        skipWhitespace()
        var members: [(key: String, value: JSONValue)] = []
        var keySet: Set<KeyBytes>? = nil
        if pos < end, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return JSONObject(members: members)
        }
        members.reserveCapacity(8)
        while true {
            guard pos < end, bytes[pos] == quoteByte else {
                if pos < end, bytes[pos] == UInt8(ascii: "}"), !members.isEmpty {
                    throw JSONError(offset: pos, message: "trailing comma in object")
                }
                if pos < end, bytes[pos] == UInt8(ascii: "'") {
                    throw JSONError(offset: pos, message: "single-quoted strings are not valid JSON")
                }
                throw unexpected("expected a string key")
            }
            let keyOffset = pos
            let key = try parseString()
            if isDuplicate(key, in: members, set: &keySet) {
                throw JSONError(offset: keyOffset, message: "duplicate key \(StrictJSON.quote(key))")
            }
            skipWhitespace()
            guard pos < end, bytes[pos] == UInt8(ascii: ":") else {
                throw unexpected("expected ':' after object key")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            members.append((key: key, value: value))
            skipWhitespace()
            guard pos < end else { throw unexpected("expected ',' or '}'") }
            switch bytes[pos] {
            case UInt8(ascii: ","):
                pos += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                pos += 1
                depth -= 1
                return JSONObject(members: members)
            default:
                throw unexpected("expected ',' or '}'")
            }
        }
    }

    /// Linear scan for small objects; a byte-keyed hash set once an object grows large.
    func isDuplicate(
        _ key: String, in members: [(key: String, value: JSONValue)], set: inout Set<KeyBytes>?
    ) -> Bool {
        let linearLimit = 16
        if members.count < linearLimit {
            for member in members where utf8Equal(member.key, key) {
                return true
            }
            return false
        }
        if set == nil {
            set = Set(members.map { KeyBytes(string: $0.key) })
        }
        return !set!.insert(KeyBytes(string: key)).inserted
    }

    // MARK: Strings

    /// Parses a string starting at the opening quote at `pos`.
    mutating func parseString() throws(JSONError) -> String {
        let open = pos
        pos += 1
        let start = pos
        while pos < end {
            let byte = bytes[pos]
            if byte == quoteByte {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                pos += 1
                return s
            }
            if byte == backslash {
                return try parseEscapedString(open: open, start: start)
            }
            if byte < 0x20 {
                throw JSONError(offset: pos, message: "control character in string (must be escaped)")
            }
            if byte < 0x80 {
                pos += 1
            } else {
                guard let n = utf8SequenceLength(at: pos) else {
                    throw JSONError(offset: pos, message: "invalid UTF-8 in string")
                }
                pos += n
            }
        }
        throw JSONError(offset: open, message: "unterminated string")
    }

    /// Continues a string at the first backslash at `pos`, building it in `scratch`.
    mutating func parseEscapedString(open: Int, start: Int) throws(JSONError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        var runStart = pos
        while pos < end {
            let byte = bytes[pos]
            if byte == quoteByte {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                pos += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if byte == backslash {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                try parseEscape(open: open)
                runStart = pos
                continue
            }
            if byte < 0x20 {
                throw JSONError(offset: pos, message: "control character in string (must be escaped)")
            }
            if byte < 0x80 {
                pos += 1
            } else {
                guard let n = utf8SequenceLength(at: pos) else {
                    throw JSONError(offset: pos, message: "invalid UTF-8 in string")
                }
                pos += n
            }
        }
        throw JSONError(offset: open, message: "unterminated string")
    }

    /// Parses one escape at `pos` (the backslash) and appends its UTF-8 to `scratch`.
    mutating func parseEscape(open: Int) throws(JSONError) {
        let escapeOffset = pos
        guard pos + 1 < end else {
            throw JSONError(offset: open, message: "unterminated string")
        }
        let c = bytes[pos + 1]
        pos += 2
        switch c {
        case quoteByte: scratch.append(quoteByte)
        case backslash: scratch.append(backslash)
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try readHex4(escapeOffset: escapeOffset)
            var scalar: UInt32
            switch unit {
            case 0xD800...0xDBFF:
                guard pos + 1 < end, bytes[pos] == backslash, bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw JSONError(
                        offset: escapeOffset,
                        message: "lone surrogate \\u escape (high surrogate without a low surrogate)")
                }
                let lowOffset = pos
                pos += 2
                let low = try readHex4(escapeOffset: lowOffset)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONError(
                        offset: escapeOffset,
                        message: "lone surrogate \\u escape (high surrogate without a low surrogate)")
                }
                scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw JSONError(
                    offset: escapeOffset, message: "lone surrogate \\u escape (low surrogate without a high surrogate)")
            default:
                scalar = unit
            }
            appendUTF8(scalar)
        default:
            throw JSONError(offset: escapeOffset, message: "invalid escape")
        }
    }

    /// Reads four hex digits at `pos` and advances past them.
    mutating func readHex4(escapeOffset: Int) throws(JSONError) -> UInt32 {
        guard pos + 4 <= end else {
            throw JSONError(offset: escapeOffset, message: "invalid escape: \\u needs 4 hex digits")
        }
        var value: UInt32 = 0
        for k in 0..<4 {
            let b = bytes[pos + k]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default:
                throw JSONError(offset: escapeOffset, message: "invalid escape: \\u needs 4 hex digits")
            }
            value = value << 4 | UInt32(digit)
        }
        pos += 4
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// The length of the well-formed UTF-8 sequence starting at `i`, or `nil` when it is
    /// ill-formed (stray continuation byte, overlong form, encoded surrogate, value above
    /// U+10FFFF, or truncated).
    @inline(__always)
    func utf8SequenceLength(at i: Int) -> Int? {
        @inline(__always)
        func continuation(_ j: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            j < end && bytes[j] >= low && bytes[j] <= high
        }
        switch bytes[i] {
        case 0x00...0x7F:
            return 1
        case 0xC2...0xDF:
            return continuation(i + 1) ? 2 : nil
        case 0xE0:
            return continuation(i + 1, 0xA0) && continuation(i + 2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return continuation(i + 1) && continuation(i + 2) ? 3 : nil
        case 0xED:
            return continuation(i + 1, 0x80, 0x9F) && continuation(i + 2) ? 3 : nil
        case 0xF0:
            return continuation(i + 1, 0x90) && continuation(i + 2) && continuation(i + 3) ? 4 : nil
        case 0xF1...0xF3:
            return continuation(i + 1) && continuation(i + 2) && continuation(i + 3) ? 4 : nil
        case 0xF4:
            return continuation(i + 1, 0x80, 0x8F) && continuation(i + 2) && continuation(i + 3) ? 4 : nil
        default:
            return nil
        }
    }

    // MARK: Numbers

    @inline(__always)
    func isDigit(_ i: Int) -> Bool {
        i < end && bytes[i] &- UInt8(ascii: "0") < 10
    }

    /// Validates a number against the JSON grammar and returns its exact text.
    mutating func parseNumber() throws(JSONError) -> String {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") {
            pos += 1
            if matches("Infinity", at: pos) {
                throw JSONError(offset: start, message: "-Infinity is not valid JSON")
            }
        }
        guard isDigit(pos) else {
            throw JSONError(offset: pos, message: "invalid number: expected a digit")
        }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(pos) {
                throw JSONError(offset: start, message: "invalid number: leading zeros are not allowed")
            }
        } else {
            while isDigit(pos) { pos += 1 }
        }
        if pos < end, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard isDigit(pos) else {
                throw JSONError(offset: pos, message: "invalid number: expected a digit after '.'")
            }
            while isDigit(pos) { pos += 1 }
        }
        if pos < end, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < end, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") {
                pos += 1
            }
            guard isDigit(pos) else {
                throw JSONError(offset: pos, message: "invalid number: expected a digit in the exponent")
            }
            while isDigit(pos) { pos += 1 }
        }
        // Reject things like 0x1F, 1.2.3, 1e5e6, 12abc directly after a number.
        if pos < end {
            switch bytes[pos] {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                throw JSONError(offset: pos, message: "invalid number")
            default:
                break
            }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
    }
}

/// A string hashed and compared by its UTF-8 bytes (JSON key identity).
struct KeyBytes: Hashable {
    let string: String

    static func == (a: KeyBytes, b: KeyBytes) -> Bool { utf8Equal(a.string, b.string) }

    func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(s.utf8.count)
    }
}
