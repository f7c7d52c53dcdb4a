import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Dispatch
import Foundation
import LMDB
import Synchronization
import Testing

/// The one writer as a service: several producers, group commit, checkpoints that commit with
/// exactly their batch, isolation of a failing batch.
@Suite("Writer")
struct WriterTests {
    static let catalog = ScenarioTests.catalog(
        rates: """
            {"product": "tok", "unit_price": "0.01"}, {"product": "seat", "unit_price": "1"}
            """)
    static let now = Timestamp(day: Day(parsing: "2026-10-20")!)

    static func event(_ tid: String, tokens: Int = 1, day: String = "2026-10-05") -> IngestRecord {
        IngestRecord(
            bytes: Array(
                "{\"transaction_id\": \"\(tid)\", \"customer_id\": \"c\", \"event_type\": \"inference\", \"timestamp\": \"\(day)T10:00:00Z\", \"properties\": {\"tokens\": \(tokens)}}"
                    .utf8), position: "line \(tid)")
    }

    @Test func fourProducersEachCheckpointCommitsWithExactlyItsBatch() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(Self.catalog, now: Self.now)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        let producers = 4, batches = 25, valid = 38
        let failures = Mutex<[String]>([])
        let totals = Mutex(IngestSummary())
        let finished = DispatchSemaphore(value: 0)
        for p in 0..<producers {
            let path = store.path
            let thread = Thread {
                defer { finished.signal() }
                do {
                    let reader = try Engine(path: path)
                    for j in 0..<batches {
                        var records = (0..<valid).map { Self.event("p\(p)-b\(j)-e\($0)", tokens: $0 + 1) }
                        records.append(Self.event("p\(p)-b\(j)-e0"))  // repeat inside the batch
                        records.append(IngestRecord(bytes: Array("{not json".utf8), position: "line bad"))
                        if j > 0 { records.append(Self.event("p\(p)-b\(j - 1)-e1")) }  // repeat of the last batch
                        let checkpoint = Checkpoint(source: "p\(p)", value: [UInt8(j)])
                        let summary = try writer.submitAndWait(
                            IngestBatch(records: records, source: "p\(p)", now: Self.now, checkpoint: checkpoint))
                        totals.withLock { $0 += summary }
                        var expected = IngestSummary()
                        expected.accepted = valid
                        expected.duplicates = j > 0 ? 2 : 1
                        expected.deadLettered = 1
                        var problems: [String] = []
                        if summary != expected { problems.append("p\(p) b\(j): summary \(summary.json)") }
                        // This producer submits nothing more until now: the stored checkpoint is
                        // exactly this batch's, and this batch's events are in the log.
                        if try reader.checkpoint(source: "p\(p)") != [UInt8(j)] {
                            problems.append("p\(p) b\(j): checkpoint \(String(describing: try reader.checkpoint(source: "p\(p)")))")
                        }
                        if try !reader.isLogged(transactionID: "p\(p)-b\(j)-e\(valid - 1)") {
                            problems.append("p\(p) b\(j): events not logged at acknowledgment")
                        }
                        if try reader.isLogged(transactionID: "p\(p)-b\(j + 1)-e0") {
                            problems.append("p\(p) b\(j): a later batch is logged")
                        }
                        if !problems.isEmpty { failures.withLock { $0 += problems } }
                    }
                } catch {
                    failures.withLock { $0.append("p\(p): \(error)") }
                }
            }
            thread.start()
        }
        for _ in 0..<producers { finished.wait() }
        #expect(failures.withLock { $0 } == [])
        let total = totals.withLock { $0 }
        #expect(total.accepted == producers * batches * valid)
        #expect(total.duplicates == producers * (2 * batches - 1))
        #expect(total.deadLettered == producers * batches)
        let stats = Dictionary(uniqueKeysWithValues: try store.engine.statsFields())
        #expect(stats["events"] == UInt64(producers * batches * valid))
        #expect(stats["last_seq"] == UInt64(producers * batches * valid))
        for p in 0..<producers { #expect(try store.engine.checkpoint(source: "p\(p)") == [UInt8(batches - 1)]) }
        #expect(writer.statistics.batches == UInt64(producers * batches))
        #expect(writer.statistics.transactions <= writer.statistics.batches)
        // Every event billed once: p sums 1…38 tokens per batch at 0.01 each.
        let tokens = producers * batches * (valid * (valid + 1) / 2)
        let invoices = try store.engine.invoices(now: Self.now)
        #expect(tokens % 100 == 0 && invoices.first?.totals.subtotal == FixedDecimal(tokens / 100))  // 0.01 each
        #expect(try store.engine.verify().isEmpty)
    }

    /// Holds the writer inside an operation until `count` batches are queued and prepared.
    static func holdWriter(_ writer: Writer, until count: Int) -> (release: DispatchSemaphore, entered: DispatchSemaphore) {
        let release = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        Thread {
            _ = try? writer.perform { _ in
                entered.signal()
                release.wait()
            }
        }.start()
        entered.wait()
        return (release, entered)
    }

    @Test func batchesReadyTogetherShareOneTransaction() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(Self.catalog, now: Self.now)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        let (release, _) = Self.holdWriter(writer, until: 3)
        let results = Mutex<[Int: IngestSummary]>([:])
        let done = DispatchSemaphore(value: 0)
        for i in 0..<3 {
            writer.submit(
                IngestBatch(
                    records: [Self.event("g\(i)"), Self.event("g\(i)-b")], source: "s\(i)", now: Self.now,
                    checkpoint: Checkpoint(source: "s\(i)", value: [UInt8(i + 1)]))
            ) { result in
                if case .success(let s) = result { results.withLock { $0[i] = s } }
                done.signal()
            }
        }
        #expect(waitUntil { writer.queuedAndPrepared == 3 })
        let before = writer.statistics.transactions
        release.signal()
        for _ in 0..<3 { done.wait() }
        #expect(writer.statistics.transactions == before + 1)
        #expect(results.withLock { $0 }.mapValues(\.accepted) == [0: 2, 1: 2, 2: 2])
        for i in 0..<3 { #expect(try store.engine.checkpoint(source: "s\(i)") == [UInt8(i + 1)]) }
    }

    @Test func aFailingBatchDoesNotFailTheBatchesItWasGroupedWith() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(Self.catalog, now: Self.now)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        // A batch that fails in its transaction: its checkpoint record is damaged (undecodable), so
        // storing the batch's checkpoint throws StoreCorruption. (Before issue 8 the poison was a
        // unique_count value over 481 bytes; its key now fits, whatever its length.)
        let raw = try Store(path: store.path, durable: false)
        let damaged = DigestChain(raw.checkpoints, prefix: [], part: Array("bad".utf8), digest: .standard)
        try raw.env.write { txn in try txn.put(damaged.key(0), [0xff, 0xff], in: raw.checkpoints) }
        let (release, _) = Self.holdWriter(writer, until: 3)
        let outcomes = Mutex<[Int: Bool]>([:])
        let done = DispatchSemaphore(value: 0)
        let batches = [
            IngestBatch(records: [Self.event("a1")], source: "s", now: Self.now),
            IngestBatch(
                records: [Self.event("poison")], source: "s", now: Self.now,
                checkpoint: Checkpoint(source: "bad", value: [1])),
            IngestBatch(records: [Self.event("c1")], source: "s", now: Self.now),
        ]
        for (i, batch) in batches.enumerated() {
            writer.submit(batch) { result in
                outcomes.withLock { $0[i] = (try? result.get()) != nil }
                done.signal()
            }
        }
        #expect(waitUntil { writer.queuedAndPrepared == 3 })
        release.signal()
        for _ in 0..<3 { done.wait() }
        #expect(outcomes.withLock { $0 } == [0: true, 1: false, 2: true])
        #expect(try store.engine.isLogged(transactionID: "a1"))
        #expect(try store.engine.isLogged(transactionID: "c1"))
        #expect(try !store.engine.isLogged(transactionID: "poison"))
    }

    @Test func closedWriterRefusesWork() throws {
        let store = try TemporaryStore()
        let writer = try Writer(path: store.path)
        writer.close()
        #expect(throws: WriterError.self) { try writer.submitAndWait(IngestBatch(records: [], source: "s", now: Self.now)) }
    }
}
