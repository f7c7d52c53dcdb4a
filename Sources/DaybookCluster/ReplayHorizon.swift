/// Whether a partition can resume from its checkpoint (docs/scale-out.md §4 "Refusal"): the
/// stream must still hold the message after it. A partition never skips a message: when
/// retention removed messages it has not stored, or the stream no longer matches the store, it
/// refuses to start.
public enum ReplayHorizon {
    /// Passes when the partition's stream (its first and last sequence, as the server reports
    /// them) holds `checkpoint + 1`, or holds nothing beyond `checkpoint` (`checkpoint` =
    /// `lastSequence`: nothing to replay, whatever was removed before it, e.g. an empty stream
    /// whose first sequence is `lastSequence + 1`). A new, empty stream reports first 0 and last
    /// 0: only checkpoint 0 passes.
    ///
    /// - Throws: ``ClusterError/replayGap(partition:checkpoint:firstSequence:)`` when the stream
    ///   starts after `checkpoint + 1`; ``ClusterError/storeAheadOfStream(partition:checkpoint:lastSequence:)``
    ///   when `checkpoint` is past `lastSequence` (the stream was recreated or purged).
    public static func check(partition: Int, checkpoint: UInt64, firstSequence: UInt64, lastSequence: UInt64)
        throws(ClusterError)
    {
        guard checkpoint <= lastSequence else {
            throw .storeAheadOfStream(partition: partition, checkpoint: checkpoint, lastSequence: lastSequence)
        }
        // The stream holds checkpoint + 1 (or ends at checkpoint): first ≤ checkpoint + 1, written
        // without the overflow; first 0 is a stream that never held a message.
        guard firstSequence == 0 || firstSequence - 1 <= checkpoint else {
            throw .replayGap(partition: partition, checkpoint: checkpoint, firstSequence: firstSequence)
        }
    }
}
