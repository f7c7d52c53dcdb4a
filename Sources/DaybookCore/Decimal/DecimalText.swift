/// A decimal number exactly as written, normalized to `±digits × 10^exponent` with no leading or
/// trailing zeros in `digits` (an empty `digits` is zero).
///
/// This is how JSON number text (exponent included) and numeric strings become exact values
/// without ever going through binary floating point (SPEC §1 "Numbers").
public struct DecimalText: Sendable, Hashable {
    public var negative: Bool
    /// ASCII digits, no leading or trailing zeros; empty for zero.
    public var digits: [UInt8]
    public var exponent: Int

    /// Parses JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    public init?(json text: some StringProtocol) {
        self.init(text: text, allowExponent: true, allowLeadingZeros: false)
    }

    /// Parses a numeric string `-?[0-9]+(\.[0-9]+)?` (leading zeros allowed: `"007"` is 7).
    public init?(plain text: some StringProtocol) {
        self.init(text: text, allowExponent: false, allowLeadingZeros: true)
    }

    /// ``init(json:)`` of the number's UTF-8 bytes (the ingest fast path: no `String` is built).
    init?(jsonBytes bytes: UnsafeBufferPointer<UInt8>) {
        self.init(bytes: bytes, allowExponent: true, allowLeadingZeros: false)
    }

    private init?(text: some StringProtocol, allowExponent: Bool, allowLeadingZeros: Bool) {
        self.init(bytes: Array(text.utf8), allowExponent: allowExponent, allowLeadingZeros: allowLeadingZeros)
    }

    private init?<Bytes: RandomAccessCollection<UInt8>>(bytes: Bytes, allowExponent: Bool, allowLeadingZeros: Bool)
    where Bytes.Index == Int {
        var i = 0
        negative = false
        if i < bytes.count && bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        let intStart = i
        while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        let intDigits = intStart..<i
        if intDigits.isEmpty { return nil }
        if !allowLeadingZeros && intDigits.count > 1 && bytes[intStart] == UInt8(ascii: "0") { return nil }
        var fracDigits = i..<i
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            fracDigits = start..<i
            if fracDigits.isEmpty { return nil }
        }
        var exp = 0
        if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            guard allowExponent else { return nil }
            i += 1
            var expNegative = false
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) {
                expNegative = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            let start = i
            while i < bytes.count && isDigit(bytes[i]) {
                // Saturate: anything this large is out of every accepted range anyway.
                if exp < 1_000_000_000 { exp = exp * 10 + Int(bytes[i] - UInt8(ascii: "0")) }
                i += 1
            }
            if i == start { return nil }
            if expNegative { exp = -exp }
        }
        if i != bytes.count { return nil }
        var all: [UInt8] = []
        all.reserveCapacity(intDigits.count + fracDigits.count)
        all.append(contentsOf: bytes[intDigits])
        all.append(contentsOf: bytes[fracDigits])
        exp -= fracDigits.count
        // Normalize: drop leading zeros, then trailing zeros into the exponent.
        let firstNonZero = all.firstIndex { $0 != UInt8(ascii: "0") } ?? all.count
        all.removeFirst(firstNonZero)
        while let last = all.last, last == UInt8(ascii: "0") { all.removeLast(); exp += 1 }
        if all.isEmpty { exp = 0; negative = false }
        digits = all
        exponent = exp
    }

    public var isZero: Bool { digits.isEmpty }

    /// Fractional digits once trailing zeros are dropped.
    public var fractionalDigits: Int { max(0, -exponent) }

    /// Number of digits before the decimal point (0 for values below 1).
    public var integerDigits: Int { max(0, digits.count + exponent) }

    /// The exact value, or `nil` when it needs more than 12 fractional digits or ≥ 10²⁶.
    public var fixed: FixedDecimal? {
        if isZero { return .zero }
        guard fractionalDigits <= FixedDecimal.scale, integerDigits <= 26 else { return nil }
        var raw: Int128 = 0
        for d in digits { raw = raw * 10 + Int128(d - UInt8(ascii: "0")) }
        let shift = exponent + FixedDecimal.scale
        for _ in 0..<shift { raw *= 10 }
        return FixedDecimal(raw: negative ? -raw : raw)
    }

    /// Canonical text (SPEC §2): plain decimal, no exponent, no trailing fractional zeros.
    /// Absurd magnitudes (over 1000 digits) keep a normalized exponent form instead of
    /// expanding to megabytes of zeros.
    public var canonical: String {
        if isZero { return "0" }
        let sign = negative ? "-" : ""
        let body = String(decoding: digits, as: UTF8.self)
        if exponent > 1000 || exponent < -1000 { return sign + body + "e" + String(exponent) }
        if exponent >= 0 { return sign + body + String(repeating: "0", count: exponent) }
        let point = digits.count + exponent
        if point > 0 {
            return sign + String(decoding: digits[0..<point], as: UTF8.self) + "."
                + String(decoding: digits[point...], as: UTF8.self)
        }
        return sign + "0." + String(repeating: "0", count: -point) + body
    }
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
