import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Testing

/// `daybook stats --state-hash` as a user runs it: a store copied with `daybook backup` mid-history
/// and given the later events prints the hash of the store it was copied from and of a store
/// that had every event from the start; a store that lacks events prints another.
@Suite("stats --state-hash", .watchdog(seconds: 600))
struct StateHashCLITests {
    @Test func aBackupGivenTheLaterEventsPrintsTheSameHashAsTheStoreRebuiltFromTheStart() throws {
        let cli = try CLI()
        defer { cli.remove() }
        var generator = WorkloadGenerator(start: Day(parsing: "2026-09-01")!)
        generator.days = 14
        generator.eventsPerDay = 10
        generator.seed = 5
        generator.customers = ["acme", "globex"]
        let days = generator.arrivals()
        let catalogNow = Timestamp(day: Day(parsing: "2026-09-01")!)
        func ingest(_ path: String, _ part: ArraySlice<(day: Day, lines: [String])>, catalog: Bool) throws {
            let engine = try Engine(path: path)
            if catalog { try engine.applyCatalog(ExampleCatalog.bytes, now: catalogNow) }
            for (d, lines) in part {
                let records = lines.enumerated().map { IngestRecord(bytes: Array($1.utf8), position: "\(d):\($0)") }
                _ = try engine.ingest(records, source: "stream", now: Timestamp(day: d.adding(days: 1)))
            }
        }
        let source = cli.store, copy = cli.file("copy").path, rebuilt = cli.file("rebuilt").path
        let partial = cli.file("partial").path
        try ingest(source, days[..<8], catalog: true)
        let backup = try CLI.daybook(["backup", "--data", source, "--into", copy])
        #expect(backup.status == 0, "\(backup.stderr)")
        try ingest(source, days[8...], catalog: false)
        try ingest(copy, days[8...], catalog: false)
        try ingest(rebuilt, days[...], catalog: true)
        try ingest(partial, days[..<13], catalog: true)

        func stateHash(_ path: String, _ extra: [String] = []) throws -> String {
            let run = try CLI.daybook(["stats", "--state-hash", "--data", path] + extra)
            #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
            return run.stdout
        }
        let expected = try Engine(path: source, access: .read).stateHash()
        let line = try stateHash(source)
        #expect(line == "state_hash \(expected)\n")
        #expect(expected.utf8.count == 32 && expected.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(try stateHash(copy) == line)
        #expect(try stateHash(rebuilt) == line)
        #expect(try stateHash(partial) != line)
        #expect(try stateHash(copy, ["--format", "json"]) == "{\"state_hash\": \"\(expected)\"}\n")
        #expect(try stateHash(rebuilt, ["--format", "csv"]) == "state_hash\n\(expected)\n")
        let help = try CLI.daybook(["stats", "--help"])
        #expect(help.stdout.contains("--state-hash"))
    }
}
