/// Why a batch could not be ingested, located at the record being processed.
public enum IngestError: Error, Sendable, CustomStringConvertible {
    /// Storing the record at `position` of `source` (`line 12`, `offset 4096`, …) failed with
    /// `underlying`; the batch's transaction was aborted, so nothing of the batch was stored.
    case record(source: String, position: String, underlying: any Error)

    /// The error that stopped the record.
    public var underlying: any Error {
        switch self {
        case .record(_, _, let underlying): underlying
        }
    }

    public var description: String {
        switch self {
        case .record(let source, let position, let underlying):
            "could not store the record at \(position) of \(source): \(underlying). Nothing of its batch was "
                + "stored; fix the cause and ingest the batch again (records stored before count as duplicates)"
        }
    }
}
