import DaybookCore

/// Appends compact binary fields: LEB128 varints, zig-zag signed values, length-prefixed bytes.
/// Stored values are small (mostly zeros), so varints keep invoice records a few KB.
package struct ByteWriter {
    package var bytes: [UInt8] = []

    package init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    package mutating func uvarint(_ v: UInt128) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    package mutating func uvarint(_ v: UInt64) { uvarint(UInt128(v)) }
    package mutating func uvarint(_ v: Int) { precondition(v >= 0); uvarint(UInt128(v)) }
    package mutating func varint(_ v: Int128) { uvarint(UInt128(bitPattern: (v << 1) ^ (v >> 127))) }
    package mutating func varint(_ v: Int64) { varint(Int128(v)) }
    package mutating func decimal(_ d: FixedDecimal) { varint(d.raw) }
    package mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }
    package mutating func day(_ d: Day) { varint(Int64(d.number)) }
    package mutating func blob(_ b: some Collection<UInt8>) { uvarint(b.count); bytes.append(contentsOf: b) }
    package mutating func string(_ s: String) { blob(s.utf8) }
    package mutating func timestamp(_ t: Timestamp) {
        varint(t.seconds); uvarint(UInt64(t.nanoseconds)); bool(t.beyondNanos)
    }
}

/// Reads what ``ByteWriter`` wrote. A malformed record is a corrupt store: it throws.
package struct ByteReader {
    package let bytes: [UInt8]
    package var offset: Int

    package init(_ bytes: [UInt8], offset: Int = 0) { self.bytes = bytes; self.offset = offset }

    package var isAtEnd: Bool { offset >= bytes.count }

    package mutating func uvarint128() throws(StoreCorruption) -> UInt128 {
        // Up to 9 bytes (63 bits) accumulate in 64 bits: most values stored are that small.
        var small: UInt64 = 0
        var start = offset
        for shift in stride(from: UInt64(0), to: 63, by: 7) {
            guard start < bytes.count else { throw StoreCorruption("truncated varint") }
            let b = bytes[start]; start += 1
            small |= UInt64(b & 0x7F) << shift
            if b < 0x80 {
                offset = start
                return UInt128(small)
            }
        }
        var result: UInt128 = 0
        var shift: UInt128 = 0
        while true {
            guard offset < bytes.count, shift < 133 else { throw StoreCorruption("truncated varint") }
            let b = bytes[offset]; offset += 1
            result |= UInt128(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }
    /// Steps over `n` varints without decoding them.
    package mutating func skipVarints(_ n: Int) throws(StoreCorruption) {
        var left = n
        var at = offset
        let end = bytes.count
        while left > 0 {
            guard at < end else { throw StoreCorruption("truncated varint") }
            if bytes[at] < 0x80 { left -= 1 }
            at += 1
        }
        offset = at
    }
    package mutating func uvarint() throws(StoreCorruption) -> UInt64 {
        let v = try uvarint128()
        guard v <= UInt128(UInt64.max) else { throw StoreCorruption("varint out of range") }
        return UInt64(v)
    }
    package mutating func int() throws(StoreCorruption) -> Int {
        guard let n = Int(exactly: try uvarint()) else { throw StoreCorruption("varint out of range") }
        return n
    }
    /// A count of elements that follow, each at least one byte long: more than the bytes left is corrupt.
    package mutating func count() throws(StoreCorruption) -> Int {
        let n = try int()
        guard n <= bytes.count - offset else { throw StoreCorruption("count \(n) exceeds the record") }
        return n
    }
    package mutating func varint() throws(StoreCorruption) -> Int128 {
        let u = try uvarint128()
        return Int128(bitPattern: u >> 1) ^ -Int128(bitPattern: u & 1)
    }
    package mutating func decimal() throws(StoreCorruption) -> FixedDecimal { FixedDecimal(raw: try varint()) }
    package mutating func bool() throws(StoreCorruption) -> Bool {
        guard offset < bytes.count else { throw StoreCorruption("truncated bool") }
        offset += 1
        return bytes[offset - 1] != 0
    }
    /// A day of the years 0001–9999 (any other is damage: day arithmetic would leave `Int32`).
    package mutating func day() throws(StoreCorruption) -> Day {
        let n = try varint()
        guard StoredRange.days.contains(n) else { throw StoreCorruption("day number \(n) out of range") }
        return Day(number: Int32(n))
    }
    package mutating func blob() throws(StoreCorruption) -> ArraySlice<UInt8> {
        let n = try int()
        guard offset + n <= bytes.count else { throw StoreCorruption("truncated field") }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }
    package mutating func string() throws(StoreCorruption) -> String { String(decoding: try blob(), as: UTF8.self) }
    /// A time of the years 0001–9999 with nanoseconds below 10⁹ (any other is damage).
    package mutating func timestamp() throws(StoreCorruption) -> Timestamp {
        let s = try varint()
        let n = try uvarint()
        guard StoredRange.seconds.contains(s), n < 1_000_000_000 else {
            throw StoreCorruption("timestamp (\(s) s, \(n) ns) out of range")
        }
        return Timestamp(seconds: Int64(s), nanoseconds: Int32(n), beyondNanos: try bool())
    }
}

/// What stored days and times may be: the years 0001–9999, as `Day` and `Timestamp` parse them.
package enum StoredRange {
    /// 0001-01-01 ... 9999-12-31 as day numbers.
    package static let days: ClosedRange<Int128> = -719_162...2_932_896
    /// 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59Z as seconds.
    package static let seconds: ClosedRange<Int128> = -62_135_596_800...253_402_300_799
}

/// A stored record that cannot be decoded: the store is damaged or from an incompatible version.
public struct StoreCorruption: Error, Sendable, CustomStringConvertible {
    public var message: String
    package init(_ message: String) { self.message = message }
    public var description: String {
        "store damaged: \(message); restore from backup (`daybook check` reports the damage)"
    }
}
