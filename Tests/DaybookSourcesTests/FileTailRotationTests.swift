import DaybookCore
import DaybookEngine
import DaybookSources
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Synchronization
import Testing

/// `FileTail`'s rotation by rename, in process, with the writer held so that the tail is stopped
/// at a chosen point: what the producer wrote to the old file before renaming it is never lost,
/// however long the tail was away from the file.
@Suite("File tail rotation", .serialized, .watchdog(seconds: 600))
struct FileTailRotationTests {
    static let now = Timestamp(day: Day(parsing: "2026-10-25")!)

    /// The tail blocks in a flush (two batches in flight, the writer busy) right after a read found
    /// the end of the old file. Meanwhile the producer appends to the old file, renames it and
    /// starts the new one. When the tail goes on, the old file has been quiet for longer than the
    /// rotation pause and a new file is under the path, yet its last lines were never read: they
    /// must be read before the old file is finished. (This lost a run of lines in the killed-tail
    /// CLI test under the full suite's load, where commits took hundreds of milliseconds.)
    @Test func linesWrittenToTheOldFileWhileTheTailWaitsOnACommitAreRead() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/daybook-rotation-\(UUID().uuidString)"
        let store = directory + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try Writer(path: store, durable: false)
        defer { writer.close() }
        _ = try writer.perform { engine in try engine.applyCatalog(ExampleCatalog.bytes, now: Self.now) }
        let lines = (0..<50).map { i in
            #"{"transaction_id":"rot-\#(i)","customer_id":"globex","event_type":"inference","timestamp":"2026-10-20T10:00:00Z","properties":{"region":"us","model":"model-a","tokens":\#(i + 1)}}"#
        }
        let path = directory + "/usage.ndjson"
        func append(_ file: String, _ part: ArraySlice<String>) throws {
            let handle = try #require(FileHandle(forWritingAtPath: file))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(part.map { $0 + "\n" }.joined().utf8))
            try handle.close()
        }
        func outcomes() throws -> UInt64 {
            let c = try writer.perform { engine in try engine.stats().counters }
            return c.events + c.duplicates + c.deadLetters
        }
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        try append(path, lines[0..<10])

        var settings = FileTail.Settings()
        settings.batchSize = 1000
        settings.window = .milliseconds(1)
        settings.rotationQuiet = .zero  // the old file counts as quiet as soon as the tail looks
        settings.inFlight = 2
        let tail = FileTail(path: path, settings: settings, clock: { Self.now })
        let running = Background { () -> Data in
            do { try tail.run(into: writer) } catch { return Data("\(error)".utf8) }
            return Data()
        }
        defer { tail.stop() }
        try #require(waitUntil(seconds: 30) { (try? outcomes()) == 10 }, "the first lines are stored")

        // Hold the writer thread; the tail's next two batches queue behind it, and the second's
        // flush blocks the tail (two in flight), right after its read found the end of the file.
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let held = Background { () -> Data in
            _ = try? writer.perform { _ in
                entered.signal()
                release.wait()
            }
            return Data()
        }
        try #require(entered.wait(timeout: .now() + 30) == .success, "the writer is held")
        var released = false
        defer { if !released { release.signal() } }
        try append(path, lines[10..<20])
        try #require(waitUntil(seconds: 30) { writer.queuedAndPrepared >= 1 }, "the second batch is submitted")
        try append(path, lines[20..<30])
        try #require(
            waitUntil(seconds: 30) { writer.queuedAndPrepared >= 2 }, "the third batch is submitted: the tail waits")

        // The producer finishes the old file, renames it and starts the new one.
        try append(path, lines[30..<40])
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        try append(path, lines[40..<50])
        release.signal()
        released = true
        #expect(held.wait().isEmpty)

        let all = waitUntil(seconds: 30) { (try? outcomes()) == 50 }
        let stored = try outcomes()
        tail.stop()
        #expect(running.wait().isEmpty, "the tail ends without an error")
        #expect(all, "every line of both files is stored once: \(stored) of 50")
        let c = try writer.perform { engine in try engine.stats().counters }
        #expect(c.events == 50 && c.duplicates == 0 && c.deadLetters == 0, "\(c)")
    }
}
