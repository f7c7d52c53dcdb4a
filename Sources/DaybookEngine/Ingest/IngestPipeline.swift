import DaybookCore
import Foundation
import LMDB

/// Reads an input file or standard input as records (SPEC §1): NDJSON streamed in 4 MiB chunks
/// (only the lines of the current batches are in memory), or a JSON array, which is read whole
/// (its elements cannot be told apart before the closing bracket).
public final class RecordReader {
    private let handle: FileHandle
    private let name: String
    private var first: Data?
    private var lines = LineAccumulator()
    private var pending: [IngestRecord] = []
    /// The bytes of the records in `pending`.
    private var pendingBytes = 0
    private var ended = false
    private var array: [IngestRecord]?
    static let chunkSize = 4 << 20

    /// Opens `path`, or standard input for `-`.
    ///
    /// - Throws: ``InputError`` when the file cannot be read.
    public init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardInput
            name = "stdin"
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else {
                throw InputError(source: path, message: "cannot read the file: no such file or not readable")
            }
            handle = h
            name = path
        }
        first = try handle.read(upToCount: Self.chunkSize)
    }

    private func read() throws -> Data? {
        if let f = first {
            first = nil
            return f.isEmpty ? nil : f
        }
        guard let chunk = try handle.read(upToCount: Self.chunkSize), !chunk.isEmpty else { return nil }
        return chunk
    }

    /// The next at most `size` records of at most `maxBytes` bytes together (at least one record,
    /// however large), or nil at the end of the input. NDJSON is read ahead only as far as that
    /// batch needs (plus one chunk).
    public func next(_ size: Int, maxBytes: Int = .max) throws -> [IngestRecord]? {
        if array == nil, first?.first(where: { !RecordSplitter.isSpace($0) }) == UInt8(ascii: "[") {
            var all: [UInt8] = []
            while let chunk = try read() { all.append(contentsOf: chunk) }
            array = try RecordSplitter.split(all, source: name)
        }
        if array != nil {
            guard !array!.isEmpty else { return nil }
            let batch = Self.prefix(array!, size, maxBytes)
            array!.removeFirst(batch.count)
            return batch
        }
        while pending.count < size && pendingBytes < maxBytes && !ended {
            let records: [IngestRecord]
            if let chunk = try read() {
                records = lines.feed(chunk)
            } else {
                records = lines.finish()
                ended = true
            }
            pending += records
            pendingBytes += records.reduce(0) { $0 + $1.bytes.count }
        }
        guard !pending.isEmpty else { return nil }
        let batch = Self.prefix(pending, size, maxBytes)
        pending.removeFirst(batch.count)
        pendingBytes -= batch.reduce(0) { $0 + $1.bytes.count }
        return batch
    }

    /// The longest prefix of at most `size` records and `maxBytes` bytes, never empty.
    private static func prefix(_ records: [IngestRecord], _ size: Int, _ maxBytes: Int) -> [IngestRecord] {
        var count = 0
        var bytes = 0
        for record in records.prefix(size) {
            if count > 0 && bytes + record.bytes.count > maxBytes { break }
            count += 1
            bytes += record.bytes.count
        }
        return Array(records.prefix(max(1, count)))
    }
}

/// Reads a whole input through the ``Writer``: batches of at most `batchSize` records and
/// `maxBatchBytes` bytes, up to `inFlight` of them submitted ahead (so the next batches are parsed
/// on other cores while the writer commits the current one), summaries reported in order after
/// each durable commit.
///
/// Memory follows the bytes bounds, not the record count: a batch of large records (each up to
/// ``LineAccumulator/maxLineBytes``) holds at most `maxBatchBytes` of them, or one record when a
/// single one is larger, and the batches in flight hold at most `maxInFlightBytes` together (or
/// one batch): 3 batches of small records ahead while the next is read, 1 of the largest.
public struct IngestPipeline: Sendable {
    public var source: String
    public var now: Timestamp
    public var batchSize: Int
    /// Raw record bytes per batch at most (32 MiB by default; a batch always holds one record).
    public var maxBatchBytes: Int
    public var inFlight: Int
    /// Raw record bytes the batches left in flight while the next one is read stay below (32 MiB by
    /// default: batches of the largest records then go one ahead, as small ones go `inFlight - 1`).
    public var maxInFlightBytes: Int

    /// The default bound of a batch's raw bytes: 32 MiB.
    public static let defaultMaxBatchBytes = 32 << 20

    public init(
        source: String, now: Timestamp, batchSize: Int = 20_000, maxBatchBytes: Int = defaultMaxBatchBytes,
        inFlight: Int = 4, maxInFlightBytes: Int = defaultMaxBatchBytes
    ) {
        self.source = source
        self.now = now
        self.batchSize = max(1, batchSize)
        self.maxBatchBytes = max(1, maxBatchBytes)
        self.inFlight = max(1, inFlight)
        self.maxInFlightBytes = max(1, maxInFlightBytes)
    }

    /// What a run read and how it ended.
    public struct Result: Sendable {
        public var records = 0
        public var batches = 0
        public var summary = IngestSummary()
    }

    /// Ingests everything `reader` yields. An empty input still commits one empty batch, so the
    /// clock's finalization check runs. `committed` is called in order after each commit.
    ///
    /// On a failure no further batch is submitted; batches already submitted are waited for,
    /// then the error is thrown (what committed stays committed: ingesting the input again
    /// counts it as duplicates). A batch the store could not write (disk full, I/O error) throws
    /// ``IngestFailure``, which says so and how far the acknowledged batches reach.
    public func run(
        _ reader: RecordReader, into writer: Writer,
        committed: (IngestBatch, IngestSummary) -> Void = { _, _ in }
    ) throws -> Result {
        var result = Result()
        var flight: [(batch: IngestBatch, done: Completion<IngestSummary>, bytes: Int)] = []
        var flightBytes = 0
        var failure: (any Error)?
        var acknowledgedThrough: String?
        func settleOldest() {
            let (batch, done, bytes) = flight.removeFirst()
            flightBytes -= bytes
            do {
                let summary = try done.wait()
                result.summary += summary
                result.batches += 1
                if failure == nil, let last = batch.records.last { acknowledgedThrough = last.position }
                committed(batch, summary)
            } catch let error as LMDBError {
                if failure == nil {
                    failure = IngestFailure(underlying: error, source: source, acknowledgedThrough: acknowledgedThrough)
                }
            } catch {
                if failure == nil { failure = error }
            }
        }
        var first = true
        while failure == nil {
            let records: [IngestRecord]
            do {
                guard let next = try reader.next(batchSize, maxBytes: maxBatchBytes) ?? (first ? [] : nil) else {
                    break
                }
                records = next
            } catch {
                failure = error
                break
            }
            first = false
            result.records += records.count
            let bytes = records.reduce(0) { $0 + $1.bytes.count }
            let batch = IngestBatch(records: records, source: source, now: now)
            let done = Completion<IngestSummary>()
            writer.submit(batch) { done.fulfil($0) }
            flight.append((batch, done, bytes))
            flightBytes += bytes
            // What stays in flight while the next batch is read: fewer than `inFlight` batches,
            // and fewer bytes than `maxInFlightBytes`.
            while flight.count >= inFlight || (!flight.isEmpty && flightBytes >= maxInFlightBytes) { settleOldest() }
        }
        while !flight.isEmpty { settleOldest() }
        if let failure { throw failure }
        return result
    }
}

/// A batch of an ingest that the store could not write (the disk is full, an I/O error): every
/// batch acknowledged before it is stored, and ingesting the same input again resumes — what was
/// stored counts as duplicates, the rest is accepted.
public struct IngestFailure: Error, Sendable, CustomStringConvertible {
    /// The store's error for the batch that failed (``LMDBError/Code/diskFull`` for a full disk).
    public var underlying: LMDBError
    /// The source being ingested (`file:PATH`, `stdin`).
    public var source: String
    /// The position of the last record of the last batch acknowledged before the failure; nil
    /// when none was.
    public var acknowledgedThrough: String?

    public var description: String {
        let acknowledged =
            acknowledgedThrough.map { "every batch acknowledged before this one is stored (through \($0))" }
            ?? "no batch of this run was acknowledged, and nothing of it is stored"
        let resume = "ingesting the same input again counts what was stored as duplicates and accepts the rest"
        if underlying.code == .diskFull {
            return
                "disk full writing \(underlying.path ?? "the store"): \(underlying.reason) (\(underlying.operation)); free space and retry; \(acknowledged); \(resume)"
        }
        return "\(underlying); \(acknowledged); \(resume)"
    }
}
