import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Testing

/// Splitting a JSON array input into its elements (SPEC §1: file ingest takes NDJSON or a JSON
/// array). Every expected boundary below is written by hand from the input text.
@Suite("JSON array splitting")
struct JSONArraySplittingTests {
    /// Input, then each element's exact bytes and position.
    static let wellFormed: [(String, [(String, String)])] = [
        ("[]", []),
        ("  \n [ ]  \n", []),
        ("[{\"a\":1}]", [("{\"a\":1}", "element 1 (line 1)")]),
        // Brackets inside strings are text.
        (
            "[{\"a\":\"]\"},{\"b\":\"[\"}]",
            [("{\"a\":\"]\"}", "element 1 (line 1)"), ("{\"b\":\"[\"}", "element 2 (line 1)")]
        ),
        (
            "[{\"k\":\"[[[{{{\"},{\"k\":\"]]]}}}\"}]",
            [("{\"k\":\"[[[{{{\"}", "element 1 (line 1)"), ("{\"k\":\"]]]}}}\"}", "element 2 (line 1)")]
        ),
        // An escaped quote does not end the string; the `]` after it is text.
        (
            "[{\"a\":\"\\\"]\"}, {\"b\":2}]",
            [("{\"a\":\"\\\"]\"}", "element 1 (line 1)"), ("{\"b\":2}", "element 2 (line 1)")]
        ),
        // An escaped backslash at the end of a string: the quote after it does end the string.
        (
            "[{\"a\":\"x\\\\\"}, {\"b\":\"}{\"}]",
            [("{\"a\":\"x\\\\\"}", "element 1 (line 1)"), ("{\"b\":\"}{\"}", "element 2 (line 1)")]
        ),
        // A comma inside a string or a nested value does not split.
        (
            "[ {\"a\":[1,{\"b\":[2]}]} ,\n {\"c\":\"a,b\"} ]",
            [("{\"a\":[1,{\"b\":[2]}]}", "element 1 (line 1)"), ("{\"c\":\"a,b\"}", "element 2 (line 2)")]
        ),
        // Elements of any JSON type are split out (validation rejects the non-objects later).
        (
            "[ \"s]\", 12 , [1,[2]], {\"x\":\"\\u005d\"}, null ]",
            [
                ("\"s]\"", "element 1 (line 1)"), ("12", "element 2 (line 1)"), ("[1,[2]]", "element 3 (line 1)"),
                ("{\"x\":\"\\u005d\"}", "element 4 (line 1)"), ("null", "element 5 (line 1)"),
            ]
        ),
        // Lines count from the start of the input; an element's line is where it starts.
        (
            "\n\n[\n{\"a\":\n1},\n\n{\"b\":2}\n]\n",
            [("{\"a\":\n1}", "element 1 (line 4)"), ("{\"b\":2}", "element 2 (line 7)")]
        ),
    ]

    @Test(arguments: wellFormed.indices)
    func elementBoundariesRespectStringsEscapesAndNesting(_ index: Int) throws {
        let (input, expected) = Self.wellFormed[index]
        let records = try RecordSplitter.split(Array(input.utf8), source: "t.json")
        #expect(records.map { String(decoding: $0.bytes, as: UTF8.self) } == expected.map(\.0), "\(input)")
        #expect(records.map(\.position) == expected.map(\.1), "\(input)")
    }

    /// Mismatched brackets inside an element: the element ends there, invalid, and splitting goes
    /// on at the next top-level comma; the array runs to the last `]` of the input.
    static let recovered: [(String, [String])] = [
        // `[v1, {"a":[}, v2, v3, [1]]]`: the `}` does not close the `[`, so element 2 ends there;
        // v2 and v3 are elements of their own; `[1]]` has one `]` too many (the last `]` closes the array).
        ("[A, {\"a\":[}, B, C, [1]]]", ["A", "{\"a\":[}", "B", "C", "[1]]"]),
        ("[{\"a\": 1], B]", ["{\"a\": 1]", "B"]),
        ("[{\"a\": [1, 2}, B]", ["{\"a\": [1, 2}", "B"]),
        // A `}` that closes nothing at the top level makes its element invalid.
        ("[A}, B]", ["A}", "B"]),
        // The last `]` closes the array even when an element is still open: that element is invalid.
        ("[A, B, {\"a\": 1]", ["A", "B", "{\"a\": 1"]),
        ("[A, {\"a\": [1, 2]", ["A", "{\"a\": [1, 2"]),
    ]

    @Test(arguments: recovered.indices)
    func aMismatchedBracketEndsOnlyItsOwnElement(_ index: Int) throws {
        let (template, expected) = Self.recovered[index]
        let records = try RecordSplitter.split(Array(template.utf8), source: "t.json")
        #expect(records.map { String(decoding: $0.bytes, as: UTF8.self) } == expected, "\(template)")
        #expect(records.map(\.position) == expected.indices.map { "element \($0 + 1) (line 1)" })
    }

    /// Inputs that are not an array as a whole: an error naming the file, the line and what is wrong.
    static let garbled: [(String, String)] = [
        // `[{valid}}`: the second `}` closes nothing and no `]` closes the array.
        ("[{\"a\": 1}}", "t.json: line 1: the JSON array is not closed with ']'"),
        ("[{\"a\": 1},\n{\"b\": 2}", "t.json: line 2: the JSON array is not closed with ']'"),
        (
            "[{\"a\": 1}, {\"b\": \"x}]",
            "t.json: line 1: the JSON array is not closed with ']' (a string opened on line 1 never ends)"
        ),
        ("[{\"a\": 1}]\nmore", "t.json: line 1: unexpected text after the closing ']' of the array"),
        ("[{\"a\": 1}] ]x", "t.json: line 1: unexpected text after the closing ']' of the array"),
        ("[{\"a\": 1},, {\"b\": 2}]", "t.json: line 1: empty array element"),
        ("[{\"a\": 1},\n]", "t.json: line 2: trailing ',' before ']'"),
        ("[", "t.json: line 1: the JSON array is not closed with ']'"),
    ]

    @Test(arguments: garbled.indices)
    func aGarbledArrayIsAnInputErrorNamingFileAndLine(_ index: Int) {
        let (input, message) = Self.garbled[index]
        #expect {
            _ = try RecordSplitter.split(Array(input.utf8), source: "t.json")
        } throws: { error in
            "\(error)" == message
        }
    }

    /// End to end through the engine: the valid elements after a garbled one are billed, the garbled
    /// one is one dead letter at its position.
    @Test func validElementsAfterAGarbledOneAreAccepted() throws {
        let h = try ScenarioTests.Harness(
            ScenarioTests.catalog(rates: "{\"product\": \"tok\", \"unit_price\": \"0.01\"}"))
        func event(_ id: String, _ tokens: Int) -> String {
            "{\"transaction_id\": \"\(id)\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-03T01:00:00Z\", \"properties\": {\"tokens\": \(tokens)}}"
        }
        let input = "[\(event("v1", 1)),\n {\"a\":[},\n \(event("v2", 20)), \(event("v3", 300)),\n [1]]]"
        let records = try RecordSplitter.split(Array(input.utf8), source: "file:a.json")
        let summary = try h.engine.ingest(
            records, source: "file:a.json", now: try Timestamp(parsing: "2026-10-04T00:00:00Z"))
        #expect(summary.accepted == 3)
        #expect(summary.deadLettered == 2)
        let dead = try h.engine.deadLetters()
        #expect(dead.map(\.position) == ["element 2 (line 2)", "element 5 (line 4)"])
        #expect(dead.map { String(decoding: $0.raw, as: UTF8.self) } == ["{\"a\":[}", "[1]]"])
        #expect(dead.map(\.reason) == [.malformedJSON, .malformedJSON])
        // 1 + 20 + 300 tokens at 0.01 = 3.21 on Oct 3.
        #expect(try h.rows("k/2026-10-01", "tok")["2026-10-03"]?[2] == "3.21")
    }
}
