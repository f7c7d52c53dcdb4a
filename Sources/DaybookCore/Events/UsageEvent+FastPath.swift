/// A fast path for the common shape of a usage event: one flat object of ASCII strings without
/// escapes, numbers, booleans and nulls, with `properties` a flat object of the same.
///
/// It builds the event straight from the bytes, without the generic `JSONValue` tree. It never
/// rejects anything: on any input it is not certain about (escapes, non-ASCII, nesting, a limit,
/// a bad timestamp, a repeated key, …) it returns nil and the strict parser decides, so results
/// are identical by construction; `FastPathTests` checks that differentially.
extension UsageEvent {
    static func parseFast(_ b: UnsafeBufferPointer<UInt8>) -> UsageEvent? {
        var p = FastScanner(b: b)
        return p.event()
    }
}

private struct FastScanner {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    enum Kind { case string, number, trueValue, falseValue, null, object }
    struct Value {
        var kind: Kind
        var range: Range<Int>  // string: contents without quotes; number: its text
    }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    /// A string of printable ASCII without escapes; nil for anything else.
    mutating func string() -> Range<Int>? {
        guard i < b.count, b[i] == 0x22 else { return nil }
        i += 1
        let start = i
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                i += 1
                return start..<(i - 1)
            }
            if c < 0x20 || c == 0x5C || c >= 0x80 { return nil }
            i += 1
        }
        return nil
    }

    /// JSON number grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    mutating func number() -> Range<Int>? {
        let start = i
        func digit(_ j: Int) -> Bool { j < b.count && b[j] >= 0x30 && b[j] <= 0x39 }
        if i < b.count, b[i] == 0x2D { i += 1 }
        guard digit(i) else { return nil }
        if b[i] == 0x30 {
            i += 1
        } else {
            while digit(i) { i += 1 }
        }
        if i < b.count, b[i] == 0x2E {
            i += 1
            guard digit(i) else { return nil }
            while digit(i) { i += 1 }
        }
        if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
            i += 1
            if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
            guard digit(i) else { return nil }
            while digit(i) { i += 1 }
        }
        return start..<i
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { return false }
        i += n
        return true
    }

    /// A scalar value (or, when `allowObject`, the start of an object, left unconsumed).
    mutating func value(allowObject: Bool) -> Value? {
        guard i < b.count else { return nil }
        switch b[i] {
        case 0x22: return string().map { Value(kind: .string, range: $0) }
        case 0x74: return literal("true") ? Value(kind: .trueValue, range: i..<i) : nil
        case 0x66: return literal("false") ? Value(kind: .falseValue, range: i..<i) : nil
        case 0x6E: return literal("null") ? Value(kind: .null, range: i..<i) : nil
        case 0x7B: return allowObject ? Value(kind: .object, range: i..<i) : nil
        case 0x2D, 0x30...0x39: return number().map { Value(kind: .number, range: $0) }
        default: return nil
        }
    }

    func equal(_ a: Range<Int>, _ c: Range<Int>) -> Bool {
        guard a.count == c.count else { return false }
        for k in 0..<a.count where b[a.lowerBound + k] != b[c.lowerBound + k] { return false }
        return true
    }

    func equal(_ a: Range<Int>, _ word: StaticString) -> Bool {
        guard a.count == word.utf8CodeUnitCount else { return false }
        for k in 0..<a.count where b[a.lowerBound + k] != word.utf8Start[k] { return false }
        return true
    }

    func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }

    /// Members of a flat object; `properties` (at top level only) may be an object, parsed into `nested`.
    mutating func members(topLevel: Bool, nested: inout [(key: Range<Int>, value: Value)]?)
        -> [(key: Range<Int>, value: Value)]?
    {
        guard i < b.count, b[i] == 0x7B else { return nil }
        i += 1
        var out: [(key: Range<Int>, value: Value)] = []
        out.reserveCapacity(8)
        skipSpace()
        if i < b.count, b[i] == 0x7D {
            i += 1
            return out
        }
        while true {
            skipSpace()
            guard let key = string() else { return nil }
            if key.count > 1024 || out.count >= 100 { return nil }
            for m in out where equal(m.key, key) { return nil }  // repeated key: the strict parser reports it
            skipSpace()
            guard i < b.count, b[i] == 0x3A else { return nil }
            i += 1
            skipSpace()
            let isProperties = topLevel && equal(key, "properties")
            guard let v = value(allowObject: isProperties) else { return nil }
            if v.kind == .object {
                var none: [(key: Range<Int>, value: Value)]? = nil
                guard let inner = members(topLevel: false, nested: &none) else { return nil }
                nested = inner
            }
            out.append((key, v))
            skipSpace()
            guard i < b.count else { return nil }
            if b[i] == 0x2C {
                i += 1
                continue
            }
            if b[i] == 0x7D {
                i += 1
                return out
            }
            return nil
        }
    }

    mutating func event() -> UsageEvent? {
        skipSpace()
        var props: [(key: Range<Int>, value: Value)]?
        guard let top = members(topLevel: true, nested: &props) else { return nil }
        skipSpace()
        guard i == b.count else { return nil }
        var tid: String?, customer: String?, type: String?, timestamp: Timestamp?
        var sawProperties = false
        for (key, v) in top {
            func id() -> String? {
                guard v.kind == .string, (1...UsageEvent.maxIDBytes).contains(v.range.count) else { return nil }
                return text(v.range)
            }
            if equal(key, "transaction_id") {
                guard let s = id() else { return nil }
                tid = s
            } else if equal(key, "customer_id") {
                guard let s = id() else { return nil }
                customer = s
            } else if equal(key, "event_type") {
                guard let s = id() else { return nil }
                type = s
            } else if equal(key, "timestamp") {
                guard v.kind == .string, let t = try? Timestamp.parse(UnsafeBufferPointer(rebasing: b[v.range])).get()
                else { return nil }
                timestamp = t
            } else if equal(key, "properties") {
                guard v.kind == .object || v.kind == .null else { return nil }
                sawProperties = true
            }
        }
        guard let tid, let customer, let type, let timestamp else { return nil }
        var properties: [String: PropertyValue] = [:]
        if sawProperties, let props {
            properties.reserveCapacity(props.count)
            for (key, v) in props {
                switch v.kind {
                case .null: continue
                case .string:
                    guard v.range.count <= UsageEvent.maxPropertyBytes else { return nil }
                    properties[text(key)] = .string(text(v.range))
                case .number:
                    guard let d = DecimalText(jsonBytes: UnsafeBufferPointer(rebasing: b[v.range])) else { return nil }
                    properties[text(key)] = .number(d)
                case .trueValue: properties[text(key)] = .bool(true)
                case .falseValue: properties[text(key)] = .bool(false)
                case .object: return nil
                }
            }
        }
        return UsageEvent(
            transactionID: tid, customerID: customer, eventType: type, timestamp: timestamp, properties: properties)
    }
}
