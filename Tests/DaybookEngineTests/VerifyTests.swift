import DaybookCore
import DaybookStore
import DaybookTestSupport
import Foundation
import Testing

@testable import DaybookEngine

/// `replay --verify` compares one consistent snapshot with a rebuild of that snapshot, whatever
/// other writers commit meanwhile (issue 8).
@Suite("Verify")
struct VerifyTests {
    static let now = WriterTests.now
    /// The same contract with the token price doubled: a catalog version that rebuilds it.
    static let doubledPrice = ScenarioTests.catalog(
        rates: """
            {"product": "tok", "unit_price": "0.02"}, {"product": "seat", "unit_price": "1"}
            """)

    /// `count` events named `prefix-i` on days 2026-10-02 … 2026-10-09, tokens 1…count.
    static func batch(_ prefix: String, _ count: Int) -> IngestBatch {
        let records = (0..<count).map { i in
            WriterTests.event("\(prefix)-\(i)", tokens: i + 1, day: "2026-10-0\(2 + i % 8)")
        }
        return IngestBatch(records: records, source: "test", now: now)
    }

    static func stat(_ engine: Engine, _ name: String) throws -> UInt64? {
        try engine.statsFields().first { $0.0 == name }?.1
    }

    /// A new empty directory of the test's own, removed by the caller.
    static func scratchPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("daybook-verify-test-\(UUID().uuidString)").path
    }

    /// Another thread (the `Writer`) commits a batch of events, and a new catalog version, after
    /// verify has read the engine state and again after it has rebuilt from the log: the rebuild
    /// and the comparison are of one snapshot, so no mismatch is reported; and those commits did
    /// land (the store moved while verify ran).
    @Test func verifyWhileAnotherThreadCommitsBetweenItsReadsReportsNoMismatches() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: Self.now)
        let writer = try Writer(path: store.path)
        defer { writer.close() }
        #expect(try writer.submitAndWait(Self.batch("history", 40)).accepted == 40)

        var points: [VerifyPoint] = []
        let scratch = Self.scratchPath()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let mismatches = try store.engine.verify(scratchDirectory: scratch) { point in
            points.append(point)
            // New events on the days the snapshot already has, committed while verify runs.
            let summary = try writer.submitAndWait(Self.batch("during-\(points.count)", 16))
            #expect(summary.accepted == 16)
            if point == .snapshotTaken {
                _ = try writer.perform { engine in try engine.applyCatalog(Self.doubledPrice, now: Self.now) }
            }
        }
        #expect(points == [.snapshotTaken, .rebuilt], "the interleaving ran")
        #expect(mismatches.map(\.description) == [])
        #expect(try Self.stat(store.engine, "last_seq") == 40 + 16 + 16, "the batches committed during verify")
        #expect(try Self.stat(store.engine, "catalog_version") == 2)
        // The store after those commits also equals a rebuild of it (at the new price).
        let after = try store.engine.verify()
        #expect(after.map(\.description) == [])
    }

    /// Another process (here another Engine on the store) applied a catalog version after this
    /// engine loaded its plan: verify rebuilds with the version in its snapshot, not the stale one.
    @Test func verifyRebuildsWithTheCatalogVersionInItsSnapshot() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: Self.now)
        _ = try store.engine.ingest(Self.batch("e", 30).records, source: "test", now: Self.now)
        let other = try Engine(path: store.path)
        let change = try other.applyCatalog(Self.doubledPrice, now: Self.now)
        #expect(change.eventsReread == 30, "the new price rebuilt the contract")
        let mismatches = try store.engine.verify()
        #expect(mismatches.map(\.description) == [])
    }

    /// A directory that is not empty (say, left by an earlier run) is refused, not added to.
    @Test func verifyRefusesAScratchDirectoryThatIsNotEmpty() throws {
        let store = try TemporaryStore()
        try store.engine.applyCatalog(WriterTests.catalog, now: Self.now)
        _ = try store.engine.ingest(Self.batch("e", 10).records, source: "test", now: Self.now)
        let scratch = Self.scratchPath()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        #expect(try store.engine.verify(scratchDirectory: scratch).isEmpty)  // leaves a store there
        let error = #expect(throws: ScratchDirectoryError.self) { try store.engine.verify(scratchDirectory: scratch) }
        #expect(error?.code == .notEmpty)
        #expect(error?.message.contains("\(scratch) is not an empty directory") == true, "\(String(describing: error))")
    }
}
