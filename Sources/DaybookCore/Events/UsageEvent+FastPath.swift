/// A fast path for the common shape of a usage event: one flat object of ASCII strings without
/// escapes, numbers, booleans and nulls, with `properties` a flat object of the same.
///
/// It builds the event straight from the bytes, without the generic `JSONValue` tree. It never
/// rejects anything: on any input it is not certain about (escapes, non-ASCII, nesting, a limit,
/// a bad timestamp, a repeated key, …) it returns nil and the strict parser decides, so results
/// are identical by construction; `FastPathTests` checks that differentially.
extension UsageEvent {
    static func parseFast(_ b: UnsafeBufferPointer<UInt8>) -> UsageEvent? {
        var scratch = FastScratch()
        var p = FastScanner(b: b)
        guard let event = p.scan(&scratch) else { return nil }
        return event.event()
    }

    /// Scans `bytes` as ``parse(_:)``'s fast path does and, when the fast path is certain, calls
    /// `body` with the event read in place: ids and time decoded, properties left in the bytes
    /// and decoded only when a metric asks for one (no dictionary, no `String` per property).
    /// Nil when the fast path is not certain (or the record is over ``maxRecordBytes``): then
    /// ``parse(_:)`` decides. Whatever `body` computes from the event (``Metric/evaluate(_:)-6n4tq``)
    /// equals what it computes from the parsed ``UsageEvent``.
    public static func withFastEvent<R>(_ bytes: [UInt8], _ body: (borrowing FastEvent) -> R) -> R? {
        var scratch = FastScratch()
        return withFastEvent(bytes, scratch: &scratch, body)
    }

    /// ``withFastEvent(_:_:)`` with the scanner's member lists kept in `scratch` between calls, so
    /// that a loop over many records allocates none of them per record.
    public static func withFastEvent<R>(
        _ bytes: [UInt8], scratch: inout FastScratch, _ body: (borrowing FastEvent) -> R
    ) -> R? {
        guard bytes.count <= maxRecordBytes else { return nil }
        return bytes.withUnsafeBufferPointer { b in
            var p = FastScanner(b: b)
            guard let event = p.scan(&scratch) else { return nil }
            return body(event)
        }
    }
}

/// The fast scanner's working lists (an event's top-level and `properties` members), reused
/// from one record to the next by ``UsageEvent/withFastEvent(_:scratch:_:)``.
public struct FastScratch {
    fileprivate var top: [(key: Range<Int>, value: FastScanner.Value)] = []
    fileprivate var nested: [(key: Range<Int>, value: FastScanner.Value)] = []
    public init() {}
}

/// An event of the fast path's shape, read in place from its record's bytes: valid only inside
/// ``UsageEvent/withFastEvent(_:_:)``'s closure (it cannot be copied out of it).
public struct FastEvent: ~Copyable {
    /// Where the id's bytes are in the record (no escapes: they are its UTF-8 bytes).
    fileprivate let transactionIDRange: Range<Int>
    /// The transaction id (built on demand: ``appendTransactionID(to:)`` copies its bytes without a `String`).
    public var transactionID: String {
        String(decoding: UnsafeBufferPointer(rebasing: b[transactionIDRange]), as: UTF8.self)
    }
    public let customerID: String
    public let eventType: String
    public let timestamp: Timestamp
    fileprivate let b: UnsafeBufferPointer<UInt8>
    /// The non-null properties, in the record's order (keys are unique: the scan checked).
    fileprivate let properties: [(key: Range<Int>, value: FastScanner.Value)]

    public var day: Day { timestamp.day }

    /// Appends the transaction id's UTF-8 bytes to `bytes`.
    public func appendTransactionID(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[transactionIDRange]))
    }

    /// The property `name`, decoded as the parsed event holds it; nil when absent or null.
    func property(_ name: String) -> PropertyValue? {
        var name = name
        return name.withUTF8 { n -> PropertyValue? in
            for (key, v) in properties where key.count == n.count {
                var same = true
                for k in 0..<n.count where b[key.lowerBound + k] != n[k] {
                    same = false
                    break
                }
                if same { return value(v) }
            }
            return nil
        }
    }

    fileprivate func value(_ v: FastScanner.Value) -> PropertyValue {
        switch v.kind {
        case .string: .string(String(decoding: UnsafeBufferPointer(rebasing: b[v.range]), as: UTF8.self))
        // The scan parsed every number property: this cannot fail.
        case .number: .number(DecimalText(jsonBytes: UnsafeBufferPointer(rebasing: b[v.range]))!)
        case .trueValue: .bool(true)
        case .falseValue: .bool(false)
        case .null, .object: preconditionFailure("the scan keeps no null or object property")
        }
    }

    /// The parsed event (what ``UsageEvent/parse(_:)`` returns for the record).
    fileprivate func event() -> UsageEvent {
        var dictionary: [String: PropertyValue] = [:]
        dictionary.reserveCapacity(properties.count)
        for (key, v) in properties {
            dictionary[String(decoding: UnsafeBufferPointer(rebasing: b[key]), as: UTF8.self)] = value(v)
        }
        return UsageEvent(
            transactionID: transactionID, customerID: customerID, eventType: eventType, timestamp: timestamp,
            properties: dictionary)
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

    /// The members of a flat object, into `out` (emptied first); at top level, `properties` may be
    /// an object, whose members go into `nested` (`sawNested` then true). False when not certain.
    mutating func members(
        topLevel: Bool, into out: inout [(key: Range<Int>, value: Value)],
        nested: inout [(key: Range<Int>, value: Value)], sawNested: inout Bool
    ) -> Bool {
        out.removeAll(keepingCapacity: true)
        guard i < b.count, b[i] == 0x7B else { return false }
        i += 1
        skipSpace()
        if i < b.count, b[i] == 0x7D {
            i += 1
            return true
        }
        while true {
            skipSpace()
            guard let key = string() else { return false }
            if key.count > 1024 || out.count >= 100 { return false }
            for m in out where equal(m.key, key) { return false }  // repeated key: the strict parser reports it
            skipSpace()
            guard i < b.count, b[i] == 0x3A else { return false }
            i += 1
            skipSpace()
            let isProperties = topLevel && equal(key, "properties")
            guard let v = value(allowObject: isProperties) else { return false }
            if v.kind == .object {
                var none: [(key: Range<Int>, value: Value)] = []
                var noneSeen = false
                guard members(topLevel: false, into: &nested, nested: &none, sawNested: &noneSeen) else { return false }
                sawNested = true
            }
            out.append((key, v))
            skipSpace()
            guard i < b.count else { return false }
            if b[i] == 0x2C {
                i += 1
                continue
            }
            if b[i] == 0x7D {
                i += 1
                return true
            }
            return false
        }
    }

    /// Everything the fast path checks, without building the event: nil when not certain.
    mutating func scan(_ scratch: inout FastScratch) -> FastEvent? {
        skipSpace()
        var sawNested = false
        guard members(topLevel: true, into: &scratch.top, nested: &scratch.nested, sawNested: &sawNested) else {
            return nil
        }
        skipSpace()
        guard i == b.count else { return nil }
        var tid: Range<Int>?, customer: String?, type: String?, timestamp: Timestamp?
        var sawProperties = false
        for (key, v) in scratch.top {
            func idRange() -> Range<Int>? {
                guard v.kind == .string, (1...UsageEvent.maxIDBytes).contains(v.range.count) else { return nil }
                return v.range
            }
            func id() -> String? { idRange().map(text) }
            if equal(key, "transaction_id") {
                guard let r = idRange() else { return nil }
                tid = r
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
        var properties: [(key: Range<Int>, value: Value)] = []
        if sawProperties, sawNested {
            // The scratch list itself (no array per event; unique again once the event is gone);
            // nulls are dropped in place.
            properties = scratch.nested
            var nulls = false
            for (_, v) in properties {
                switch v.kind {
                case .null: nulls = true
                case .string:
                    guard v.range.count <= UsageEvent.maxPropertyBytes else { return nil }
                case .number:
                    // The grammar the scan checked is DecimalText's; checked here all the same, so
                    // that reading the value later can never fail.
                    guard DecimalText(jsonBytes: UnsafeBufferPointer(rebasing: b[v.range])) != nil else { return nil }
                case .trueValue, .falseValue: break
                case .object: return nil
                }
            }
            if nulls { properties.removeAll { $0.value.kind == .null } }
        }
        return FastEvent(
            transactionIDRange: tid, customerID: customer, eventType: type, timestamp: timestamp, b: b,
            properties: properties)
    }
}
