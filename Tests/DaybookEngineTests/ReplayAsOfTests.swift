import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import Foundation
import LMDB
import Testing

/// `replay --into DIR [--as-of-seq N | --as-of TIME]` (SPEC §6, issue 10): the journal's writes run
/// again give the state as it was known then.
@Suite struct ReplayAsOfTests {
    /// A random history (late events, duplicates, catalog changes, finalizations by the clock and
    /// by `finalize --through`), then:
    /// - a replay to the seq of each finalization holds exactly the snapshots taken by then, each
    ///   byte for byte as the live store holds it;
    /// - a replay to the end exports byte-identical files and the same discrepancies (with their
    ///   seqs and clocks) as the live store, and verifies;
    /// - a replay to a seq before a catalog change is billed with the older version: its export
    ///   equals the reference recompute (``ReferenceBilling``) of the events up to that seq under
    ///   that older catalog.
    @Test(arguments: [3, 11, 29, 47])
    func replayAsOfReproducesSnapshotsTheEndAndOlderCatalogs(seed: Int) throws {
        let history = RandomHistory(seed: UInt64(seed), batches: 8...12)
        let live = try TemporaryStore()
        var catalogs: [(version: UInt32, afterSeq: UInt64, catalog: Catalog)] = []
        var now = Timestamp(seconds: 0)
        for (index, step) in history.steps.enumerated() {
            switch step {
            case .catalog(let model, _, let at):
                let change = try live.engine.applyCatalog(model.bytes, now: at)
                catalogs.append((change.version, try lastSeq(live.path), try Catalog.parse(model.bytes)))
                now = at
            case .ingest(let lines, let at):
                _ = try live.engine.ingest(IngestRecord.lines(lines), source: "replay-test", now: at)
                now = at
                if index % 4 == 3 {  // now and then an explicit finalize of what ended a week ago
                    try live.engine.finalize(now: at, through: at.day.adding(days: -7))
                }
            }
        }
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let snapshots = try storedSnapshots(live.path)
        #expect(snapshots.count >= 2, "seed \(seed): the history finalizes invoices (\(snapshots.count))")

        // Each finalization point.
        for seq in Set(snapshots.values.map(\.seq)).sorted() {
            let dir = scratch.path + "/at-\(seq)"
            let summary = try live.engine.replay(into: dir, asOf: .seq(seq))
            #expect(summary.lastSeq == seq)
            let replayed = try storedSnapshots(dir)
            let expected = snapshots.filter { $0.value.seq <= seq }
            let ids = { (s: [[UInt8]: (seq: UInt64, bytes: [UInt8])]) in
                Set(s.values.map { (try? Snapshot(decoding: $0.bytes).invoiceID) ?? "?" })
            }
            #expect(ids(replayed) == ids(expected), "seed \(seed) seq \(seq): the invoices finalized by then, no more, no fewer")
            for (key, snapshot) in expected {
                let same = replayed[key]?.bytes == snapshot.bytes
                #expect(same, "seed \(seed) seq \(seq): snapshot of \(ids([key: snapshot])) reproduced exactly")
            }
        }

        // The end.
        let end = scratch.path + "/end"
        _ = try live.engine.replay(into: end)
        let replayedEngine = try Engine(path: end, access: .read)
        for asOf in [now.day, now.day.adding(days: -30), now.day.adding(days: 40)] {
            #expect(
                csv(try replayedEngine.export(asOf: asOf)) == csv(try live.engine.export(asOf: asOf)),
                "seed \(seed): export as of \(asOf) of the replay equals the live one")
        }
        #expect(
            replayedEngine.discrepanciesJSON(try replayedEngine.discrepancies())
                == live.engine.discrepanciesJSON(try live.engine.discrepancies()),
            "seed \(seed): drift as the live store has it, seqs and clocks included")
        #expect(try replayedEngine.verify() == [])

        // Before each catalog change (after the first events).
        let events = try loggedEvents(live.path)
        for (i, c) in catalogs.enumerated() where i > 0 && c.afterSeq > 0 {
            let dir = scratch.path + "/before-v\(c.version)"
            let summary = try live.engine.replay(into: dir, asOf: .seq(c.afterSeq - 1))
            #expect(summary.catalogVersion == catalogs[i - 1].version, "seed \(seed): the older version is in force")
            let older = try Engine(path: dir, access: .read)
            let day = older.export(asOfLastEventDay: events, upTo: c.afterSeq - 1)
            let problems = try compare(
                older, catalogs[i - 1].catalog, events.filter { $0.seq < c.afterSeq }.map(\.event),
                asOf: day, now: now)
            #expect(problems.isEmpty, "seed \(seed) before v\(c.version): \(problems.prefix(3))")
        }
    }

    /// A replay that did not finish (its marker left, as a kill mid-replay leaves it) is refused by
    /// every verb that opens the store, with a message saying to run it again.
    @Test func anUnfinishedReplayIsRefused() throws {
        let live = try TemporaryStore()
        let history = RandomHistory(seed: 5)
        for step in history.steps {
            switch step {
            case .catalog(let model, _, let at): try live.engine.applyCatalog(model.bytes, now: at)
            case .ingest(let lines, let at): _ = try live.engine.ingest(IngestRecord.lines(lines), source: "t", now: at)
            }
        }
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let dir = scratch.path + "/r"
        _ = try live.engine.replay(into: dir)
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + Store.incompleteMarker), "a finished replay is unmarked")
        _ = try Engine(path: dir, access: .read)
        FileManager.default.createFile(atPath: dir + "/" + Store.incompleteMarker, contents: Data())
        for access in [StoreAccess.read, .write] {
            #expect {
                _ = try Engine(path: dir, access: access)
            } throws: { error in
                (error as? StoreError)?.kind == .incompleteReplay && "\(error)".contains("run `daybook replay")
            }
        }
        // Into a directory that holds something: refused, nothing written.
        #expect(throws: (any Error).self) { _ = try live.engine.replay(into: dir) }
    }

    /// `--as-of TIME`: the writes made at or before the time; a time between two batches gives the
    /// same store as the seq the first of them ended at.
    @Test func replayAsOfTimeStopsAtTheFirstWriteAfterIt() throws {
        let live = try TemporaryStore()
        let history = RandomHistory(seed: 9)
        var cut: (time: Timestamp, seq: UInt64)?
        var ingests = 0
        for step in history.steps {
            switch step {
            case .catalog(let model, _, let at): try live.engine.applyCatalog(model.bytes, now: at)
            case .ingest(let lines, let at):
                // The cut: one second after the third batch; the next write is days later.
                if ingests == 3 { cut = (at.adding(seconds: -1), try lastSeq(live.path)) }
                _ = try live.engine.ingest(IngestRecord.lines(lines), source: "t", now: at)
                ingests += 1
            }
        }
        let cutAt = try #require(cut)
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let byTime = try live.engine.replay(into: scratch.path + "/t", asOf: .time(cutAt.time))
        let bySeq = try live.engine.replay(into: scratch.path + "/s", asOf: .seq(cutAt.seq))
        #expect(byTime.lastSeq == cutAt.seq)
        let a = try Engine(path: scratch.path + "/t", access: .read)
        let b = try Engine(path: scratch.path + "/s", access: .read)
        let day = cutAt.time.day
        #expect(csv(try a.export(asOf: day)) == csv(try b.export(asOf: day)))
        #expect(try storedSnapshots(scratch.path + "/t").mapValues(\.bytes) == storedSnapshots(scratch.path + "/s").mapValues(\.bytes))
    }
}

// MARK: - Reading stores directly

private func lastSeq(_ path: String) throws -> UInt64 {
    let store = try Store(path: path, access: .read)
    return try store.env.read { txn in try EngineState.load(store, txn).lastSeq }
}

private func storedSnapshots(_ path: String) throws -> [[UInt8]: (seq: UInt64, bytes: [UInt8])] {
    let store = try Store(path: path, access: .read)
    var out: [[UInt8]: (seq: UInt64, bytes: [UInt8])] = [:]
    try store.env.read { txn in
        try txn.scan(in: store.snapshots) { key, value in
            out[key] = (try Snapshot(decoding: value).seq, value)
            return true
        }
    }
    return out
}

private func loggedEvents(_ path: String) throws -> [(seq: UInt64, event: UsageEvent)] {
    let store = try Store(path: path, access: .read)
    var out: [(seq: UInt64, event: UsageEvent)] = []
    try store.env.read { txn in
        try txn.scan(in: store.log) { key, value in
            let seq = Keys.readSeq(key)
            out.append((seq, try LoggedEvent(seq: seq, decoding: value).event()))
            return true
        }
    }
    return out
}

extension Engine {
    /// The day after the latest event up to `seq`: an as-of date that covers every such event.
    fileprivate func export(asOfLastEventDay events: [(seq: UInt64, event: UsageEvent)], upTo seq: UInt64) -> Day {
        (events.filter { $0.seq <= seq }.map(\.event.day).max() ?? Day(year: 2026, month: 1, day: 1)!).adding(days: 1)
    }
}

/// A temporary directory removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/daybook-replay-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
