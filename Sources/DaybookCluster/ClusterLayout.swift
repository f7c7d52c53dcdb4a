/// Names and records of the cluster's shared state in NATS (docs/scale-out.md §1–3).
public enum ClusterLayout {
    /// `config` → ``config(partitions:)``: the partition count, fixed at creation.
    public static let configBucket = "daybook-cluster"
    public static let configKey = "config"
    /// `lease.<p>` → the owner of partition p; the entry's revision is the partition's epoch.
    public static let leaseBucket = "daybook-leases"
    /// `instances.<id>` → a live instance and its advertised URL.
    public static let instanceBucket = "daybook-instances"
    /// `version.<n>` → catalog version n, applied by every partition in order.
    public static let catalogBucket = "daybook-catalog"

    /// The cluster's configuration record: `{"partitions": P}`.
    public static func config(partitions: Int) -> [UInt8] { Array("{\"partitions\": \(partitions)}".utf8) }

    /// The partition count of a configuration record.
    public static func partitions(in record: [UInt8]) throws(ClusterLayoutError) -> Int {
        let text = String(decoding: record, as: UTF8.self)
        let digits = text.drop { $0 != ":" }.dropFirst().filter { !$0.isWhitespace && $0 != "}" }
        guard text.hasPrefix("{\"partitions\":"), let n = Int(digits), Partitioning.allowedCounts.contains(n) else {
            throw ClusterLayoutError(message: "the cluster's configuration record is not Daybook's: \(text.prefix(80))")
        }
        return n
    }
}

/// A record of the cluster's shared state that Daybook did not write.
public struct ClusterLayoutError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
