import DaybookCluster
import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookWorkload
import Foundation
import Testing

/// `SnapshotStore` (docs/scale-out.md §4): partition snapshots under a shared `--snapshot-dir`,
/// written whole or not at all, the newest two kept, restored only over an older store.
@Suite("Partition snapshots")
struct SnapshotTests {
    static let source = "nats:DAYBOOK_P07/daybook"
    static let now = Timestamp(day: Day(parsing: "2026-09-01")!)

    /// A temporary directory holding the partition's store (`data/p07`) and the snapshot root.
    final class Workspace {
        let path: String
        init() throws {
            path =
                FileManager.default.temporaryDirectory.appendingPathComponent("daybook-snap-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var snapshots: SnapshotStore { SnapshotStore(root: path + "/snapshots") }
        func store(_ name: String) -> String { path + "/" + name + "/" + Partitioning.directoryName(partition: 7) }
        func names(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        }
    }

    /// September's days of usage, one stream message per line: day `i`'s lines are the messages
    /// after ``sequence(through:)`` of day `i - 1`.
    static let days: [(day: Day, lines: [String])] = {
        var generator = WorkloadGenerator(start: Day(parsing: "2026-09-01")!)
        generator.days = 12
        generator.eventsPerDay = 8
        generator.seed = 7
        generator.customers = ["acme", "globex"]
        return generator.arrivals()
    }()

    static func sequence(through day: Int) -> UInt64 { UInt64(days[...day].reduce(0) { $0 + $1.lines.count }) }

    /// The batch of day `i` as the JetStream tail submits it: its checkpoint is the stream sequence
    /// of its last message.
    static func batch(_ i: Int) -> IngestBatch {
        let first = i == 0 ? 0 : sequence(through: i - 1)
        let records = days[i].lines.enumerated().map {
            IngestRecord(bytes: Array($1.utf8), position: "stream seq \(first + UInt64($0) + 1)")
        }
        return IngestBatch(
            records: records, source: source, now: Timestamp(day: days[i].day.adding(days: 1)),
            checkpoint: SourcePosition(place: .stream(sequence: sequence(through: i)), lag: 0).checkpoint(
                source: source))
    }

    /// A store at `path` given the catalog and days `range`.
    static func feed(_ path: String, _ range: Range<Int>, catalog: Bool = true) throws {
        let engine = try Engine(path: path)
        if catalog { try engine.applyCatalog(ExampleCatalog.bytes, now: now) }
        for i in range {
            let b = batch(i)
            _ = try engine.ingest(b.records, source: b.source, now: b.now, checkpoint: b.checkpoint)
        }
    }

    static func hash(_ path: String) throws -> String { try Engine(path: path, access: .read).stateHash() }

    /// Saves through the partition's `Writer` (as the node runtime will): two saves at two
    /// checkpoints are two snapshots, a save at a checkpoint that has one writes nothing, a third
    /// checkpoint removes the oldest; newest is the highest checkpoint; nothing else is left behind.
    @Test func savesKeepTheNewestTwo() throws {
        let workspace = try Workspace()
        let snapshots = workspace.snapshots
        let writer = try Writer(path: workspace.store("live"))
        defer { writer.close() }
        try writer.perform { try $0.applyCatalog(ExampleCatalog.bytes, now: Self.now) }
        var saved: [PartitionSnapshot] = []
        for (round, days) in [0..<3, 3..<6, 6..<9].enumerated() {
            for i in days { _ = try writer.submitAndWait(Self.batch(i)) }
            let snapshot = try writer.perform { try snapshots.save($0, partition: 7, source: Self.source) }
            #expect(snapshot.checkpoint == Self.sequence(through: days.upperBound - 1))
            #expect(snapshot.partition == 7)
            #expect(snapshot.path == snapshots.path(partition: 7, checkpoint: snapshot.checkpoint))
            #expect(workspace.names(snapshot.path) == ["data.mdb"], "a snapshot is its data.mdb only")
            saved.append(snapshot)
            if round == 1 {
                // Nothing new: the same snapshot, nothing written.
                let again = try writer.perform { try snapshots.save($0, partition: 7, source: Self.source) }
                #expect(again == snapshot)
                #expect(try snapshots.snapshots(partition: 7) == [saved[1], saved[0]])
            }
        }
        #expect(try snapshots.snapshots(partition: 7) == [saved[2], saved[1]])
        #expect(try snapshots.newest(partition: 7) == saved[2])
        #expect(!FileManager.default.fileExists(atPath: saved[0].path))
        let directory = snapshots.directory(partition: 7)
        #expect(directory.hasSuffix("/snapshots/p07"))
        #expect(workspace.names(directory) == [saved[1], saved[2]].map { ($0.path as NSString).lastPathComponent })
        #expect(workspace.names(directory).allSatisfy { $0.count == 20 })
        #expect(try snapshots.newest(partition: 8) == nil)
    }

    /// A restore into a directory without a store gives it the newest snapshot: its state hash is
    /// the source's when the snapshot was taken (the source went on meanwhile), its checkpoint the
    /// snapshot's; given the later messages it equals the source again.
    @Test func restoreIntoNoStoreGivesTheSnapshotsState() throws {
        let workspace = try Workspace()
        let snapshots = workspace.snapshots
        let live = workspace.store("live")
        try Self.feed(live, 0..<5)
        let atSnapshot: String
        do {
            let engine = try Engine(path: live)
            let snapshot = try snapshots.save(engine, partition: 7, source: Self.source)
            #expect(snapshot.checkpoint == Self.sequence(through: 4))
            atSnapshot = try engine.stateHash()
            for i in 5..<8 {
                let b = Self.batch(i)
                _ = try engine.ingest(b.records, source: b.source, now: b.now, checkpoint: b.checkpoint)
            }
            #expect(try engine.stateHash() != atSnapshot)
        }
        // A missing directory, and an empty one.
        let missing = workspace.store("missing"), empty = workspace.store("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for target in [missing, empty] {
            #expect(
                try snapshots.restore(partition: 7, into: target, source: Self.source)
                    == .restored(checkpoint: Self.sequence(through: 4)))
            #expect(try Self.hash(target) == atSnapshot)
            #expect(try SnapshotStore.storeCheckpoint(at: target, source: Self.source) == Self.sequence(through: 4))
            #expect(workspace.names((target as NSString).deletingLastPathComponent) == ["p07"], "no restore leftovers")
        }
        do {
            let engine = try Engine(path: missing)
            for i in 5..<8 {
                let b = Self.batch(i)
                _ = try engine.ingest(b.records, source: b.source, now: b.now, checkpoint: b.checkpoint)
            }
        }
        #expect(try Self.hash(missing) == Self.hash(live))
    }

    /// A local store at or past the newest snapshot is kept as it is; one behind it is replaced
    /// (and nothing of the old one is left beside it).
    @Test func restoreReplacesOnlyAnOlderLocalStore() throws {
        let workspace = try Workspace()
        let snapshots = workspace.snapshots
        let live = workspace.store("live")
        try Self.feed(live, 0..<6)
        try snapshots.save(Engine(path: live), partition: 7, source: Self.source)
        let snapshot = try #require(try snapshots.newest(partition: 7))

        let ahead = workspace.store("ahead")
        try Self.feed(ahead, 0..<8)
        let aheadHash = try Self.hash(ahead)
        #expect(
            try snapshots.restore(partition: 7, into: ahead, source: Self.source)
                == .keptLocal(checkpoint: Self.sequence(through: 7)))
        #expect(try Self.hash(ahead) == aheadHash)

        let same = workspace.store("same")
        try Self.feed(same, 0..<6)
        #expect(
            try snapshots.restore(partition: 7, into: same, source: Self.source)
                == .keptLocal(checkpoint: snapshot.checkpoint))

        let behind = workspace.store("behind")
        try Self.feed(behind, 0..<2)
        #expect(try Self.hash(behind) != Self.hash(live))
        #expect(
            try snapshots.restore(partition: 7, into: behind, source: Self.source)
                == .restored(checkpoint: snapshot.checkpoint))
        #expect(try Self.hash(behind) == Self.hash(live))
        #expect(workspace.names(workspace.path + "/behind") == ["p07"], "no restore leftovers beside the store")

        // No snapshot at all: the local store is kept, and without one there is nothing to do.
        let none = SnapshotStore(root: workspace.path + "/no-snapshots")
        #expect(
            try none.restore(partition: 7, into: behind, source: Self.source)
                == .keptLocal(checkpoint: snapshot.checkpoint))
        #expect(
            try none.restore(partition: 7, into: workspace.store("nothing"), source: Self.source) == .nothingToRestore)
        #expect(!FileManager.default.fileExists(atPath: workspace.store("nothing")))
    }

    /// Temporaries (a save in progress or crashed), and names not of the layout, are not
    /// snapshots; a temporary unwritten for over an hour is removed by the next save; leftovers of
    /// a crashed restore are removed by the next restore.
    @Test func leftoversAreIgnoredAndCleanedUp() throws {
        let workspace = try Workspace()
        let snapshots = workspace.snapshots
        let live = workspace.store("live")
        try Self.feed(live, 0..<3)
        try snapshots.save(Engine(path: live), partition: 7, source: Self.source)
        let real = try #require(try snapshots.newest(partition: 7))
        let directory = snapshots.directory(partition: 7)
        let fm = FileManager.default
        let fresh = directory + "/.tmp-1-fresh", stale = directory + "/.tmp-2-stale"
        for path in [
            fresh, stale, directory + "/99999999999999999999", directory + "/00000000000000099999", directory + "/123",
        ] {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        // A temporary with a whole data.mdb whose name would sort first; an empty 20-digit directory.
        try fm.copyItem(atPath: real.path + "/data.mdb", toPath: fresh + "/data.mdb")
        try fm.copyItem(atPath: real.path + "/data.mdb", toPath: stale + "/data.mdb")
        try Data().write(to: URL(fileURLWithPath: directory + "/00000000000000000001"))
        #expect(try snapshots.snapshots(partition: 7) == [real])
        #expect(try snapshots.newest(partition: 7) == real)

        let old = Date(timeIntervalSinceNow: -2 * 3600)
        for path in [stale, stale + "/data.mdb"] { try fm.setAttributes([.modificationDate: old], ofItemAtPath: path) }
        try Self.feed(live, 3..<4, catalog: false)
        let next = try snapshots.save(Engine(path: live), partition: 7, source: Self.source)
        #expect(next.checkpoint == Self.sequence(through: 3))
        #expect(!fm.fileExists(atPath: stale), "a stale temporary is removed")
        #expect(fm.fileExists(atPath: fresh), "a recent one may be a save in progress")
        #expect(try snapshots.snapshots(partition: 7) == [next, real])

        // A crashed restore's copy and moved-aside store beside the target.
        let target = workspace.store("restore")
        let parent = (target as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: parent + "/.p07.restoring-x", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: parent + "/.p07.replaced-y", withIntermediateDirectories: true)
        #expect(
            try snapshots.restore(partition: 7, into: target, source: Self.source)
                == .restored(checkpoint: next.checkpoint))
        #expect(workspace.names(parent) == ["p07"])
    }

    /// A store that cannot be the partition's (events without its checkpoint; files but no store)
    /// is neither snapshotted nor replaced.
    @Test func aStoreWithoutThePartitionsCheckpointIsRefused() throws {
        let workspace = try Workspace()
        let snapshots = workspace.snapshots
        let live = workspace.store("live")
        try Self.feed(live, 0..<3)
        try snapshots.save(Engine(path: live), partition: 7, source: Self.source)

        let other = workspace.store("other")
        do {
            let engine = try Engine(path: other)
            try engine.applyCatalog(ExampleCatalog.bytes, now: Self.now)
            _ = try engine.ingest(Self.batch(0).records, source: "file:events.ndjson", now: Self.batch(0).now)
            let error = #expect(throws: ClusterError.self) {
                try snapshots.save(engine, partition: 7, source: Self.source)
            }
            #expect(
                error?.description.contains("events but no checkpoint of that source") == true,
                "\(String(describing: error))")
        }
        let hash = try Self.hash(other)
        #expect(throws: ClusterError.self) { try snapshots.restore(partition: 7, into: other, source: Self.source) }
        #expect(try Self.hash(other) == hash, "left as it was")

        let files = workspace.store("files")
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: files + "/notes.txt"))
        #expect(throws: ClusterError.self) { try snapshots.restore(partition: 7, into: files, source: Self.source) }
        #expect(FileManager.default.fileExists(atPath: files + "/notes.txt"))
        #expect(try snapshots.snapshots(partition: 7).count == 1)
    }

    @Test func partitionDirectoriesHaveTwoDigitsAtLeast() {
        #expect(
            [0, 7, 10, 31, 123].map { Partitioning.directoryName(partition: $0) } == [
                "p00", "p07", "p10", "p31", "p123",
            ])
        #expect(SnapshotStore(root: "/s").path(partition: 7, checkpoint: 1234) == "/s/p07/00000000000000001234")
        #expect(SnapshotStore(root: "/s").path(partition: 7, checkpoint: .max) == "/s/p07/18446744073709551615")
    }
}

/// `ReplayHorizon.check`: a partition resumes only when its stream still holds checkpoint + 1.
@Suite("Replay horizon")
struct ReplayHorizonCheckTests {
    @Test(
        arguments: [
            // (checkpoint, first, last)
            (0, 0, 0),  // a new, empty stream, a new store
            (0, 1, 20), (5, 1, 20), (20, 1, 20),  // everything still there
            (10, 11, 20), (15, 11, 20), (20, 11, 20),  // retention removed what the store had
            (20, 21, 20),  // purged after the store took everything: nothing to replay
        ] as [(UInt64, UInt64, UInt64)])
    func passes(checkpoint: UInt64, first: UInt64, last: UInt64) throws {
        try ReplayHorizon.check(partition: 7, checkpoint: checkpoint, firstSequence: first, lastSequence: last)
    }

    @Test(arguments: [(0, 11, 20), (5, 11, 20), (9, 11, 20), (3, 21, 20)] as [(UInt64, UInt64, UInt64)])
    func refusesAGap(checkpoint: UInt64, first: UInt64, last: UInt64) {
        #expect(throws: ClusterError.replayGap(partition: 7, checkpoint: checkpoint, firstSequence: first)) {
            try ReplayHorizon.check(partition: 7, checkpoint: checkpoint, firstSequence: first, lastSequence: last)
        }
    }

    @Test(arguments: [(21, 11, 20), (1, 0, 0), (30, 21, 20), (UInt64.max, 1, 20)] as [(UInt64, UInt64, UInt64)])
    func refusesAStoreAheadOfItsStream(checkpoint: UInt64, first: UInt64, last: UInt64) {
        #expect(throws: ClusterError.storeAheadOfStream(partition: 7, checkpoint: checkpoint, lastSequence: last)) {
            try ReplayHorizon.check(partition: 7, checkpoint: checkpoint, firstSequence: first, lastSequence: last)
        }
    }

    @Test func theMessagesSayWhatHappenedAndWhatToDo() {
        let gap = ClusterError.replayGap(partition: 7, checkpoint: 5, firstSequence: 11).description
        for part in [
            "partition 7", "stream seq 5", "DAYBOOK_P07", "starts at seq 11", "6 to 10", "checkpoint ≥ 10", "retention",
            "nothing is skipped",
        ] {
            #expect(gap.contains(part), "\(part): \(gap)")
        }
        let ahead = ClusterError.storeAheadOfStream(partition: 7, checkpoint: 25, lastSequence: 20).description
        for part in ["partition 7", "stream seq 25", "ends at seq 20", "recreated or purged"] {
            #expect(ahead.contains(part), "\(part): \(ahead)")
        }
    }
}
