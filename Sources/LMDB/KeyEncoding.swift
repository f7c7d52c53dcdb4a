/// Fixed-width big-endian integer encoding for keys: LMDB compares keys bytewise, so big-endian
/// makes byte order equal numeric order (1 < 2 < 256). Signed values have their sign bit flipped
/// so negatives sort before positives.
extension Array where Element == UInt8 {
    /// Appends `value` as 8 big-endian bytes.
    public mutating func appendBigEndian(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// Appends `value` as 4 big-endian bytes.
    public mutating func appendBigEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// Appends `value` as 4 big-endian bytes with the sign bit flipped (order-preserving, not plain two's complement).
    public mutating func appendBigEndian(_ value: Int32) {
        appendBigEndian(UInt32(bitPattern: value) ^ 0x8000_0000)
    }

    /// Appends `value` as 8 big-endian bytes with the sign bit flipped (order-preserving, not plain two's complement).
    public mutating func appendBigEndian(_ value: Int64) {
        appendBigEndian(UInt64(bitPattern: value) ^ 0x8000_0000_0000_0000)
    }

    /// Reads 8 big-endian bytes at `offset`. Traps if they are out of range (a malformed key is a bug).
    public static func readBigEndianUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        precondition(
            offset >= 0 && offset <= bytes.count - 8,
            "readBigEndianUInt64: offset \(offset) out of range for \(bytes.count) bytes")
        var value: UInt64 = 0
        for index in offset..<(offset + 8) { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    /// Reads 4 big-endian bytes at `offset`. Traps if they are out of range.
    public static func readBigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        precondition(
            offset >= 0 && offset <= bytes.count - 4,
            "readBigEndianUInt32: offset \(offset) out of range for \(bytes.count) bytes")
        var value: UInt32 = 0
        for index in offset..<(offset + 4) { value = value << 8 | UInt32(bytes[index]) }
        return value
    }

    /// Reads an `Int32` written by ``appendBigEndian(_:)-(Int32)`` at `offset`. Traps if out of range.
    public static func readBigEndianInt32(_ bytes: [UInt8], at offset: Int) -> Int32 {
        Int32(bitPattern: readBigEndianUInt32(bytes, at: offset) ^ 0x8000_0000)
    }

    /// Reads an `Int64` written by ``appendBigEndian(_:)-(Int64)`` at `offset`. Traps if out of range.
    public static func readBigEndianInt64(_ bytes: [UInt8], at offset: Int) -> Int64 {
        Int64(bitPattern: readBigEndianUInt64(bytes, at: offset) ^ 0x8000_0000_0000_0000)
    }
}
