import DaybookOutput
import Testing

/// The text table and the forms cells are shown in. Expected texts are written out by hand.
@Suite("Table text and cell forms")
struct TableTextTests {
    @Test func widthsComeFromTheDisplayFormOfEachCell() {
        let table = Table(
            columns: ["id", "raw", "n"],
            rows: [["a", String(repeating: "x", count: 100_000), "1"], ["bb", "tab\there\n", "22"]])
        let text = TableWriter.text(table, rightAligned: ["n"], maxWidths: ["raw": 10])
        // raw: 9 x and "…" (width 10); "tab\there\n" is 11 wide escaped, so "tab\there" (9) and "…".
        #expect(
            text == """
                id  raw          n
                --  ----------  --
                a   xxxxxxxxx…   1
                bb  tab\\there…  22

                """)
    }

    @Test(arguments: [
        ("short", 10, "short", 5),
        ("exactly10!", 10, "exactly10!", 10),
        ("eleven char", 10, "eleven ch…", 10),
        ("a\u{1B}[0m", 10, "a\\u{1B}[0m", 10),
        ("a\u{1B}[0mz", 10, "a\\u{1B}[0…", 10),
        // An escape is never cut in two.
        ("abcdefg\u{1B}", 10, "abcdefg…", 8),
        ("line\r\nnext", 20, "line\\r\\nnext", 12),
        ("\u{7F}\u{85}\u{2028}", 40, "\\u{7F}\\u{85}\\u{2028}", 20),
        ("naïve 🇫🇷", 10, "naïve 🇫🇷", 7),
    ])
    func displayEscapesControlCharactersAndCutsWithAnEllipsis(
        _ input: String, _ width: Int, _ shown: String, _ shownWidth: Int
    ) {
        let display = CellText.display(input, maxWidth: width)
        #expect(display.text == shown)
        #expect(display.width == shownWidth)
    }

    @Test(arguments: [
        ([UInt8]("plain".utf8), "plain"),
        ([0x61, 0xFF, 0xFE, 0x62], "a\\xFF\\xFEb"),
        ([UInt8]("é€😀".utf8), "é€😀"),
        // Overlong, surrogate, truncated and out-of-range sequences: every byte escaped.
        ([0xC0, 0xAF], "\\xC0\\xAF"),
        ([0xED, 0xA0, 0x80], "\\xED\\xA0\\x80"),
        ([0x61, 0xE2, 0x82], "a\\xE2\\x82"),
        ([0xF4, 0x90, 0x80, 0x80], "\\xF4\\x90\\x80\\x80"),
        ([0xE2, 0x82, 0xAC, 0x80], "€\\x80"),
    ])
    func rawShowsValidUTF8AsItIsAndEscapesEveryOtherByte(_ bytes: [UInt8], _ shown: String) {
        #expect(CellText.raw(bytes) == shown)
    }

    /// RFC 4648 §10 test vectors.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64MatchesTheRFCVectors(_ input: String, _ encoded: String) {
        #expect(CellText.base64(Array(input.utf8)) == encoded)
        #expect(CellText.base64([0xFF, 0xFE]) == "//4=")
    }
}
