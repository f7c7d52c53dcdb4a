import DaybookEngine

// TEMPORARY until the snapshot branch lands.
extension Partitioning {
    public static func directoryName(partition p: Int) -> String { "p" + (p < 10 ? "0" : "") + "\(p)" }
}
public enum ReplayHorizon {
    public static func check(partition: Int, checkpoint: UInt64, firstSequence: UInt64, lastSequence: UInt64) throws {
        if checkpoint + 1 < firstSequence { throw ClusterNodeError.missingStream("gap") }
    }
}
public struct SnapshotStore: PartitionSnapshots {
    public init(root: String) {}
    public func restore(partition: Int, into path: String, source: String) throws -> String { "no snapshot (stub)" }
    public func save(_ engine: Engine, partition: Int, source: String) throws -> UInt64 { 0 }
}
