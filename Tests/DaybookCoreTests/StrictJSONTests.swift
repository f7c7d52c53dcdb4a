import DaybookCore
import Testing

// MARK: - Valid documents

struct GoodJSON: Sendable, CustomTestStringConvertible {
    let text: String
    let expected: JSONValue
    var testDescription: String { text }
}

private func obj(_ members: [(key: String, value: JSONValue)]) -> JSONValue {
    .object(JSONObject(members: members))
}

let goodJSONCases: [GoodJSON] = [
    GoodJSON(text: "null", expected: .null),
    GoodJSON(text: " \t\r\n true \n", expected: .bool(true)),
    GoodJSON(text: "false", expected: .bool(false)),
    GoodJSON(text: #""plain""#, expected: .string("plain")),
    GoodJSON(text: #""""#, expected: .string("")),
    GoodJSON(text: #""caf\u00e9""#, expected: .string("caf\u{E9}")),
    GoodJSON(text: #""caf\u00C9""#, expected: .string("caf\u{C9}")),
    GoodJSON(text: #""\ud83d\ude00""#, expected: .string("\u{1F600}")),
    GoodJSON(text: #""x\uD83D\uDE00y""#, expected: .string("x😀y")),
    GoodJSON(text: #""\"\\\/\b\f\n\r\t""#, expected: .string("\"\\/\u{08}\u{0C}\n\r\t")),
    GoodJSON(text: #""\u0000""#, expected: .string("\u{0}")),
    GoodJSON(text: #""日本 é 😀""#, expected: .string("\u{65E5}\u{672C} \u{E9} \u{1F600}")),
    GoodJSON(text: "-0", expected: .number("-0")),
    GoodJSON(text: "1e3", expected: .number("1e3")),
    GoodJSON(text: "1.50E-2", expected: .number("1.50E-2")),
    GoodJSON(text: "-0.50", expected: .number("-0.50")),
    GoodJSON(text: "0", expected: .number("0")),
    GoodJSON(text: "-12.5e+10", expected: .number("-12.5e+10")),
    GoodJSON(text: "123456789012345678901234567890", expected: .number("123456789012345678901234567890")),
    GoodJSON(text: "[]", expected: .array([])),
    GoodJSON(text: "{ }", expected: obj([])),
    GoodJSON(text: "[1,[2,[3]]]", expected: .array([.number("1"), .array([.number("2"), .array([.number("3")])])])),
    GoodJSON(
        text: #" { "a" : { "b" : [ true , null ] } , "c" : "d" } "#,
        expected: obj([
            (key: "a", value: obj([(key: "b", value: .array([.bool(true), .null]))])),
            (key: "c", value: .string("d")),
        ])
    ),
    GoodJSON(text: #"["a\nb","c","d\te"]"#, expected: .array([.string("a\nb"), .string("c"), .string("d\te")])),
    // Keys differing only in case are distinct.
    GoodJSON(
        text: #"{"a":1,"A":2}"#, expected: obj([(key: "a", value: .number("1")), (key: "A", value: .number("2"))])),
    // Canonically equivalent but byte-different keys are distinct JSON keys.
    GoodJSON(
        text: #"{"\u00e9":1,"e\u0301":2}"#,
        expected: obj([(key: "\u{E9}", value: .number("1")), (key: "e\u{301}", value: .number("2"))])
    ),
]

@Test(arguments: goodJSONCases)
func parsesValidDocument(_ c: GoodJSON) throws {
    #expect(try StrictJSON.parse(c.text) == c.expected)
    #expect(try StrictJSON.parse(Array(c.text.utf8)) == c.expected)
}

@Test(arguments: goodJSONCases)
func serializeThenParseRoundTrips(_ c: GoodJSON) throws {
    let text = StrictJSON.serialize(c.expected)
    #expect(try StrictJSON.parse(text) == c.expected)
    // Serializing is canonical: doing it again gives the same text.
    #expect(StrictJSON.serialize(try StrictJSON.parse(text)) == text)
}

@Test func serializeIsCompactAndKeepsOrderAndNumberText() {
    let value = obj([
        (key: "z", value: .array([.number("1.50E-2"), .bool(true), .null])),
        (key: "a", value: .string("x\"y\n\u{1}\u{1F}\\/\u{E9}")),
        (key: "n", value: .number("-0")),
        (key: "o", value: obj([])),
    ])
    #expect(StrictJSON.serialize(value) == #"{"z":[1.50E-2,true,null],"a":"x\"y\n\u0001\u001f\\/é","n":-0,"o":{}}"#)
}

@Test func quoteEscapes() {
    #expect(StrictJSON.quote("tokens") == #""tokens""#)
    #expect(StrictJSON.quote("") == #""""#)
    #expect(StrictJSON.quote("a\"b\\c") == #""a\"b\\c""#)
    #expect(StrictJSON.quote("\u{8}\u{C}\n\r\t\u{0}") == #""\b\f\n\r\t\u0000""#)
    #expect(StrictJSON.quote("😀/") == "\"😀/\"")
}

@Test func nestingOf64IsAccepted() throws {
    let text = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
    var value = try StrictJSON.parse(text)
    var levels = 0
    while case .array(let items) = value {
        levels += 1
        value = items.first ?? .null
    }
    #expect(levels == 64)
}

@Test func objectAccessors() throws {
    guard case .object(let o) = try StrictJSON.parse(#"{"tokens":12,"model":"m1","x":null}"#) else {
        Issue.record("expected an object")
        return
    }
    #expect(o.count == 3)
    #expect(o["tokens"] == .number("12"))
    #expect(o["model"] == .string("m1"))
    #expect(o["x"] == .null)
    #expect(o["missing"] == nil)
    #expect(o.members.map(\.key) == ["tokens", "model", "x"])
}

@Test func objectEqualityIsOrderSensitive() {
    let ab = JSONObject(members: [(key: "a", value: .null), (key: "b", value: .null)])
    let ba = JSONObject(members: [(key: "b", value: .null), (key: "a", value: .null)])
    #expect(ab != ba)
    #expect(ab == JSONObject(members: [(key: "a", value: .null), (key: "b", value: .null)]))
    #expect(ab != JSONObject(members: [(key: "a", value: .null), (key: "b", value: .bool(false))]))
}

@Test func largeObjectWithUniqueKeysParses() throws {
    let body = (0..<40).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
    guard case .object(let o) = try StrictJSON.parse("{" + body + "}") else {
        Issue.record("expected an object")
        return
    }
    #expect(o.count == 40)
    #expect(o["k39"] == .number("39"))
}

@Test func sliceOffsetsAreRelativeToTheSlice() {
    let bytes = Array("xx[1,]".utf8)
    #expect(throws: JSONError(offset: 3, message: "trailing comma in array")) {
        try StrictJSON.parse(bytes[2...])
    }
    #expect((try? StrictJSON.parse(bytes[2..<4] + [UInt8(ascii: "]")])) == .array([.number("1")]))
}

// MARK: - Invalid documents

struct BadJSON: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let message: String
    let offset: Int?
    let label: String

    init(_ text: String, _ message: String, at offset: Int? = nil) {
        self.bytes = Array(text.utf8)
        self.message = message
        self.offset = offset
        self.label = text
    }

    init(bytes: [UInt8], _ message: String, at offset: Int? = nil) {
        self.bytes = bytes
        self.message = message
        self.offset = offset
        self.label = bytes.map { String($0, radix: 16) }.joined(separator: " ")
    }

    var testDescription: String { label }
}

let deep65 = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
let deepObjects65 = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
let manyKeysThenDuplicate = "{" + (0..<20).map { #""k\#($0)":0,"# }.joined() + #""k3":1}"#

let badJSONCases: [BadJSON] = [
    // Encoding.
    BadJSON(bytes: [0xEF, 0xBB, 0xBF, 0x31], "byte order mark", at: 0),
    BadJSON(bytes: [0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8", at: 1),  // overlong '/'
    BadJSON(bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid UTF-8", at: 1),  // overlong 3-byte
    BadJSON(bytes: [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], "invalid UTF-8", at: 1),  // overlong 4-byte
    BadJSON(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8", at: 1),  // U+D800 encoded
    BadJSON(bytes: [0x22, 0xED, 0xBF, 0xBF, 0x22], "invalid UTF-8", at: 1),  // U+DFFF encoded
    BadJSON(bytes: [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], "invalid UTF-8", at: 1),  // lead byte > F4
    BadJSON(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8", at: 1),  // > U+10FFFF
    BadJSON(bytes: [0x22, 0xFF, 0x22], "invalid UTF-8", at: 1),
    BadJSON(bytes: [0x22, 0x80, 0x22], "invalid UTF-8", at: 1),  // stray continuation
    BadJSON(bytes: [0x22, 0x61, 0xC3, 0x22], "invalid UTF-8", at: 2),  // truncated before quote
    BadJSON(bytes: [0x22, 0xE2, 0x82], "invalid UTF-8", at: 1),  // truncated at end
    BadJSON(bytes: [0x22, 0x5C, 0x6E, 0xC0, 0x80, 0x22], "invalid UTF-8", at: 3),  // after an escape
    BadJSON(bytes: [0x31, 0x20, 0xFF], "invalid UTF-8", at: 2),  // outside a string
    BadJSON(bytes: [0x5B, 0xC3, 0x28, 0x5D], "invalid UTF-8", at: 1),
    // Not-JSON numbers and literals.
    BadJSON("NaN", "NaN is not valid JSON", at: 0),
    BadJSON("[1, NaN]", "NaN is not valid JSON", at: 4),
    BadJSON("Infinity", "Infinity is not valid JSON", at: 0),
    BadJSON("-Infinity", "-Infinity is not valid JSON", at: 0),
    BadJSON("01", "invalid number", at: 0),
    BadJSON("-01", "invalid number", at: 0),
    BadJSON("+1", "invalid number", at: 0),
    BadJSON(".5", "invalid number", at: 0),
    BadJSON("1.", "invalid number", at: 2),
    BadJSON("1.e3", "invalid number", at: 2),
    BadJSON("1e", "invalid number", at: 2),
    BadJSON("1e+", "invalid number", at: 3),
    BadJSON("-", "invalid number", at: 1),
    BadJSON("0x1F", "invalid number", at: 1),
    BadJSON("1.2.3", "invalid number", at: 3),
    BadJSON("[12abc]", "invalid number", at: 3),
    BadJSON("tru", "invalid literal", at: 0),
    BadJSON("nul", "invalid literal", at: 0),
    BadJSON("True", "expected a value", at: 0),
    // Strings.
    BadJSON("'a'", "single-quoted", at: 0),
    BadJSON("{'a':1}", "single-quoted", at: 1),
    BadJSON("\"abc", "unterminated string", at: 0),
    BadJSON("[\"abc\\", "unterminated string", at: 1),
    BadJSON("\"a\\nb", "unterminated string", at: 0),
    BadJSON("\"a\u{1}b\"", "control character in string", at: 2),
    BadJSON("\"a\tb\"", "control character in string", at: 2),
    BadJSON("\"a\nb\"", "control character in string", at: 2),
    BadJSON("\"\\n\u{1F}\"", "control character in string", at: 3),
    BadJSON(#""\x""#, "invalid escape", at: 1),
    BadJSON(#""\'""#, "invalid escape", at: 1),
    BadJSON(#""\U0041""#, "invalid escape", at: 1),
    BadJSON(#""\u12G4""#, "invalid escape", at: 1),
    BadJSON(#""\u12""#, "invalid escape", at: 1),
    BadJSON(#""\ud800""#, "lone surrogate", at: 1),
    BadJSON(#""\ud800x""#, "lone surrogate", at: 1),
    BadJSON(#""a\uD800\u0041""#, "lone surrogate", at: 2),
    BadJSON(#""\ud800\ud800""#, "lone surrogate", at: 1),
    BadJSON(#""\udc00""#, "lone surrogate", at: 1),
    BadJSON(#""\ude00\ud83d""#, "lone surrogate", at: 1),
    // Structure.
    BadJSON("", "unexpected end of input", at: 0),
    BadJSON("   ", "unexpected end of input", at: 3),
    BadJSON("[", "unexpected end of input", at: 1),
    BadJSON("[1", "unexpected end of input", at: 2),
    BadJSON(#"{"a":"#, "unexpected end of input", at: 5),
    BadJSON("[1,2,]", "trailing comma in array", at: 5),
    BadJSON(#"{"a":1,}"#, "trailing comma in object", at: 7),
    BadJSON(#"{"a":1, }"#, "trailing comma in object", at: 8),
    BadJSON("[,1]", "expected a value", at: 1),
    BadJSON("[1 2]", "expected ',' or ']'", at: 3),
    BadJSON(#"{"a":1 "b":2}"#, "expected ',' or '}'", at: 7),
    BadJSON(#"{"a" 1}"#, "expected ':'", at: 5),
    BadJSON("{1:2}", "expected a string key", at: 1),
    BadJSON("// c\n1", "comments are not valid JSON", at: 0),
    BadJSON("/* c */ 1", "comments are not valid JSON", at: 0),
    BadJSON("[1 /* c */]", "comments are not valid JSON", at: 3),
    BadJSON("1 // c", "comments are not valid JSON", at: 2),
    BadJSON("1 2", "trailing characters after value", at: 2),
    BadJSON("{} x", "trailing characters after value", at: 3),
    BadJSON("[1]]", "trailing characters after value", at: 3),
    BadJSON("\"a\"\u{0}", "trailing characters after value", at: 3),
    BadJSON("\u{0C}1", "expected a value", at: 0),  // form feed is not whitespace
    // Duplicate keys.
    BadJSON(#"{"a":1,"a":2}"#, #"duplicate key "a""#, at: 7),
    BadJSON(#"{"a":1,"\u0061":2}"#, #"duplicate key "a""#, at: 7),
    BadJSON(#"{"tokens":1,"model":"m","tokens":2}"#, #"duplicate key "tokens""#, at: 24),
    BadJSON(#"[{"x":{"b":1,"b":2}}]"#, #"duplicate key "b""#, at: 13),
    BadJSON(#"{"\ud83d\ude00":1,"😀":2}"#, #"duplicate key "😀""#, at: 18),
    BadJSON(manyKeysThenDuplicate, #"duplicate key "k3""#),
    // Depth.
    BadJSON(deep65, "nesting deeper than 64", at: 64),
    BadJSON(deepObjects65, "nesting deeper than 64", at: 64 * 5),
]

@Test(arguments: badJSONCases)
func rejectsInvalidDocument(_ c: BadJSON) {
    do {
        let value = try StrictJSON.parse(c.bytes)
        Issue.record("accepted invalid JSON as \(value)")
    } catch {
        #expect(error.message.contains(c.message), "message was: \(error.message)")
        if let offset = c.offset {
            #expect(error.offset == offset, "message was: \(error.message)")
        }
        #expect(error.description.contains(error.message))
    }
}

@Test func stringAndBytesEntryPointsAgree() {
    // The same invalid document through the String entry point gives the same error.
    let text = #"{"a":1,"\u0061":2}"#
    #expect(throws: JSONError(offset: 7, message: #"duplicate key "a""#)) {
        try StrictJSON.parse(text)
    }
}
