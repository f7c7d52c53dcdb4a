/// Which live instance should own each partition: rendezvous (highest-random-weight) hashing
/// (docs/scale-out.md §3). Every instance computes the same answer from the same set of live
/// instances, and an instance joining or leaving moves only the partitions it gains or loses.
public enum Assignment {
    /// The owner of partition `p` among `instances` (nil when there are none): the instance with
    /// the highest ``weight(instance:partition:)``, ties broken by the id's bytes.
    public static func owner(of p: Int, among instances: some Collection<String>) -> String? {
        instances.max { a, b in
            let (wa, wb) = (weight(instance: a, partition: p), weight(instance: b, partition: p))
            return wa != wb ? wa < wb : Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    /// The partitions of `partitioning` that `instance` should own.
    public static func partitions(
        of instance: String, among instances: some Collection<String>, _ partitioning: Partitioning
    )
        -> [Int]
    {
        (0..<partitioning.count).filter { owner(of: $0, among: instances) == instance }
    }

    /// A 64-bit weight of (instance, partition): FNV-1a 64 of the id's bytes, a zero byte and the
    /// partition's decimal digits, through the SplitMix64 finalizer (FNV alone mixes the last
    /// bytes poorly).
    public static func weight(instance: String, partition p: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in Array(instance.utf8) + [0] + Array(String(p).utf8) {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}
