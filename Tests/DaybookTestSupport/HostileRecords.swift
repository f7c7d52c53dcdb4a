import DaybookWorkload

/// A seeded generator of hostile NDJSON records: realistic usage events, mostly broken on purpose.
///
/// Each record starts as a plausible event (one of the example catalog's event types, with its
/// properties, timestamped around `around`), then takes a structural mutation (a field replaced by
/// a hostile value, dropped, repeated, nested, …), is written with one of several whitespace
/// styles, and takes a byte-level mutation (truncation, bit flips, invalid UTF-8, control
/// characters, BOMs, CR/LF mixtures, trailing garbage, …). A few records are pure noise, and some
/// repeat an earlier record or transaction id (duplicates).
///
/// The same seed gives the same records on every platform.
///
/// ```swift
/// var records = HostileRecords(seed: 42)
/// let line = records.next()  // [UInt8], no newline
/// ```
public struct HostileRecords: Sendable {
    /// What was done to a record (several can apply), for coverage figures.
    public enum Mutation: String, CaseIterable, Sendable {
        case none, truncated, bitFlips, invalidUTF8, hugeNumber, numberAsString, deepNesting, repeatedKey
        case nanOrInfinity, controlCharacter, nearLimit, null, wrongType, byteOrderMark, crlf
        case badTimestamp, escapes, manyProperties, trailingGarbage, byteNoise, pureNoise, repeatedRecord
        case reusedID, notAnObject, missingField
    }

    private var rng: SplitMix64
    private let idPrefix: String
    private var counter = 0
    private var recent: [[UInt8]] = []
    private var recentIDs: [String] = []
    /// `YYYY-MM-DD` of the day the timestamps cluster before.
    private let around: (year: Int, month: Int, day: Int)
    /// How many records took each mutation.
    public private(set) var counts: [Mutation: Int] = [:]

    /// - Parameters:
    ///   - seed: the random stream.
    ///   - idPrefix: starts every transaction id (with the seed), so that streams do not collide.
    ///   - around: the date the timestamps cluster before: mostly the 30 days before it, some
    ///     well before it (too late) or after it (in the future).
    public init(seed: UInt64, idPrefix: String = "h", around: (year: Int, month: Int, day: Int) = (2026, 10, 15)) {
        rng = SplitMix64(seed: seed)
        self.idPrefix = idPrefix + "\(seed % 1_000_000)-"
        self.around = around
    }

    // MARK: Randomness

    private mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    private mutating func chance(_ perMille: Int) -> Bool { below(1000) < perMille }
    private mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    // MARK: Building blocks

    private static func quoted(_ s: String) -> [UInt8] { [0x22] + Array(s.utf8) + [0x22] }

    static let hugeNumbers = [
        "1e999999999", "1E+400", "-1e-400", "123456789012345678901234567890", "999999999999999",
        "1000000000000000", "999999999999999.999999999", "0.0000000001", "1.0000000000", "1e-9", "1e-10", "1e15",
        "1e14", "-0", "-0.0", "0e0", "0E-0", "1.5e3", "2E-3", "1" + String(repeating: "0", count: 400),
        "0." + String(repeating: "7", count: 400), String(repeating: "9", count: 20), "1e2147483648",
        "1e-2147483649", "1e9223372036854775808", "-1", "-0.000000001", "12.3456789012", "100000000000000.5",
        "0.000000001", "9.99999999e14", "1e+15", "18446744073709551616", "4.9e-324", "1.7976931348623157e308",
    ]
    static let badNumbers = [
        "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1_000", "--1", "1.2.3", "1e5e6", "12abc", "- 1", "0.e1", "١",
    ]
    static let numericStrings = [
        "\"1830\"", "\"007\"", "\"-1\"", "\"1e3\"", "\"0.25\"", "\" 1\"", "\"1.\"", "\"\"", "\"00\"",
        "\"1.0000000000\"",
        "\"0.0000000001\"", "\"999999999999999\"", "\"1000000000000000\"", "\"+5\"", "\"NaN\"", "\"Infinity\"",
        "\"١٢\"", "\"1 000\"", "\"0x1F\"",
    ]
    static let nonFinite = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "+Infinity", "NaN1", "Inf"]
    static let wrongTypes = [
        "5", "0", "-1.5", "true", "false", "null", "[]", "[\"a\"]", "{}", "{\"a\": 1}", "\"\"", "[null]", "[[]]",
    ]
    static let badTimestamps = [
        "2026-02-29T00:00:00Z", "2028-02-29T12:00:00Z", "2026-10-03T24:00:00Z", "2026-10-03T23:59:60Z",
        "2026-10-03t14:05:09z", "2026-10-03 14:05:09Z", "2026-10-03T14:05:09", "2026-10-03T14:05:09+25:00",
        "2026-10-03T14:05:09+05:30", "2026-10-03T14:05:09-00:00", "2026-10-03T14:05:09.Z",
        "2026-10-03T14:05:09." + String(repeating: "1", count: 100) + "Z", "+2026-10-03T14:05:09Z",
        "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-10-3T1:5:9Z", "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z", " 2026-10-03T14:05:09Z", "2026-10-03T14:05:09Z ", "2026-10-03T14:05Z",
        "2026-10-03", "20261003T140509Z", "2026-10-03T14:05:09+0530", "2026-10-03T14:05:09+05", "2026-10-32T00:00:00Z",
        "2026-09-31T00:00:00Z", "2026-10-03T14:60:00Z", "2026-10-03T14:05:09.123456789123Z",
        "2026-10-03T14:05:09.1-23:59",
        "2026-10-03T14:05:09.1+23:59", "1970-01-01T00:00:00Z", "2026-10-03T14:05:09ZZ", "2026-10-03T14:05:09\\u005a",
        "２０２６-10-03T14:05:09Z",
    ]
    static let invalidUTF8: [[UInt8]] = [
        [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFF], [0xFE], [0xC3],
        [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3, 0x28], [0xE2, 0x28, 0xA1], [0xF0, 0x28, 0x8C, 0xBC],
    ]
    /// Valid multi-byte characters, the control group of ``invalidUTF8``.
    static let validUTF8: [[UInt8]] = [
        [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xEF, 0xBB, 0xBF], [0xC2, 0xA0],
        [0xE2, 0x80, 0xA8], [0xF4, 0x8F, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF],
    ]
    static let escapes = [
        "\\u0000", "\\ud83d\\ude00", "\\ud83d", "\\udc00", "\\uZZZZ", "\\x41", "\\/", "\\\"", "\\\\", "\\u00e9",
        "\\u0061",
        "\\U0041", "\\u00", "\\", "\\n", "\\r\\n", "\\t", "\\b\\f", "\\ud800\\u0041", "\\uDBFF\\uDFFF", "\\u005f",
        "\\uFEFF", "\\u2028", "\\a", "\\'", "\\0",
    ]
    static let fieldNames = ["transaction_id", "customer_id", "event_type", "timestamp", "properties"]

    /// A plausible event's members as raw JSON text (key with quotes, value), and its properties'.
    private mutating func baseEvent(id: String) -> (top: [([UInt8], [UInt8])], properties: [([UInt8], [UInt8])]?) {
        let customers = ["acme", "globex", "initech", "umbrella", "c-\(below(50))", "ACME", "acme "]
        var properties: [([UInt8], [UInt8])] = []
        let type: String
        switch below(5) {
        case 0, 1:
            type = "inference"
            properties.append((Self.quoted("model"), Self.quoted(pick(["model-a", "model-b", "model-c", "model-é"]))))
            properties.append((Self.quoted("tokens"), Array(String(below(20_000)).utf8)))
            properties.append((Self.quoted("region"), Self.quoted(pick(["us", "eu", "ap", "US"]))))
        case 2:
            type = "gpu_sample"
            properties.append((Self.quoted("gpus"), Array(String(below(16)).utf8)))
        case 3:
            type = "session"
            properties.append((Self.quoted("user_id"), Self.quoted("u\(below(400))")))
        default:
            type = "storage"
            properties.append(
                (Self.quoted("gb_hours"), Array("\(below(5_000)).\(below(1000))".utf8)))
        }
        if chance(200) { properties.append((Self.quoted("flag"), Array((chance(500) ? "true" : "false").utf8))) }
        if chance(150) { properties.append((Self.quoted("nothing"), Array("null".utf8))) }
        let top: [([UInt8], [UInt8])] = [
            (Self.quoted("transaction_id"), Self.quoted(id)),
            (Self.quoted("customer_id"), Self.quoted(pick(customers))),
            (Self.quoted("event_type"), Self.quoted(type)),
            (Self.quoted("timestamp"), Self.quoted(timestamp())),
        ]
        return (top, chance(50) ? nil : properties)
    }

    /// Mostly within the 30 days before `around`, sometimes well before it or after it.
    private mutating func timestamp() -> String {
        var (y, m, d) = around
        var back = below(31)
        if chance(30) { back = 35 + below(400) }  // too late
        if chance(20) { back = -(1 + below(5)) }  // in the future
        // Walk back day by day (month lengths of the Gregorian calendar).
        func days(_ y: Int, _ m: Int) -> Int {
            [31, (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][
                m - 1]
        }
        while back > 0 {
            d -= 1
            if d == 0 {
                m -= 1
                if m == 0 { (y, m) = (y - 1, 12) }
                d = days(y, m)
            }
            back -= 1
        }
        while back < 0 {
            d += 1
            if d > days(y, m) {
                d = 1
                m += 1
                if m == 13 { (y, m) = (y + 1, 1) }
            }
            back += 1
        }
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let fraction = pick(["", ".1", ".120", ".123456789", ".000"])
        let zone = pick(["Z", "Z", "Z", "z", "+00:00", "-07:00", "+05:30", "+14:00", "-12:00"])
        let t = pick(["T", "T", "T", "t"])
        return "\(y)-\(two(m))-\(two(d))\(t)\(two(below(24))):\(two(below(60))):\(two(below(60)))\(fraction)\(zone)"
    }

    private mutating func nextID() -> String {
        counter += 1
        return idPrefix + String(counter)
    }

    private mutating func longASCII(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.:".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(n)
        for _ in 0..<n { bytes.append(alphabet[below(alphabet.count)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A string of about `n` bytes once decoded, near a limit, written plainly, with multi-byte
    /// characters or with escapes.
    private mutating func nearLimitString(_ n: Int) -> [UInt8] {
        switch below(4) {
        case 0: return Self.quoted(longASCII(n))
        case 1: return Self.quoted(longASCII(max(0, n - 2)) + "é")  // n bytes, n-1 characters
        case 2: return Self.quoted(longASCII(max(0, n - 1)) + "é")  // n+1 bytes
        default: return Self.quoted(longASCII(max(0, n - 2)) + "\\u00e9")  // n bytes decoded, n+4 written
        }
    }

    private mutating func nested(_ depth: Int) -> [UInt8] {
        let array = chance(500)
        var out: [UInt8] = []
        for _ in 0..<depth { out += array ? [0x5B] : Array("{\"a\":".utf8) }
        out += Array("1".utf8)
        if chance(950) { for _ in 0..<depth { out.append(array ? 0x5D : 0x7D) } }
        return out
    }

    // MARK: Records

    /// The next hostile record (no newline).
    public mutating func next() -> [UInt8] {
        var applied: [Mutation] = []
        defer {
            if applied.isEmpty { applied = [.none] }
            for m in applied { counts[m, default: 0] += 1 }
        }
        // Repeats: the same record again, or an earlier id with new content.
        if !recent.isEmpty, chance(40) {
            applied.append(.repeatedRecord)
            return recent[below(recent.count)]
        }
        if chance(15) {
            applied.append(.pureNoise)
            return noise()
        }
        var id = nextID()
        if !recentIDs.isEmpty, chance(30) {
            id = recentIDs[below(recentIDs.count)]
            applied.append(.reusedID)
        }
        var (top, properties) = baseEvent(id: id)

        // Structural mutations (none for about a third of the records).
        let structural = below(1000) < 650 ? 1 + below(2) : 0
        for _ in 0..<structural {
            let kind = below(15)
            switch kind {
            case 0:  // a huge or odd number, as a property value or a field
                let value = Array((chance(750) ? pick(Self.hugeNumbers) : pick(Self.badNumbers)).utf8)
                if chance(800) || properties == nil {
                    let key = pick(["tokens", "gpus", "gb_hours", "user_id", "model", "x"])
                    properties = (properties ?? []) + [(Self.quoted(key), value)]
                } else {
                    top[below(top.count)].1 = value
                }
                applied.append(.hugeNumber)
            case 1:
                let key = pick(["tokens", "gpus", "gb_hours", "user_id"])
                properties =
                    (properties ?? []).filter { $0.0 != Self.quoted(key) } + [
                        (Self.quoted(key), Array(pick(Self.numericStrings).utf8))
                    ]
                applied.append(.numberAsString)
            case 2:
                let depth = pick([2, 3, 32, 63, 64, 65, 66, 100, 1_000, chance(20) ? 50_000 : 200])
                if chance(500) {
                    properties = (properties ?? []) + [(Self.quoted("deep"), nested(depth))]
                } else if chance(500) {
                    top.append((Self.quoted("extra"), nested(depth)))
                } else {
                    top[below(top.count)].1 = nested(depth)
                }
                applied.append(.deepNesting)
            case 3:
                if chance(600) {
                    let m = top[below(top.count)]
                    let value = chance(500) ? m.1 : Self.quoted(longASCII(1 + below(8)))
                    let key = chance(800) ? m.0 : Self.quoted(escapedVariant(m.0))
                    top.insert((key, value), at: below(top.count + 1))
                } else if var p = properties, !p.isEmpty {
                    let m = p[below(p.count)]
                    p.insert(
                        (chance(800) ? m.0 : Self.quoted(escapedVariant(m.0)), Array("7".utf8)), at: below(p.count + 1))
                    properties = p
                } else {
                    top.append((Self.quoted("properties"), Array("{}".utf8)))
                }
                applied.append(.repeatedKey)
            case 4:
                let value = Array(pick(Self.nonFinite).utf8)
                if chance(700) {
                    properties = (properties ?? []) + [(Self.quoted(pick(["tokens", "gpus", "gb_hours"])), value)]
                } else {
                    top[below(top.count)].1 = value
                }
                applied.append(.nanOrInfinity)
            case 5:
                let limit = pick([128, 128, 1024, 1024])
                let n = limit + pick([-1, 0, 0, 1, 2])
                let s = nearLimitString(n)
                switch below(4) {
                case 0 where limit == 128: Self.set(&top, pick(["transaction_id", "customer_id", "event_type"]), s)
                case 1: properties = (properties ?? []) + [(Self.quoted("note"), s)]
                case 2: properties = (properties ?? []) + [(s, Array("1".utf8))]
                default: top.append((s, Array("1".utf8)))
                }
                applied.append(.nearLimit)
            case 6:
                if chance(500) {
                    top[below(top.count)].1 = Array("null".utf8)
                } else if chance(500) {
                    properties = nil
                    top.append((Self.quoted("properties"), Array("null".utf8)))
                } else {
                    properties = (properties ?? []).map { ($0.0, chance(400) ? Array("null".utf8) : $0.1) }
                }
                applied.append(.null)
            case 7:
                let value = Array(pick(Self.wrongTypes).utf8)
                if chance(750) {
                    top[below(top.count)].1 = value
                } else {
                    properties = nil
                    top.append((Self.quoted("properties"), value))
                }
                applied.append(.wrongType)
            case 8:
                Self.set(&top, "timestamp", Self.quoted(pick(Self.badTimestamps)))
                applied.append(.badTimestamp)
            case 9:
                let which = below(top.count)
                var raw = top[which].1
                if raw.count >= 2, raw.first == 0x22 {
                    raw.insert(contentsOf: Array(pick(Self.escapes).utf8), at: 1 + below(raw.count - 1))
                    top[which].1 = raw
                } else {
                    top[which].0.insert(contentsOf: Array(pick(Self.escapes).utf8), at: 1)
                }
                applied.append(.escapes)
            case 10:
                let n = pick([99, 100, 101, 150])
                var p: [([UInt8], [UInt8])] = []
                for i in 0..<n {
                    p.append(
                        (Self.quoted("k\(i)"), chance(300) ? Self.quoted(longASCII(below(60))) : Array("\(i)".utf8)))
                }
                properties = p
                applied.append(.manyProperties)
            case 11:
                if top.count > 1 { top.remove(at: below(top.count)) }
                applied.append(.missingField)
            case 12:
                // Not an object: an array of events, a scalar, a string.
                applied.append(.notAnObject)
                let inner = serialize(top, properties)
                let shapes: [[UInt8]] = [
                    [0x5B] + inner + [0x5D], Array("42".utf8), Array("\"event\"".utf8),
                    Array("null".utf8), Array("[]".utf8), Array("true".utf8),
                ]
                return finish(pick(shapes), &applied)
            case 13:
                let value = Self.quoted(pick(["", " ", "\\u0000", "é", "\u{7F}", "a\\nb", "\u{1F600}"]))
                Self.set(&top, pick(["transaction_id", "customer_id", "event_type"]), value)
                applied.append(.nearLimit)
            default:
                top.shuffle(using: &rng)
            }
        }
        return finish(serialize(top, properties), &applied)
    }

    /// Sets the value of the first member named `name` (appends one if there is none).
    private static func set(_ members: inout [([UInt8], [UInt8])], _ name: String, _ value: [UInt8]) {
        let key = quoted(name)
        if let i = members.firstIndex(where: { $0.0 == key }) {
            members[i].1 = value
        } else {
            members.append((key, value))
        }
    }

    /// The key with one character written as a `\u` escape (the same key once decoded).
    private mutating func escapedVariant(_ quotedKey: [UInt8]) -> String {
        let key = Array(quotedKey.dropFirst().dropLast())
        guard !key.isEmpty else { return "\\u0061" }
        let at = below(key.count)
        let hex = Array("0123456789abcdef".utf8)
        let escape: [UInt8] = Array("\\u00".utf8) + [hex[Int(key[at] >> 4)], hex[Int(key[at] & 0xF)]]
        return String(decoding: Array(key[..<at]) + escape + Array(key[(at + 1)...]), as: UTF8.self)
    }

    /// Members as JSON text in one of several whitespace styles.
    private mutating func serialize(_ top: [([UInt8], [UInt8])], _ properties: [([UInt8], [UInt8])]?) -> [UInt8] {
        let styles: [(colon: [UInt8], comma: [UInt8], open: [UInt8], close: [UInt8])] = [
            (Array(": ".utf8), Array(", ".utf8), [], []),
            (Array(":".utf8), Array(",".utf8), [], []),
            (Array(" : ".utf8), Array(" ,\t".utf8), [0x20], [0x20]),
            (Array(":\r\n".utf8), Array(",\r\n  ".utf8), Array("\r\n".utf8), Array("\n".utf8)),
            (Array("\t:\t".utf8), Array("\n,".utf8), [0x09], [0x0D]),
        ]
        let style = chance(700) ? styles[below(2)] : pick(styles)
        func object(_ members: [([UInt8], [UInt8])]) -> [UInt8] {
            var out: [UInt8] = [0x7B] + style.open
            for (i, m) in members.enumerated() {
                if i > 0 { out += style.comma }
                out += m.0 + style.colon + m.1
            }
            return out + style.close + [0x7D]
        }
        var members = top
        if let properties { members.append((Self.quoted("properties"), object(properties))) }
        return object(members)
    }

    /// Byte-level mutations, then remembered for repeats.
    private mutating func finish(_ record: [UInt8], _ applied: inout [Mutation]) -> [UInt8] {
        var bytes = record
        if chance(450) {
            for _ in 0..<(1 + (chance(200) ? 1 : 0)) { byteMutation(&bytes, &applied) }
        }
        if recent.count < 4_096 {
            recent.append(bytes)
        } else {
            recent[below(recent.count)] = bytes
        }
        if let id = Self.transactionID(in: bytes) {
            if recentIDs.count < 4_096 { recentIDs.append(id) } else { recentIDs[below(recentIDs.count)] = id }
        }
        return bytes
    }

    /// The value of the first `"transaction_id": "…"` in plain text, if any (for id reuse).
    static func transactionID(in bytes: [UInt8]) -> String? {
        let key = Array("\"transaction_id\"".utf8)
        guard bytes.count > key.count else { return nil }
        var i = 0
        while i + key.count <= bytes.count {
            if bytes[i] == 0x22, bytes[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x3A || bytes[j] == 0x09 { j += 1 }
                guard j < bytes.count, bytes[j] == 0x22 else { return nil }
                let start = j + 1
                guard let end = bytes[start...].firstIndex(of: 0x22), end - start <= 128 else { return nil }
                return String(decoding: bytes[start..<end], as: UTF8.self)
            }
            i += 1
        }
        return nil
    }

    private mutating func byteMutation(_ bytes: inout [UInt8], _ applied: inout [Mutation]) {
        guard !bytes.isEmpty else { return }
        switch below(11) {
        case 0:
            bytes = Array(bytes.prefix(below(bytes.count)))
            applied.append(.truncated)
        case 1:
            for _ in 0..<(1 + below(4)) {
                let at = below(bytes.count)
                bytes[at] ^= UInt8(1) << UInt8(below(8))
            }
            applied.append(.bitFlips)
        case 2:
            // Inside a string when possible: right after a quote.
            let quotes = bytes.indices.filter { bytes[$0] == 0x22 }
            let at = quotes.isEmpty ? below(bytes.count + 1) : pick(quotes) + 1
            bytes.insert(
                contentsOf: chance(800) ? pick(Self.invalidUTF8) : pick(Self.validUTF8), at: min(at, bytes.count))
            applied.append(.invalidUTF8)
        case 3:
            let quotes = bytes.indices.filter { bytes[$0] == 0x22 }
            let at = quotes.isEmpty ? below(bytes.count + 1) : pick(quotes) + 1
            bytes.insert(UInt8(pick(Array(0...31) + [127])), at: min(at, bytes.count))
            applied.append(.controlCharacter)
        case 4:
            let boms: [[UInt8]] = [
                [0xEF, 0xBB, 0xBF], [0xFE, 0xFF], [0xFF, 0xFE], [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF],
            ]
            if chance(700) {
                bytes.insert(contentsOf: pick(boms), at: 0)
            } else {
                bytes.insert(contentsOf: [0x20, 0xEF, 0xBB, 0xBF], at: 0)
            }
            applied.append(.byteOrderMark)
        case 5:
            let pieces: [[UInt8]] = [[0x0D], [0x0D, 0x0A], [0x0A], [0x0A, 0x0D], [0x0D, 0x0D, 0x0A], [0x0B], [0x0C]]
            if chance(400) {
                bytes += pick(pieces)
            } else {
                bytes.insert(contentsOf: pick(pieces), at: below(bytes.count + 1))
            }
            applied.append(.crlf)
        case 6:
            let garbage: [[UInt8]] = [
                Array(" x".utf8), Array(",".utf8), Array("}".utf8), Array(" {}".utf8), Array("// comment".utf8),
                Array("\u{0}".utf8), Array(" \t ".utf8), Array("]".utf8), Array("{\"transaction_id\": \"again\"}".utf8),
            ]
            bytes += pick(garbage)
            applied.append(.trailingGarbage)
        case 7:
            // Trailing comma inside the object, single quotes, a comment.
            if let close = bytes.lastIndex(of: 0x7D) {
                bytes.insert(
                    contentsOf: pick([Array(",".utf8), Array(", /* c */".utf8), Array(",'a':1".utf8)]), at: close)
            }
            applied.append(.trailingGarbage)
        default:
            let alphabet =
                Array(#"{}[]":,.-+eE0123456789 tfnulrsa\"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xFF]
            for _ in 0..<(1 + below(3)) {
                let at = below(bytes.count)
                switch below(3) {
                case 0: bytes[at] = alphabet[below(alphabet.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[below(alphabet.count)], at: at)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            applied.append(.byteNoise)
        }
    }

    /// Random bytes, or random JSON-ish tokens.
    private mutating func noise() -> [UInt8] {
        var out: [UInt8] = []
        if chance(500) {
            for _ in 0..<below(200) { out.append(UInt8(truncatingIfNeeded: rng.next())) }
        } else {
            let tokens = [
                "{", "}", "[", "]", ":", ",", "\"transaction_id\"", "\"a\"", "1", "-0", "1e999", "true", "null",
                "\"", "\\", " ", "\"properties\"", "{\"", "NaN", "\"timestamp\"", "\"2026-10-01T00:00:00Z\"",
            ]
            for _ in 0..<below(40) { out += Array(pick(tokens).utf8) }
        }
        return out
    }
}
