import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Testing

/// `daybook backup` / a partition's snapshot (docs/scale-out.md §4): a copy of one commit that,
/// given the events after it, reaches the same state as the store it was copied from.
@Suite("Backups")
struct BackupTests {
    @Test func aBackupPlusTheLaterEventsEqualsTheStoreAndAStoreRebuiltFromTheStart() throws {
        let source = try TemporaryStore()
        let rebuilt = try TemporaryStore()
        let now = Timestamp(day: Day(parsing: "2026-09-01")!)
        for s in [source, rebuilt] { try s.engine.applyCatalog(ExampleCatalog.bytes, now: now) }
        var generator = WorkloadGenerator(start: Day(parsing: "2026-09-01")!)
        generator.days = 40
        generator.eventsPerDay = 15
        generator.seed = 4
        generator.customers = ["acme", "globex"]
        let days = Array(generator.arrivals())
        func ingest(_ engine: Engine, _ part: ArraySlice<(day: Day, lines: [String])>) throws {
            for (d, lines) in part {
                let records = lines.enumerated().map { IngestRecord(bytes: Array($1.utf8), position: "\(d):\($0)") }
                _ = try engine.ingest(records, source: "stream", now: Timestamp(day: d.adding(days: 1)))
            }
        }
        try ingest(source.engine, days[..<25])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let summary = try source.engine.backup(into: directory.path + "/copy")
        #expect(summary.lastSeq == (try source.engine.stats().lastSeq) && summary.bytes > 0)
        // The source goes on; the copy is the commit it was taken at.
        try ingest(source.engine, days[25...])
        let copy = try Engine(path: directory.path + "/copy")
        #expect(try copy.stats().lastSeq == summary.lastSeq)
        #expect(try StoreCheck.run(path: directory.path + "/copy").isIntact)
        #expect(throws: (any Error).self) { _ = try source.engine.backup(into: directory.path + "/copy") }
        // The copy given the events after it = the source = a store that had every event from the start.
        try ingest(copy, days[25...])
        try ingest(rebuilt.engine, days[...])
        let asOf = Day(parsing: "2026-10-12")!
        let expected = try source.engine.export(asOf: asOf)
        #expect(!expected.lineItems.rows.isEmpty)
        for other in [copy, rebuilt.engine] {
            let export = try other.export(asOf: asOf)
            for (a, b) in zip(export.files, expected.files) { #expect(a.table == b.table, "\(a.name)") }
            #expect(try other.discrepancies() == source.engine.discrepancies())
            #expect(try other.corrections() == source.engine.corrections())
            #expect(try other.verify().isEmpty)
        }
    }
}
