/// Why the cluster layer refuses to go on with a partition, and what to do about it.
public enum ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The partition's stream no longer holds `checkpoint + 1`: retention removed messages
    /// `checkpoint + 1 ..< firstSequence` before this partition's store processed them
    /// (``ReplayHorizon/check(partition:checkpoint:firstSequence:lastSequence:)``).
    case replayGap(partition: Int, checkpoint: UInt64, firstSequence: UInt64)
    /// The store has consumed past the end of its stream: the stream was recreated or purged
    /// after the store was fed, or the store is another stream's.
    case storeAheadOfStream(partition: Int, checkpoint: UInt64, lastSequence: UInt64)
    /// A file-system operation on a snapshot or a partition store's directory failed.
    case snapshotIO(path: String, operation: String, reason: String)
    /// A store that cannot be this partition's (holds events but no stream checkpoint of the
    /// partition's source, or a checkpoint that is not a stream sequence), or a directory that holds
    /// files but no store: never replaced or snapshotted.
    case notPartitionStore(path: String, source: String, reason: String)

    public var description: String {
        switch self {
        case .replayGap(let p, let checkpoint, let first):
            "partition \(p) cannot resume: its store's checkpoint is stream seq \(checkpoint) but stream "
                + "\(Partitioning.streamName(partition: p)) now starts at seq \(first) (messages \(checkpoint + 1) to "
                + "\(first - 1) were removed by the stream's retention before this partition stored them); nothing "
                + "is skipped: restore a newer snapshot of partition \(p), one with checkpoint ≥ \(first - 1), into its "
                + "store, or rebuild the partition from the events' origin, and raise the stream's retention "
                + "(max_age, max_msgs, max_bytes) to cover at least the snapshot interval plus the longest outage"
        case .storeAheadOfStream(let p, let checkpoint, let last):
            "partition \(p) refuses to resume: its store has consumed up to stream seq \(checkpoint) but stream "
                + "\(Partitioning.streamName(partition: p)) ends at seq \(last): the stream was recreated or purged after "
                + "the store was fed (or the store is another cluster's); its sequences no longer mean what the store "
                + "recorded: point the instance at the stream this store was fed from, or move the partition's store "
                + "and snapshots away and rebuild the partition from this stream"
        case .snapshotIO(let path, let operation, let reason):
            "\(operation) \(path) failed: \(reason); check that the directory is mounted, writable and has free space"
        case .notPartitionStore(let path, let source, let reason):
            "\(path) is not a store of source \(source): \(reason); check the partition's --data directory, or move "
                + "it away so the partition is restored from its snapshot"
        }
    }
}
