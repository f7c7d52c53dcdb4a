import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Dispatch
import Foundation
import Testing

/// Batches and group commits are bounded by bytes as well as by records, and one huge line
/// cannot take all memory.
@Suite("Batch bounds")
struct BatchBoundsTests {
    @Test func readerBatchesAreBoundedByBytesAndHoldAtLeastOneRecord() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-bounds-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let line = "{\"pad\": \"" + String(repeating: "x", count: 1 << 20) + "\"}\n"
        try String(repeating: line, count: 10).write(toFile: path, atomically: false, encoding: .utf8)
        let reader = try RecordReader(path: path)
        let first = try #require(try reader.next(1000, maxBytes: 3 << 20 + 100))
        #expect(first.map(\.position) == ["line 1", "line 2", "line 3"])
        // A bound smaller than one record still yields that record alone.
        #expect(try reader.next(1000, maxBytes: 10)?.map(\.position) == ["line 4"])
        #expect(try reader.next(2)?.count == 2)  // the count bound as before
        #expect(try reader.next(1000)?.count == 4)
        #expect(try reader.next(1000) == nil)
    }

    @Test func aLineLongerThanTheReaderKeepsIsCutAndDeadLetteredWithItsWholeLength() throws {
        let length = LineAccumulator.maxLineBytes + 5_000_000
        var lines = LineAccumulator()
        var records: [IngestRecord] = []
        let chunk = Data(repeating: UInt8(ascii: "x"), count: 4 << 20)
        records += lines.feed(Data("{\"transaction_id\": \"huge\", \"pad\": \"".utf8))
        var fed = 35
        while fed + chunk.count < length - 2 {
            records += lines.feed(chunk)
            fed += chunk.count
        }
        records += lines.feed(Data(repeating: UInt8(ascii: "x"), count: length - 2 - fed))
        records += lines.feed(Data("\"}\r\n{\"b\": 2}\n".utf8))
        records += lines.finish()
        try #require(records.count == 2)
        #expect(records[0].position == "line 1")
        #expect(records[0].length == length)
        #expect(records[0].bytes.count == LineAccumulator.maxLineBytes)
        #expect(records[0].bytes.prefix(20) == Array("{\"transaction_id\": \"".utf8)[...])
        #expect(records[1] == IngestRecord(bytes: Array("{\"b\": 2}".utf8), position: "line 2"))

        let store = try TemporaryStore()
        let summary = try store.engine.ingest([records[0]], source: "file:huge", now: WriterTests.now)
        #expect(summary.deadLettered == 1)
        let letter = try #require(try store.engine.deadLetters().first)
        #expect(letter.reason == .limitExceeded)
        #expect(letter.raw.count == LineAccumulator.maxLineBytes)
        #expect(
            letter.message
                == "the record is \(length) bytes; the limit is 2097152 bytes (2 MiB, well above any valid event); the dead letter keeps its first \(LineAccumulator.maxLineBytes) bytes, the whole record is at line 1 of the source"
        )
    }

    @Test func groupCommitIsBoundedByBytes() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: WriterTests.now)
        let batches = (0..<3).map { i in
            IngestBatch(
                records: [WriterTests.event("b\(i)"), WriterTests.event("b\(i)-2")], source: "s", now: WriterTests.now)
        }
        // Room for two of the three batches in one transaction.
        let writer = try Writer(path: store.path, maxGroupBytes: batches[0].bytes + batches[1].bytes)
        defer { writer.close() }
        let (release, _) = WriterTests.holdWriter(writer, until: 3)
        let done = DispatchSemaphore(value: 0)
        for batch in batches { writer.submit(batch) { _ in done.signal() } }
        #expect(waitUntil { writer.queuedAndPrepared == 3 })
        let before = writer.statistics.transactions
        release.signal()
        for _ in batches { done.wait() }
        #expect(writer.statistics.transactions == before + 2)
        #expect(writer.statistics.batches == 3)
        for i in 0..<3 { #expect(try store.engine.isLogged(transactionID: "b\(i)-2")) }
    }
}
