/// SipHash-2-4 with a 128-bit tag (Aumasson & Bernstein, "SipHash: a fast short-input PRF",
/// 2012; the 128-bit variant of the reference implementation, github.com/veorq/SipHash).
///
/// Plain integer arithmetic on fixed-width words: the same bytes give the same tag in every
/// process, on every platform and with every Swift version (unlike Swift's `Hasher`, which is
/// seeded per process). Checked against the reference `vectors_sip128` in the tests.
package enum SipHash {
    /// The tag of `message` under the 16-byte `key` (`k0`, `k1` read little-endian, as the
    /// reference does): 16 bytes, the two 64-bit halves little-endian, as the reference outputs it.
    package static func tag128(_ message: some Collection<UInt8>, key: (UInt64, UInt64)) -> [UInt8] {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ key.0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ key.1 ^ 0xee
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ key.0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ key.1

        @inline(__always) func round() {
            v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        }
        @inline(__always) func compress(_ m: UInt64) {
            v3 ^= m
            round(); round()
            v0 ^= m
        }

        var word: UInt64 = 0
        var filled: UInt64 = 0
        var length: UInt64 = 0
        for byte in message {
            word |= UInt64(byte) << (8 * filled)
            filled += 1
            length &+= 1
            if filled == 8 {
                compress(word)
                word = 0
                filled = 0
            }
        }
        compress(word | (length << 56))

        var tag: [UInt8] = []
        tag.reserveCapacity(16)
        v2 ^= 0xee
        round(); round(); round(); round()
        appendLittleEndian(v0 ^ v1 ^ v2 ^ v3, to: &tag)
        v1 ^= 0xdd
        round(); round(); round(); round()
        appendLittleEndian(v0 ^ v1 ^ v2 ^ v3, to: &tag)
        return tag
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    private static func appendLittleEndian(_ v: UInt64, to bytes: inout [UInt8]) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}

/// SipHash-2-4-128 over a message fed in parts (``SipHash/tag128(_:key:)`` needs it whole): what
/// `Engine.stateHash()` runs over a whole store without holding it in memory. The same bytes give
/// the same tag as ``SipHash/tag128(_:key:)`` however they are split.
package struct SipHasher128 {
    private var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64
    private var word: UInt64 = 0
    private var filled: UInt64 = 0
    private var length: UInt64 = 0

    package init(key: (UInt64, UInt64)) {
        v0 = 0x736f_6d65_7073_6575 ^ key.0
        v1 = 0x646f_7261_6e64_6f6d ^ key.1 ^ 0xee
        v2 = 0x6c79_6765_6e65_7261 ^ key.0
        v3 = 0x7465_6462_7974_6573 ^ key.1
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    @inline(__always) private mutating func round() {
        v0 &+= v1; v1 = Self.rotl(v1, 13); v1 ^= v0; v0 = Self.rotl(v0, 32)
        v2 &+= v3; v3 = Self.rotl(v3, 16); v3 ^= v2
        v0 &+= v3; v3 = Self.rotl(v3, 21); v3 ^= v0
        v2 &+= v1; v1 = Self.rotl(v1, 17); v1 ^= v2; v2 = Self.rotl(v2, 32)
    }

    @inline(__always) private mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    /// Appends bytes to the message.
    package mutating func append(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            word |= UInt64(byte) << (8 * filled)
            filled += 1
            length &+= 1
            if filled == 8 {
                compress(word)
                word = 0
                filled = 0
            }
        }
    }

    /// The 16-byte tag of everything appended (as ``SipHash/tag128(_:key:)`` lays it out).
    package consuming func finish() -> [UInt8] {
        compress(word | (length << 56))
        var tag: [UInt8] = []
        tag.reserveCapacity(16)
        v2 ^= 0xee
        round(); round(); round(); round()
        var half = v0 ^ v1 ^ v2 ^ v3
        for i in 0..<8 { tag.append(UInt8(truncatingIfNeeded: half >> (8 * UInt64(i)))) }
        v1 ^= 0xdd
        round(); round(); round(); round()
        half = v0 ^ v1 ^ v2 ^ v3
        for i in 0..<8 { tag.append(UInt8(truncatingIfNeeded: half >> (8 * UInt64(i)))) }
        return tag
    }
}
