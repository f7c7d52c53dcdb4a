/// A flat event property value: string, number or boolean (`null` is the same as absent).
public enum PropertyValue: Sendable, Hashable {
    case string(String)
    /// The exact number text, normalized.
    case number(DecimalText)
    case bool(Bool)

    /// Converts a JSON value; nil for `null`, arrays and objects.
    public init?(json: JSONValue) {
        switch json {
        case .string(let s): self = .string(s)
        case .bool(let b): self = .bool(b)
        case .number(let text):
            guard let d = DecimalText(json: text) else { return nil }
            self = .number(d)
        case .null, .array, .object: return nil
        }
    }

    /// Canonical string (SPEC §2): strings as-is, `true`/`false`, numbers as plain decimals.
    public var canonical: String {
        switch self {
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        case .number(let d): d.canonical
        }
    }

    /// The exact usage value for `sum`/`max` metrics (SPEC §1 "Numbers"), or why it is rejected.
    public var usageValue: Result<FixedDecimal, ValueRejection> {
        let parsed: DecimalText
        switch self {
        case .number(let d): parsed = d
        case .string(let s):
            guard let d = DecimalText(plain: s) else { return .failure(.nonNumeric) }
            parsed = d
        case .bool: return .failure(.nonNumeric)
        }
        if parsed.negative { return .failure(.negative) }
        if parsed.fractionalDigits > 9 { return .failure(.tooPrecise) }
        if parsed.integerDigits > 15 { return .failure(.tooLarge) }
        guard let value = parsed.fixed else { return .failure(.tooLarge) }
        return .success(value)
    }
}

/// Why a property value cannot be aggregated by a `sum` or `max` metric.
public enum ValueRejection: String, Error, Sendable, Hashable, CaseIterable {
    case missing
    case nonNumeric = "non_numeric"
    case negative
    case tooPrecise = "too_precise"
    case tooLarge = "too_large"

    public var explanation: String {
        switch self {
        case .missing: "the property is absent or null"
        case .nonNumeric: "the value is not a number or numeric string"
        case .negative: "the value is negative"
        case .tooPrecise: "the value has more than 9 fractional digits"
        case .tooLarge: "the value is not below 10^15"
        }
    }
}
