import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Foundation
import Synchronization
import Testing

/// Per-record outcomes (what `POST /v1/ingest` answers), source positions and the writer's
/// commit reports.
@Suite("Record results")
struct RecordResultsTests {
    @Test func everyRecordGetsItsOutcomeAndADuplicateTheOriginalSeq() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: WriterTests.now)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        let reports = Mutex<[CommitReport]>([])
        writer.observe { report in reports.withLock { $0.append(report) } }

        let first = try writer.submitAndWait(
            IngestBatch(
                records: [WriterTests.event("a"), WriterTests.event("b")], source: "t", now: WriterTests.now,
                results: true))
        #expect(first.results.map(\.status) == [.accepted, .accepted])
        #expect(first.results.map(\.seq) == [1, 2])

        let late = IngestRecord(
            bytes: Array(
                #"{"transaction_id": "old", "customer_id": "c", "event_type": "inference", "timestamp": "2025-01-01T00:00:00Z"}"#
                    .utf8), position: "line 5")
        let second = try writer.submitAndWait(
            IngestBatch(
                records: [
                    WriterTests.event("b"),  // duplicate of seq 2
                    IngestRecord(bytes: Array(#"{"transaction_id": "x1", "customer_id": 7}"#.utf8), position: "line 2"),
                    IngestRecord(bytes: Array("not json".utf8), position: "line 3"),
                    WriterTests.event("c"),
                    late,
                    WriterTests.event("c"),  // repeat inside the batch
                ], source: "t", now: WriterTests.now, results: true))
        let r = second.results
        #expect(r.count == 6)
        #expect(r[0] == RecordResult(status: .duplicate, transactionID: "b", seq: 2))
        #expect(r[1].status == .deadLettered && r[1].transactionID == "x1" && r[1].seq == nil)
        #expect(r[1].reason?.contains("customer_id") == true)
        #expect(r[2].status == .deadLettered && r[2].transactionID == nil && r[2].reason != nil)
        #expect(r[3] == RecordResult(status: .accepted, transactionID: "c", seq: 3))
        #expect(r[4].status == .deadLettered && r[4].transactionID == "old" && r[4].reason?.hasPrefix("too_late") == true)
        #expect(r[5] == RecordResult(status: .duplicate, transactionID: "c", seq: 3))
        #expect((second.accepted, second.duplicates, second.deadLettered) == (1, 2, 3))

        // Without asking, no results are kept.
        let quiet = try writer.submitAndWait(IngestBatch(records: [WriterTests.event("d")], source: "t", now: WriterTests.now))
        #expect(quiet.results.isEmpty && quiet.accepted == 1)

        let seen = reports.withLock { $0 }
        #expect(seen.count == 3)
        #expect(seen.map(\.lastSeq) == [2, 3, 4])
        #expect(seen.last?.counters.events == 4)
        #expect(seen.last?.counters.duplicates == 2)
        #expect(seen[1].batches.first?.summary.deadLettered == 3)
    }

    @Test func sourcePositionsCommitWithTheirBatchAndRoundTrip() throws {
        let store = try TemporaryStore()
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        let file = SourcePosition(place: .file(device: 2049, inode: 1 << 40, offset: 12_345, lines: 99), lag: 7)
        let stream = SourcePosition(place: .stream(sequence: 77), lag: nil)
        _ = try writer.submitAndWait(
            IngestBatch(records: [], source: "file:/x", now: WriterTests.now, checkpoint: file.checkpoint(source: "file:/x")))
        _ = try writer.submitAndWait(
            IngestBatch(records: [], source: "nats:S/C", now: WriterTests.now, checkpoint: stream.checkpoint(source: "nats:S/C")))
        let reader = try Engine(path: store.path, access: .read)
        #expect(try reader.sourcePosition(source: "file:/x") == file)
        #expect(try reader.sourcePosition(source: "nats:S/C") == stream)
        #expect(try reader.sourcePosition(source: "nats:S/D") == nil)
        #expect(try reader.sourcePositions().map(\.source) == ["file:/x", "nats:S/C"])
        #expect(throws: (any Error).self) { try SourcePosition(decoding: [1, 9, 0]) }
    }
}
