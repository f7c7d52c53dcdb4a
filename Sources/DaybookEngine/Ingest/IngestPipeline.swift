import DaybookCore
import Foundation

/// Reads an input file or standard input as records (SPEC §1): NDJSON streamed in 4 MiB chunks
/// (only the lines of the current batches are in memory), or a JSON array, which is read whole
/// (its elements cannot be told apart before the closing bracket).
public final class RecordReader {
    private let handle: FileHandle
    private let name: String
    private var first: Data?
    private var lines = LineAccumulator()
    private var pending: [IngestRecord] = []
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

    /// The next at most `size` records, or nil at the end of the input.
    public func next(_ size: Int) throws -> [IngestRecord]? {
        if array == nil, first?.first(where: { !RecordSplitter.isSpace($0) }) == UInt8(ascii: "[") {
            var all: [UInt8] = []
            while let chunk = try read() { all.append(contentsOf: chunk) }
            array = try RecordSplitter.split(all, source: name)
        }
        if array != nil {
            guard !array!.isEmpty else { return nil }
            let batch = Array(array!.prefix(size))
            array!.removeFirst(batch.count)
            return batch
        }
        while pending.count < size && !ended {
            if let chunk = try read() {
                pending += lines.feed(chunk)
            } else {
                pending += lines.finish()
                ended = true
            }
        }
        guard !pending.isEmpty else { return nil }
        let batch = Array(pending.prefix(size))
        pending.removeFirst(batch.count)
        return batch
    }
}

/// Reads a whole input through the ``Writer``: batches of at most `batchSize` records, up to
/// `inFlight` of them submitted ahead (so the next batches are parsed on other cores while the
/// writer commits the current one), summaries reported in order after each durable commit.
public struct IngestPipeline: Sendable {
    public var source: String
    public var now: Timestamp
    public var batchSize: Int
    public var inFlight: Int

    public init(source: String, now: Timestamp, batchSize: Int = 20_000, inFlight: Int = 2) {
        self.source = source
        self.now = now
        self.batchSize = max(1, batchSize)
        self.inFlight = max(1, inFlight)
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
    /// counts it as duplicates).
    public func run(
        _ reader: RecordReader, into writer: Writer,
        committed: (IngestBatch, IngestSummary) -> Void = { _, _ in }
    ) throws -> Result {
        var result = Result()
        var flight: [(IngestBatch, Completion<IngestSummary>)] = []
        var failure: (any Error)?
        func settleOldest() {
            let (batch, done) = flight.removeFirst()
            do {
                let summary = try done.wait()
                result.summary += summary
                result.batches += 1
                committed(batch, summary)
            } catch {
                if failure == nil { failure = error }
            }
        }
        var first = true
        while failure == nil {
            let records: [IngestRecord]
            do {
                guard let next = try reader.next(batchSize) ?? (first ? [] : nil) else { break }
                records = next
            } catch {
                failure = error
                break
            }
            first = false
            result.records += records.count
            let batch = IngestBatch(records: records, source: source, now: now)
            let done = Completion<IngestSummary>()
            writer.submit(batch) { done.fulfil($0) }
            flight.append((batch, done))
            if flight.count >= inFlight { settleOldest() }
        }
        while !flight.isEmpty { settleOldest() }
        if let failure { throw failure }
        return result
    }
}
