import Foundation
import LMDB
import Synchronization
import Testing

/// A small map (64 pages of 4 KiB), so a 2 MB transaction does not fit.
private let smallMap = 64 * 1024 * 4

/// The ~2 MB write that does not fit in `smallMap`: keys 0..<2000, 1 KiB values.
private func bigWrite(_ txn: borrowing Transaction, _ db: Database) throws {
    let value = [UInt8](repeating: 0x5A, count: 1024)
    for i in 0..<2000 { try txn.put(key(UInt64(i)), value, in: db) }
}

/// Keeps a read transaction open on its own thread until `release` fires.
private final class Reader: Sendable {
    let inside = Signal()
    let release = Signal()
    let done: Signal

    init(_ env: Environment, _ db: Database) {
        let (inside, release) = (inside, release)
        done = onThread {
            _ = try? env.read { txn in
                _ = try txn.get(bytes("before"), in: db)
                inside.fire()
                _ = release.wait(seconds: 120)
            }
        }
    }

    /// Ends the read and waits for the thread (bounded).
    func end() -> Bool {
        release.fire()
        return done.wait(seconds: 60)
    }
}

@Suite struct OpeningDatabasesTests {
    /// Creates databases "a" and "b" (dupSort) with one entry each, then releases the environment,
    /// so the next `Environment.open` has no cached handles.
    private func makeStore(_ path: String) throws {
        let env = try Environment.open(path: path, options: .init(mapSize: 1 << 22))
        let dbs = try env.openDatabases(["a", "b", "main"], dupSort: ["b"], create: true)
        try env.write { txn in
            try txn.put(bytes("k"), bytes("a-value"), in: dbs[0])
            try txn.put(bytes("k"), bytes("b-value"), in: dbs[1])
        }
    }

    @Test func existingDatabasesOpenReadOnlyWhileAnotherThreadHoldsTheWrite() throws {
        try withTemporaryDirectory { path throws in
            try makeStore(path)
            let env = try Environment.open(path: path, options: .init(mapSize: 1 << 22))
            let main = try env.database("main")
            let holding = Signal(), release = Signal()
            let writer = onThread {
                _ = try? env.write { txn in
                    try txn.put(bytes("k"), bytes("uncommitted"), in: main)
                    holding.fire()
                    _ = release.wait(seconds: 120)
                }
            }
            defer {
                release.fire()
                _ = writer.wait(seconds: 60)
            }
            #expect(holding.wait(seconds: 30))

            // Opening (and reading) on another thread must finish while the write stays open.
            let outcome = Mutex<Result<[[UInt8]?], LMDBError>?>(nil)
            let opened = onThread {
                let result = Result { () throws(LMDBError) -> [[UInt8]?] in
                    do {
                        let dbs = try env.openDatabases(["a", "b"], dupSort: ["b"], create: false)
                        return try env.read { txn in
                            [try txn.get(bytes("k"), in: dbs[0]), try txn.get(bytes("k"), in: dbs[1])]
                        }
                    } catch let error as LMDBError { throw error } catch { fatalError("\(error)") }
                }
                outcome.withLock { $0 = result }
            }
            #expect(opened.wait(seconds: 30), "opening existing databases waited for the writer")
            #expect(try outcome.withLock { $0 }?.get() == [bytes("a-value"), bytes("b-value")])

            // A missing name fails at once, naming the database and the store, without waiting either.
            let missing = #expect(throws: LMDBError.self) {
                try env.openDatabases(["a", "nope"], create: false)
            }
            #expect(missing?.code == .notFound)
            #expect(missing?.path == env.path)
            #expect(
                missing?.description.contains(
                    "database \"nope\" does not exist in \(env.path); the store was not created by this version — run a write first"
                ) == true)

            release.fire()
            #expect(writer.wait(seconds: 30))
            #expect(try env.read { try $0.get(bytes("k"), in: main) } == bytes("uncommitted"))
        }
    }

    @Test func openDatabasesCachesChecksDupSortAndCreates() throws {
        try withTemporaryDirectory { path throws in
            try makeStore(path)
            let env = try Environment.open(path: path)
            let opened = try env.openDatabases(["a", "b"], dupSort: ["b"], create: false)
            #expect(opened.map(\.name) == ["a", "b"])
            #expect(opened.map(\.isDupSort) == [false, true])
            #expect(try env.database("a", create: false) == opened[0])  // cached handle
            #expect(try env.database("b", dupSort: true) == opened[1])

            let wrongFlags = #expect(throws: LMDBError.self) { try env.database("b", dupSort: false) }
            #expect(wrongFlags?.code == .incompatible)
            let fresh = try Environment.open(path: path + "/.")  // same instance, same cache
            #expect(fresh === env)

            let strayDupSort = #expect(throws: LMDBError.self) {
                try env.openDatabases(["a"], dupSort: ["z"], create: false)
            }
            #expect(strayDupSort?.code == .invalidArgument)

            // Nothing is opened when one name is missing; with create, one write adds the missing ones.
            #expect(throws: LMDBError.self) { try env.openDatabases(["c", "d"], create: false) }
            let created = try env.openDatabases(["a", "c", "d"], dupSort: ["d"], create: true)
            #expect(created[0] == opened[0])
            #expect(created[2].isDupSort)
            try env.write { try $0.put(bytes("k"), bytes("c-value"), in: created[1]) }
            #expect(try env.read { try $0.get(bytes("k"), in: created[1]) } == bytes("c-value"))
        }
    }
}

@Suite struct MapGrowthTests {
    @Test func writeWaitsForThisProcessReadersThenGrowsAndRetries() throws {
        try withEnvironment(options: .init(mapSize: smallMap, growthTimeout: .seconds(60))) { env, db throws in
            try env.write { try $0.put(bytes("before"), bytes("kept"), in: db) }
            let reader = Reader(env, db)
            defer { _ = reader.end() }
            #expect(reader.inside.wait(seconds: 30))

            let sawMapFull = Signal()
            let attempts = Atomic<Int>(0)
            let finishedEarly = Atomic<Bool>(false)
            let released = Atomic<Bool>(false)
            let outcome = Mutex<(any Error)?>(nil)
            let writer = onThread {
                do {
                    try env.write { txn in
                        attempts.add(1, ordering: .relaxed)
                        do { try bigWrite(txn, db) } catch let error as LMDBError where error.code == .mapFull {
                            sawMapFull.fire()
                            throw error
                        }
                    }
                    if !released.load(ordering: .relaxed) { finishedEarly.store(true, ordering: .relaxed) }
                } catch {
                    outcome.withLock { $0 = error }
                }
            }
            defer { _ = writer.wait(seconds: 60) }
            #expect(sawMapFull.wait(seconds: 30))
            // The reader is still open, so the map cannot have grown and the write cannot be done.
            #expect(try env.info().mapSize == smallMap)
            released.store(true, ordering: .relaxed)
            #expect(reader.end())
            #expect(writer.wait(seconds: 60), "the write did not finish after the reader ended")
            let failure = outcome.withLock { $0 }
            #expect(failure == nil, "\(String(describing: failure))")
            let (early, tries) = (finishedEarly.load(ordering: .relaxed), attempts.load(ordering: .relaxed))
            #expect(!early)
            #expect(tries > 1)
            #expect(try env.entryCount(db) == 2001)
            #expect(try env.read { try $0.get(bytes("before"), in: db) } == bytes("kept"))
            #expect(try env.read { try $0.get(key(1999), in: db) } == [UInt8](repeating: 0x5A, count: 1024))
            #expect(try env.info().mapSize > smallMap)
        }
    }

    @Test func readerThatOutlastsTheTimeoutGivesAClearErrorAndTheStoreStaysIntact() throws {
        try withEnvironment(options: .init(mapSize: smallMap, growthTimeout: .milliseconds(200))) { env, db throws in
            try env.write { try $0.put(bytes("before"), bytes("kept"), in: db) }
            let before = try env.info()
            let reader = Reader(env, db)
            defer { _ = reader.end() }
            #expect(reader.inside.wait(seconds: 30))

            let error = #expect(throws: LMDBError.self) { try env.write { try bigWrite($0, db) } }
            #expect(error?.code == .mapFull)
            #expect(error?.path == env.path)
            let text = error?.description ?? ""
            #expect(text.contains("the store is full and could not grow"), "\(text)")
            #expect(text.contains("read transactions in this process stayed open for more than 200 ms"), "\(text)")
            #expect(text.contains("map size \(smallMap) bytes, \(before.usedBytes) bytes used"), "\(text)")
            #expect(text.contains("tried to grow the map to \(2 * smallMap) bytes"), "\(text)")
            #expect(text.contains("end long-running read transactions, free disk space, or raise EnvironmentOptions.mapSize"))

            // Intact: the earlier commit is readable (even while the reader stays), nothing else landed.
            #expect(try env.read { try $0.get(bytes("before"), in: db) } == bytes("kept"))
            #expect(try env.entryCount(db) == 1)
            #expect(try env.info().mapSize == smallMap)

            #expect(reader.end())
            try env.write { try bigWrite($0, db) }
            #expect(try env.entryCount(db) == 2001)
            #expect(try env.read { try $0.get(bytes("before"), in: db) } == bytes("kept"))
        }
    }

    @Test func ownReadTransactionIsNeverWaitedFor() throws {
        try withEnvironment(options: .init(mapSize: smallMap, growthTimeout: .seconds(120))) { env, db throws in
            let error = try env.read { _ in
                #expect(throws: LMDBError.self) { try env.write { try bigWrite($0, db) } }
            }
            #expect(error?.code == .mapFull)
            #expect(error?.description.contains("a read transaction open on this thread keeps the map from growing") == true)
            try env.write { try bigWrite($0, db) }  // with the read over, the map grows
            #expect(try env.entryCount(db) == 2000)
        }
    }

    /// `replay --verify` writes its scratch store inside a read of the live store, on one thread:
    /// a read open on one environment neither blocks nor refuses the growth of another's map (the
    /// readers a resize waits for are counted per environment), so the write grows and commits.
    @Test func aReadOnOneEnvironmentDoesNotKeepAnotherFromGrowing() throws {
        try withEnvironment(options: .init(mapSize: smallMap, growthTimeout: .milliseconds(200))) {
            live, liveDB throws in
            try live.write { try $0.put(bytes("before"), bytes("kept"), in: liveDB) }
            try withEnvironment(options: .init(mapSize: smallMap, growthTimeout: .milliseconds(200))) {
                scratch, db throws in
                var attempts = 0
                try live.read { txn in
                    #expect(try txn.get(bytes("before"), in: liveDB) == bytes("kept"))
                    try scratch.write { stxn in
                        attempts += 1
                        try bigWrite(stxn, db)
                    }
                    #expect(try txn.get(bytes("before"), in: liveDB) == bytes("kept"), "the read is still open")
                }
                #expect(attempts > 1, "the write ran out of map space and grew")
                #expect(try scratch.info().mapSize > smallMap)
                #expect(try scratch.entryCount(db) == 2000)
            }
        }
    }
}
