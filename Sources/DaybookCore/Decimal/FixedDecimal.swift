/// An exact decimal number with 12 fractional digits, stored as an `Int128` count of 10⁻¹².
///
/// Every quantity, price and amount in Daybook is a `FixedDecimal`: no value on a money or
/// quantity path ever passes through binary floating point. Twelve digits cover the finest
/// price the catalog accepts (12 fractional digits) and the finest usage value (9).
/// The integer range is about ±1.7 × 10²⁶, far above any realistic invoice.
///
/// ```swift
/// let price = FixedDecimal("0.0000032")!
/// let q = FixedDecimal(1_830)
/// FixedDecimal.amount(q, times: price, decimals: 2)   // 0.01 (0.005856 rounded half-even)
/// ```
public struct FixedDecimal: Hashable, Comparable, Sendable, AdditiveArithmetic {
    /// Number of fractional digits kept.
    public static let scale = 12
    /// 10¹², the raw value of 1.
    public static let unit: Int128 = 1_000_000_000_000

    /// The value × 10¹².
    public var raw: Int128

    /// Creates a value from its raw count of 10⁻¹².
    @inlinable public init(raw: Int128) { self.raw = raw }

    /// Creates an integer value.
    @inlinable public init(_ integer: Int) { self.raw = Int128(integer) * Self.unit }

    public static let zero = FixedDecimal(raw: 0)

    @inlinable public static func + (a: Self, b: Self) -> Self { Self(raw: a.raw + b.raw) }
    @inlinable public static func - (a: Self, b: Self) -> Self { Self(raw: a.raw - b.raw) }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }

    public var isZero: Bool { raw == 0 }
    public var isNegative: Bool { raw < 0 }

    /// Parses a plain decimal `-?[0-9]+(\.[0-9]+)?` exactly; `nil` when the text is not of that
    /// form or needs more than 12 fractional digits (after trailing zeros are dropped).
    public init?(_ text: some StringProtocol) {
        guard let parsed = DecimalText(plain: text), let value = parsed.fixed else { return nil }
        self = value
    }

    /// Number of fractional digits of the value once trailing zeros are dropped (0 for integers).
    public var fractionalDigits: Int {
        var r = raw.magnitude % UInt128(Self.unit)
        if r == 0 { return 0 }
        var digits = Self.scale
        while r % 10 == 0 { r /= 10; digits -= 1 }
        return digits
    }

    /// This value rounded half-even to `decimals` fractional digits (0...12).
    public func rounded(decimals: Int) -> FixedDecimal {
        precondition((0...Self.scale).contains(decimals))
        let step = Int128(pow10(Self.scale - decimals))
        return FixedDecimal(raw: Self.divideHalfEven(raw, by: step) * step)
    }

    /// Canonical text: plain decimal, no exponent, no trailing fractional zeros (`1.5`, `2`, `0.0000032`).
    public var canonical: String { format(minimumDecimals: 0) }

    /// Text with exactly `decimals` fractional digits (`12.50` for decimals 2). The value must not
    /// need more digits than that; amounts are rounded before they are formatted.
    public func formatted(decimals: Int) -> String {
        precondition(fractionalDigits <= decimals, "\(canonical) does not fit \(decimals) decimals")
        return format(minimumDecimals: decimals)
    }

    /// Text with at least `decimals` fractional digits, and more if the value has more (never
    /// rounded, never a trap): for amounts that may predate the catalog's decimals (a snapshot
    /// keeps those of its catalog version) or come from a damaged record.
    public func formatted(atLeast decimals: Int) -> String { format(minimumDecimals: decimals) }

    private func format(minimumDecimals: Int) -> String {
        let magnitude = raw.magnitude
        let unit = UInt128(Self.unit)
        var integerPart = String(magnitude / unit)
        if raw < 0 { integerPart = "-" + integerPart }
        var fraction = Array(String(magnitude % unit).utf8)
        fraction = Array(repeating: UInt8(ascii: "0"), count: Self.scale - fraction.count) + fraction
        var keep = Self.scale
        while keep > minimumDecimals && fraction[keep - 1] == UInt8(ascii: "0") { keep -= 1 }
        if keep == 0 { return integerPart }
        return integerPart + "." + String(decoding: fraction[0..<keep], as: UTF8.self)
    }

    // MARK: Exact products

    /// `round_half_even(quantity × price)` to `decimals` fractional digits, computed exactly in
    /// 256-bit intermediate precision. Quantity and price must be non-negative.
    public static func amount(_ quantity: FixedDecimal, times price: FixedDecimal, decimals: Int) -> FixedDecimal {
        var acc = WideAccumulator()
        acc.add(quantity, times: price)
        return acc.rounded(decimals: decimals)
    }

    /// Integer division rounding half to even.
    @usableFromInline static func divideHalfEven(_ n: Int128, by d: Int128) -> Int128 {
        precondition(d > 0)
        var q = n / d
        let r = n % d
        let twice = r.magnitude * 2
        if twice > d.magnitude || (twice == d.magnitude && q % 2 != 0) {
            q += n < 0 ? -1 : 1
        }
        return q
    }
}

extension FixedDecimal: CustomStringConvertible {
    public var description: String { canonical }
}

/// Sums exact products of two `FixedDecimal`s (scale 24) in 256 bits, then rounds once.
/// Used for graduated tier sums so the rounding happens on the exact total (SPEC §3).
public struct WideAccumulator: Sendable {
    private var high: UInt128 = 0
    private var low: UInt128 = 0

    public init() {}

    /// Adds `a × b` (both non-negative) exactly.
    public mutating func add(_ a: FixedDecimal, times b: FixedDecimal) {
        precondition(a.raw >= 0 && b.raw >= 0, "prices and quantities are non-negative")
        let p = a.raw.magnitude.multipliedFullWidth(by: b.raw.magnitude)
        let (sum, carry) = low.addingReportingOverflow(p.low)
        low = sum
        high = high + p.high + (carry ? 1 : 0)
    }

    /// The accumulated value rounded half-even to `decimals` fractional digits.
    public func rounded(decimals: Int) -> FixedDecimal {
        precondition((0...FixedDecimal.scale).contains(decimals))
        // The sum has 24 fractional digits; dividing by 10^(24 - decimals) leaves `decimals`.
        let divisor = UInt128(pow10(2 * FixedDecimal.scale - decimals))
        precondition(high < divisor, "amount out of range")
        let (q, r) = divisor.dividingFullWidth((high, low))
        var quotient = q
        if r > divisor - r || (r == divisor - r && quotient % 2 == 1) { quotient += 1 }
        let scaleUp = UInt128(pow10(FixedDecimal.scale - decimals))
        let (raw, overflow) = quotient.multipliedReportingOverflow(by: scaleUp)
        precondition(!overflow && raw <= UInt128(Int128.max), "amount out of range")
        return FixedDecimal(raw: Int128(raw))
    }

    /// The exact accumulated value before rounding, in canonical form (up to 24 fractional
    /// digits, no trailing zeros: `0.005856`, `10.5`): what `explain` shows as `P(Q)`.
    public var exactText: String {
        let divisor = UInt128(pow10(2 * FixedDecimal.scale))
        precondition(high < divisor, "amount out of range")
        let (integer, fraction) = divisor.dividingFullWidth((high, low))
        guard fraction != 0 else { return String(integer) }
        var digits = Array(String(fraction).utf8)
        digits = Array(repeating: UInt8(ascii: "0"), count: 2 * FixedDecimal.scale - digits.count) + digits
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        return String(integer) + "." + String(decoding: digits, as: UTF8.self)
    }
}

@usableFromInline func pow10(_ n: Int) -> UInt128 {
    var v: UInt128 = 1
    for _ in 0..<n { v *= 10 }
    return v
}
