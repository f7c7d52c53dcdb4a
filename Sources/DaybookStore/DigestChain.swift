import LMDB

/// The fixed-size stand-in for a key part of unbounded length (a line-item id, a `unique_count`
/// value, a source name): LMDB keys are at most 511 bytes, and those parts can be kilobytes.
///
/// The digest is SipHash-2-4 with a 128-bit tag (``SipHash``) under the fixed key `00 01 … 0f`
/// (the reference implementation's test key): deterministic across processes, platforms and
/// versions, never Swift's per-process `Hasher`. The key is public, so the digest is not
/// collision-resistant against a determined adversary; it does not need to be: a key only
/// *locates* an entry, whose value holds the full part and is compared (``DigestChain``), so a
/// collision costs one more read and never merges two values.
package struct KeyDigest: Sendable {
    /// Bytes of a digest.
    package static let size = 16

    private let function: @Sendable ([UInt8]) -> [UInt8]

    /// A digest computed by `function`, which must return ``size`` bytes. For tests that force
    /// collisions (e.g. a constant); a store is always written with ``standard``.
    package init(_ function: @escaping @Sendable ([UInt8]) -> [UInt8]) { self.function = function }

    /// The digest every store uses.
    package static let standard = KeyDigest { SipHash.tag128($0, key: referenceKey) }

    /// Bytes `00 01 … 0f` read as two little-endian words.
    static let referenceKey: (UInt64, UInt64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908)

    package func callAsFunction(_ part: [UInt8]) -> [UInt8] {
        let digest = function(part)
        precondition(digest.count == Self.size, "a key digest is \(Self.size) bytes")
        return digest
    }
}

/// The entries of a database whose natural key has a part of unbounded length, keyed
/// `prefix ‖ digest(part) ‖ suffix ‖ n` (`n` u16 big-endian), each value holding the full part.
///
/// Parts with the same digest (a collision) take consecutive `n` = 0, 1, 2, …; ``find(_:holds:)``
/// reads them in turn and compares the full part kept in each value, until it finds the part or
/// reaches the first free `n`. A chain never has a hole (``remove(_:_:)`` moves its last entry
/// into the freed place), so the first free `n` ends it. Without a collision, a chain is one
/// entry at `n` = 0 and a lookup one read.
///
/// `prefix` stays first in the key, so the entries of one prefix (one invoice) are still one
/// prefix scan.
package struct DigestChain {
    package let db: Database
    /// `prefix ‖ digest(part) ‖ suffix`.
    package let base: [UInt8]

    /// Entries one chain can hold.
    package static let capacity = 1 << 16

    package init(_ db: Database, prefix: [UInt8], part: [UInt8], suffix: [UInt8] = [], digest: KeyDigest) {
        self.db = db
        var base = prefix
        base.reserveCapacity(prefix.count + KeyDigest.size + suffix.count + 2)
        base.append(contentsOf: digest(part))
        base.append(contentsOf: suffix)
        self.base = base
    }

    /// One place in the chain: its key, and the value there (nil for the free place that ends the chain).
    package struct Slot {
        package var n: Int
        package var key: [UInt8]
        package var value: [UInt8]?
    }

    /// The key of entry `n`.
    package func key(_ n: Int) -> [UInt8] {
        var k = base
        k.append(UInt8(truncatingIfNeeded: n >> 8))
        k.append(UInt8(truncatingIfNeeded: n))
        return k
    }

    /// The entry whose value holds the part (`holds` compares the full part stored in a value),
    /// or the free place that ends the chain, where the part goes.
    ///
    /// - Throws: ``DigestChainFull`` when ``capacity`` other parts share the digest (never by
    ///   chance: 2^16 values with one 128-bit digest).
    package func find(_ txn: borrowing Transaction, holds: ([UInt8]) throws -> Bool) throws -> Slot {
        for n in 0..<Self.capacity {
            let k = key(n)
            guard let value = try txn.get(k, in: db) else { return Slot(n: n, key: k, value: nil) }
            if try holds(value) { return Slot(n: n, key: k, value: value) }
        }
        throw DigestChainFull(database: db.name)
    }

    /// Deletes entry `n`, moving the chain's last entry into its place (so no hole ends the chain early).
    package func remove(_ n: Int, _ txn: borrowing Transaction) throws {
        var last = n
        while last + 1 < Self.capacity, try txn.contains(key(last + 1), in: db) { last += 1 }
        if last > n {
            guard let moved = try txn.get(key(last), in: db) else {
                throw StoreCorruption("\(db.name) entry vanished while its chain was compacted")
            }
            try txn.put(key(n), moved, in: db)
            _ = try txn.delete(key(last), in: db)
        } else {
            _ = try txn.delete(key(n), in: db)
        }
    }
}

/// More different values share one key digest than a chain holds: the digest is broken or the
/// input was built to collide. Nothing of the transaction was stored.
public struct DigestChainFull: Error, Sendable, CustomStringConvertible {
    public var database: String
    public var description: String {
        "more than \(DigestChain.capacity) different values share one key digest in `\(database)`: this does not "
            + "happen by chance (the input was built to collide); nothing of this batch was stored — dead-letter "
            + "or remove the records that carry those values, and report it"
    }
}
