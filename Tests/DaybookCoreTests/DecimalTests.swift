import DaybookCore
import Testing

@Suite("Exact decimals")
struct DecimalTests {
    @Test(arguments: [
        ("1830", "1830", 0), ("0.25", "0.25", 2), ("007", "7", 0), ("1.50", "1.5", 1),
        ("2.0", "2", 0), ("0.000000000001", "0.000000000001", 12), ("-3.10", "-3.1", 1),
    ])
    func parsesPlainDecimals(text: String, canonical: String, fraction: Int) throws {
        let d = try #require(FixedDecimal(text))
        #expect(d.canonical == canonical)
        #expect(d.fractionalDigits == fraction)
    }

    @Test(arguments: ["", "1.", ".5", "+1", "1e3", "1,5", "0x10", "1.0000000000001", " 1"])
    func rejectsNonPlainText(text: String) {
        #expect(FixedDecimal(text) == nil)
    }

    @Test(arguments: [
        ("1e3", "1000"), ("1.50E-2", "0.015"), ("-0", "0"), ("0.0", "0"), ("12.3400", "12.34"),
        ("5e-1", "0.5"), ("1E+2", "100"), ("123456789012345678", "123456789012345678"),
    ])
    func canonicalOfJSONNumbers(text: String, canonical: String) throws {
        let d = try #require(DecimalText(json: text))
        #expect(d.canonical == canonical)
    }

    @Test func jsonGrammarIsStrict() {
        for bad in ["01", "+1", ".5", "1.", "1e", "--1", "NaN", "1e+", "0x1"] {
            #expect(DecimalText(json: bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: [
        // value, decimals, expected — half-even: ties go to the even neighbour.
        ("0.125", 2, "0.12"), ("0.135", 2, "0.14"), ("0.145", 2, "0.14"), ("2.5", 0, "2"), ("3.5", 0, "4"),
        ("0.1251", 2, "0.13"), ("-0.125", 2, "-0.12"), ("-0.135", 2, "-0.14"), ("7", 2, "7"),
    ])
    func roundsHalfEven(value: String, decimals: Int, expected: String) throws {
        let v = try #require(FixedDecimal(value))
        #expect(v.rounded(decimals: decimals) == FixedDecimal(expected)!)
    }

    @Test func formatsWithExactDecimals() {
        #expect(FixedDecimal("12.5")!.formatted(decimals: 2) == "12.50")
        #expect(FixedDecimal.zero.formatted(decimals: 2) == "0.00")
        #expect(FixedDecimal("-0.07")!.formatted(decimals: 2) == "-0.07")
        #expect(FixedDecimal("3")!.formatted(decimals: 0) == "3")
    }

    @Test func productsAreExactBeyond128Bits() {
        // 10^14 × (10^9 − 10^-12) = 10^23 − 100: the raw product (10^26 × ~10^21) needs 256 bits.
        let q = FixedDecimal("100000000000000")!
        let p = FixedDecimal("999999999.999999999999")!
        #expect(FixedDecimal.amount(q, times: p, decimals: 2) == FixedDecimal("99999999999999999999900")!)
        // 10^14 × 0.000000000005 = 500, exactly; × 0.000000000001 = 100.
        #expect(FixedDecimal.amount(q, times: FixedDecimal("0.000000000005")!, decimals: 2) == FixedDecimal(500))
        // 1830 × 0.0000032 = 0.005856 → 0.01
        #expect(
            FixedDecimal.amount(FixedDecimal(1830), times: FixedDecimal("0.0000032")!, decimals: 2) == FixedDecimal(
                "0.01")!)
        // 1562.5 × 0.0001 = 0.15625 → 0.16 (not a tie); 1250 × 0.0001 = 0.125 → 0.12 (tie, even)
        #expect(
            FixedDecimal.amount(FixedDecimal("1562.5")!, times: FixedDecimal("0.0001")!, decimals: 2) == FixedDecimal(
                "0.16")!)
        #expect(
            FixedDecimal.amount(FixedDecimal(1250), times: FixedDecimal("0.0001")!, decimals: 2) == FixedDecimal(
                "0.12")!)
    }

    @Test(arguments: [
        ("1830", "1830"), ("\"0.25\"", "0.25"), ("\"007\"", "7"), ("1e3", "1000"), ("1.0000000000", "1"),
        ("999999999999999.999999999", "999999999999999.999999999"),
    ])
    func acceptsUsageValues(json: String, expected: String) throws {
        let value = try #require(PropertyValue(json: try StrictJSON.parse(json)))
        #expect(try value.usageValue.get() == FixedDecimal(expected)!)
    }

    @Test(arguments: [
        ("-1", ValueRejection.negative), ("\"-0.5\"", .negative), ("1e-10", .tooPrecise), ("0.0000000001", .tooPrecise),
        ("1000000000000000", .tooLarge), ("1e15", .tooLarge), ("\"abc\"", .nonNumeric), ("true", .nonNumeric),
        ("\"1e3\"", .nonNumeric), ("\" 5\"", .nonNumeric),
    ])
    func rejectsUsageValues(json: String, reason: ValueRejection) throws {
        let value = try #require(PropertyValue(json: try StrictJSON.parse(json)))
        #expect(throws: reason) { try value.usageValue.get() }
    }
}
