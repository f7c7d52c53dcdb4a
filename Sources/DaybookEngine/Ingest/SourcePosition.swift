import DaybookCore
import DaybookStore
import LMDB

/// Where a source had read to when a batch committed: the checkpoint a tail resumes from, stored
/// in the same transaction as the batch's events (SPEC §7).
///
/// ```swift
/// let position = SourcePosition(place: .stream(sequence: 77), lag: 12)
/// let batch = IngestBatch(records: records, source: "nats:USAGE/daybook", now: now,
///                         checkpoint: position.checkpoint(source: "nats:USAGE/daybook"))
/// ```
public struct SourcePosition: Sendable, Hashable {
    /// The position inside the source.
    public enum Place: Sendable, Hashable {
        /// A file: its identity (device, inode), the byte offset just past the last line read, and
        /// how many lines (blank ones included) lie before that offset.
        case file(device: UInt64, inode: UInt64, offset: UInt64, lines: UInt64)
        /// A JetStream consumer: the stream sequence of the last message of the batch.
        case stream(sequence: UInt64)
    }

    public var place: Place
    /// At commit: bytes behind the end of the file, or pending messages of the consumer; nil
    /// when the source cannot tell (standard input).
    public var lag: UInt64?

    public init(place: Place, lag: UInt64?) {
        self.place = place
        self.lag = lag
    }

    /// The position as the checkpoint of `source`.
    public func checkpoint(source: String) -> Checkpoint {
        Checkpoint(source: source, value: encoded())
    }

    private static let version: UInt64 = 1

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 40)
        w.uvarint(Self.version)
        switch place {
        case .file(let device, let inode, let offset, let lines):
            w.uvarint(UInt64(1))
            w.uvarint(device)
            w.uvarint(inode)
            w.uvarint(offset)
            w.uvarint(lines)
        case .stream(let sequence):
            w.uvarint(UInt64(2))
            w.uvarint(sequence)
        }
        w.bool(lag != nil)
        w.uvarint(lag ?? 0)
        return w.bytes
    }

    /// Decodes a stored checkpoint.
    ///
    /// - Throws: ``StoreCorruption`` for bytes that are not a source position of this version.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        let version = try r.uvarint()
        guard version == Self.version else { throw StoreCorruption("unknown source position version \(version)") }
        switch try r.uvarint() {
        case 1:
            place = .file(
                device: try r.uvarint(), inode: try r.uvarint(), offset: try r.uvarint(), lines: try r.uvarint())
        case 2: place = .stream(sequence: try r.uvarint())
        case let kind: throw StoreCorruption("unknown source position kind \(kind)")
        }
        let hasLag = try r.bool()
        let lag = try r.uvarint()
        self.lag = hasLag ? lag : nil
        guard r.isAtEnd else { throw StoreCorruption("source position has trailing bytes") }
    }

    /// `offset 4096 (device 2049, inode 131)`, `stream seq 77`.
    public var description: String {
        switch place {
        case .file(let device, let inode, let offset, let lines):
            "offset \(offset), line \(lines) (device \(device), inode \(inode))"
        case .stream(let sequence): "stream seq \(sequence)"
        }
    }
}

extension Engine {
    /// The committed position of `source` (`file:PATH`, `nats:STREAM/CONSUMER`), if it has one.
    public func sourcePosition(source: String) throws -> SourcePosition? {
        try checkpoint(source: source).map { try SourcePosition(decoding: $0) }
    }

    /// Every source's committed position, by source name (`daybook stats`).
    public func sourcePositions() throws -> [(source: String, position: SourcePosition)] {
        let store = self.store
        let all = try store.env.read { txn in try store.allCheckpoints(txn) }
        return try all.map { ($0.source, try SourcePosition(decoding: $0.bytes)) }
            .sorted { $0.source.utf8Precedes($1.source) }
    }

    /// How many finalized invoices have open drift (`daybook_open_drift_invoices`).
    public func openDriftInvoices() throws -> Int { try openDriftCounts().count }
}
