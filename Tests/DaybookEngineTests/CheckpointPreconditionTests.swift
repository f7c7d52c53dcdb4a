import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

/// `IngestBatch.checkpointPrecondition`: a pipelined source's later batch never commits after an
/// earlier one of the same source failed, so a stored checkpoint never passes records that were
/// not stored.
@Suite("Checkpoint precondition")
struct CheckpointPreconditionTests {
    struct Refused: Error {}

    /// Requires the stored checkpoint to be `expected` (nil: none yet).
    static func requiring(_ expected: [UInt8]?) -> @Sendable ([UInt8]?) throws -> Void {
        { stored in if stored != expected { throw Refused() } }
    }

    static func batch(_ n: Int, after previous: [UInt8]?, failing: Bool = false) -> IngestBatch {
        let records = (0..<5).map { WriterTests.event("b\(n)-e\($0)") }
        var batch = IngestBatch(
            records: records, source: "pipe", now: WriterTests.now,
            checkpoint: Checkpoint(source: "pipe", value: [UInt8(n)]))
        batch.checkpointPrecondition = failing ? { _ in throw Refused() } : requiring(previous)
        return batch
    }

    /// Three batches in flight together (so the writer may group them into one transaction): the
    /// second fails, so the third, which requires the second's checkpoint, fails too, whatever the
    /// grouping; the first commits alone; nothing of the others is stored.
    @Test func aLaterBatchDoesNotCommitPastAFailedOne() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: WriterTests.now)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        let results = Mutex<[Int: Bool]>([:])
        let done = DispatchGroup()
        for (n, batch) in [
            Self.batch(1, after: nil), Self.batch(2, after: [1], failing: true), Self.batch(3, after: [2]),
        ].enumerated() {
            done.enter()
            writer.submit(batch) { result in
                results.withLock { $0[n + 1] = (try? result.get()) != nil }
                done.leave()
            }
        }
        done.wait()
        #expect(results.withLock { $0 } == [1: true, 2: false, 3: false])
        let stats = try writer.perform { try $0.stats() }
        #expect(stats.counters.events == 5, "only the first batch's events are stored")
        #expect(try writer.perform { try $0.checkpoint(source: "pipe") } == [1])

        // The batch after the last committed one commits.
        let next = try writer.submitAndWait(Self.batch(4, after: [1]))
        #expect(next.accepted == 5)
        #expect(try writer.perform { try $0.checkpoint(source: "pipe") } == [4])
    }

    /// The precondition sees the checkpoint as committed by the batches before it in the same
    /// transaction (a group commit), not only as of the transaction's start.
    @Test func itSeesTheCheckpointOfTheBatchJustBeforeInTheSameTransaction() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: WriterTests.now)
        let summaries = try store.engine.ingest(
            [WriterTests.event("x")], source: "pipe", now: WriterTests.now,
            checkpoint: Checkpoint(source: "pipe", value: [7]))
        #expect(summaries.accepted == 1)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        let failures = Mutex(0)
        let done = DispatchGroup()
        var previous: [UInt8] = [7]
        for n in 8..<20 {
            done.enter()
            var batch = IngestBatch(
                records: [WriterTests.event("g\(n)")], source: "pipe", now: WriterTests.now,
                checkpoint: Checkpoint(source: "pipe", value: [UInt8(n)]))
            batch.checkpointPrecondition = Self.requiring(previous)
            previous = [UInt8(n)]
            writer.submit(batch) { result in
                if (try? result.get()) == nil { failures.withLock { $0 += 1 } }
                done.leave()
            }
        }
        done.wait()
        #expect(failures.withLock { $0 } == 0)
        #expect(try writer.perform { try $0.checkpoint(source: "pipe") } == [19])
        #expect(try writer.perform { try $0.stats() }.counters.events == 13)
    }
}
