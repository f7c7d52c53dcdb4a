import DaybookCore
import LMDB

/// Readers for keys and values read back from the store. Unlike `[UInt8].readBigEndianUInt32`
/// (which traps: for bytes this process just built), they check every length against the bytes
/// there are and throw ``StoreCorruption`` naming `what` (e.g. "by_customer key") when a damaged
/// record is too short or its length prefix runs past its end.
extension Keys {
    /// The big-endian u64 (a seq, a number) at `offset`.
    package static func seq(from bytes: [UInt8], at offset: Int = 0, in what: String) throws(StoreCorruption) -> UInt64 {
        try require(bytes, offset, 8, what)
        return [UInt8].readBigEndianUInt64(bytes, at: offset)
    }

    /// The big-endian u32 at `offset`.
    package static func u32(from bytes: [UInt8], at offset: Int = 0, in what: String) throws(StoreCorruption) -> UInt32 {
        try require(bytes, offset, 4, what)
        return [UInt8].readBigEndianUInt32(bytes, at: offset)
    }

    /// The day (``appendDay(_:to:)``) at `offset`, within the years 0001–9999.
    package static func day(from bytes: [UInt8], at offset: Int, in what: String) throws(StoreCorruption) -> Day {
        let number = Int32(bitPattern: try u32(from: bytes, at: offset, in: what) ^ 0x8000_0000)
        guard StoredRange.days.contains(Int128(number)) else {
            throw StoreCorruption("\(what) holds day number \(number), out of range")
        }
        return Day(number: number)
    }

    /// The bytes of the `u32 length + bytes` field at `offset` (the field ends at the range's upper bound).
    package static func lengthPrefixed(_ bytes: [UInt8], at offset: Int = 0, in what: String) throws(StoreCorruption)
        -> Range<Int>
    {
        let n = Int(try u32(from: bytes, at: offset, in: what))
        try require(bytes, offset + 4, n, what)
        return (offset + 4)..<(offset + 4 + n)
    }

    /// The string of the `u32 length + UTF-8` field at `offset`, and the offset after it.
    package static func string(from bytes: [UInt8], at offset: Int = 0, in what: String) throws(StoreCorruption)
        -> (String, next: Int)
    {
        let range = try lengthPrefixed(bytes, at: offset, in: what)
        return (String(decoding: bytes[range], as: UTF8.self), range.upperBound)
    }

    private static func require(_ bytes: [UInt8], _ offset: Int, _ count: Int, _ what: String) throws(StoreCorruption)
    {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw StoreCorruption("\(what) is \(bytes.count) bytes, too short for \(count) bytes at offset \(offset)")
        }
    }
}
