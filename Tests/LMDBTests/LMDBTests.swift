import Foundation
import LMDB
import Synchronization
import Testing

/// Runs body with a fresh directory under the temporary directory, removed afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("LMDBTests-\(UUID().uuidString)", isDirectory: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

/// Runs body with a fresh environment (and a database named "main") in a temporary directory.
func withEnvironment<R>(
    options: EnvironmentOptions = .init(mapSize: 1 << 24),
    _ body: (Environment, Database) throws -> R
) throws -> R {
    try withTemporaryDirectory { path throws in
        let env = try Environment.open(path: path, options: options)
        let db = try env.database("main")
        return try body(env, db)
    }
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

func key(_ value: UInt64) -> [UInt8] {
    var key: [UInt8] = []
    key.appendBigEndian(value)
    return key
}

struct Boom: Error {}

@Suite struct LMDBTests {
    @Test func putGetDeleteRoundTrip() throws {
        try withEnvironment { env, db throws in
            try env.write { txn throws in
                try txn.put(bytes("a"), bytes("alpha"), in: db)
                try txn.put(bytes("b"), bytes("beta"), in: db)
                try txn.put(bytes("a"), bytes("alpha2"), in: db)  // overwrite
            }
            try env.read { txn throws in
                #expect(try txn.get(bytes("a"), in: db) == bytes("alpha2"))
                #expect(try txn.get(bytes("b"), in: db) == bytes("beta"))
                #expect(try txn.get(bytes("zzz"), in: db) == nil)
                #expect(try txn.contains(bytes("b"), in: db))
                #expect(try !txn.contains(bytes("c"), in: db))
                let readOnly = txn.isReadOnly
                #expect(readOnly)
            }
            let deleted = try env.write { txn throws in
                (try txn.delete(bytes("a"), in: db), try txn.delete(bytes("missing"), in: db))
            }
            #expect(deleted == (true, false))
            #expect(try env.read { try $0.get(bytes("a"), in: db) } == nil)
            #expect(try env.entryCount(db) == 1)
        }
    }

    @Test func emptyValueRoundTrips() throws {
        try withEnvironment { env, db throws in
            try env.write { try $0.put(bytes("k"), [], in: db) }
            #expect(try env.read { try $0.get(bytes("k"), in: db) } == [])
        }
    }

    @Test func insertIfAbsentKeepsFirstValue() throws {
        try withEnvironment { env, db throws in
            let results = try env.write { txn throws in
                (
                    try txn.insertIfAbsent(bytes("k"), bytes("first"), in: db),
                    try txn.insertIfAbsent(bytes("k"), bytes("second"), in: db)
                )
            }
            #expect(results == (true, false))
            #expect(try env.read { try $0.get(bytes("k"), in: db) } == bytes("first"))
        }
    }

    @Test func putNoOverwriteAndAppendFlags() throws {
        try withEnvironment { env, db throws in
            try env.write { txn throws in
                try txn.put(key(1), bytes("one"), in: db, flags: .append)
                try txn.put(key(2), bytes("two"), in: db, flags: .append)
            }
            let outOfOrder = #expect(throws: LMDBError.self) {
                try env.write { try $0.put(key(1), bytes("again"), in: db, flags: .append) }
            }
            #expect(outOfOrder?.code == .keyExists)
            let duplicate = #expect(throws: LMDBError.self) {
                try env.write { try $0.put(key(2), bytes("again"), in: db, flags: .noOverwrite) }
            }
            #expect(duplicate?.code == .keyExists)
            #expect(try env.read { try $0.get(key(2), in: db) } == bytes("two"))
        }
    }

    @Test func throwingWriteRollsBack() throws {
        try withEnvironment { env, db throws in
            #expect(throws: Boom.self) {
                try env.write { txn throws in
                    try txn.put(bytes("k"), bytes("v"), in: db)
                    #expect(try txn.get(bytes("k"), in: db) == bytes("v"))  // visible inside
                    throw Boom()
                }
            }
            #expect(try env.read { try $0.get(bytes("k"), in: db) } == nil)
            #expect(try env.entryCount(db) == 0)
        }
    }

    @Test func scratchWriteNeverPersists() throws {
        try withEnvironment { env, db throws in
            try env.write { try $0.put(bytes("kept"), bytes("1"), in: db) }
            let seenInside = try env.scratchWrite { txn throws in
                let readOnly = txn.isReadOnly
                #expect(!readOnly)
                try txn.put(bytes("temp"), bytes("2"), in: db)
                try txn.delete(bytes("kept"), in: db)
                return try txn.count(in: db)
            }
            #expect(seenInside == 1)
            try env.read { txn throws in
                #expect(try txn.get(bytes("temp"), in: db) == nil)
                #expect(try txn.get(bytes("kept"), in: db) == bytes("1"))
            }
        }
    }

    @Test func scanOrdersBigEndianKeysNumerically() throws {
        try withEnvironment { env, db throws in
            try env.write { txn throws in
                for n: UInt64 in [1, 256, 2, 70_000, 3] { try txn.put(key(n), bytes("\(n)"), in: db) }
            }
            var seen: [UInt64] = []
            try env.read { txn throws in
                try txn.scan(in: db) { key, value in
                    seen.append([UInt8].readBigEndianUInt64(key, at: 0))
                    #expect(value == bytes("\(seen.last!)"))
                    return true
                }
            }
            #expect(seen == [1, 2, 3, 256, 70_000])

            var fromTwoFifty: [UInt64] = []
            try env.read { txn throws in
                try txn.scan(in: db, from: key(250)) { key, _ in
                    fromTwoFifty.append([UInt8].readBigEndianUInt64(key, at: 0))
                    return fromTwoFifty.count < 1  // stop after one
                }
            }
            #expect(fromTwoFifty == [256])
        }
    }

    @Test func prefixScanStopsAtPrefixEnd() throws {
        try withEnvironment { env, db throws in
            try env.write { txn throws in
                for k in ["a/1", "b/1", "b/2", "b/3", "ba", "c/1"] { try txn.put(bytes(k), bytes(k), in: db) }
            }
            var seen: [String] = []
            try env.read { txn throws in
                try txn.scan(in: db, prefix: bytes("b/")) { key, _ in
                    seen.append(String(decoding: key, as: UTF8.self))
                    return true
                }
            }
            #expect(seen == ["b/1", "b/2", "b/3"])

            var none: [String] = []
            try env.read { txn throws in
                try txn.scan(in: db, prefix: bytes("zz")) { key, _ in
                    none.append(String(decoding: key, as: UTF8.self))
                    return true
                }
            }
            #expect(none.isEmpty)
        }
    }

    @Test func scanReverse() throws {
        try withEnvironment { env, db throws in
            try env.write { txn throws in
                for n: UInt64 in [10, 20, 30, 40] { try txn.put(key(n), [], in: db) }
            }
            func reverse(from: [UInt8]?) throws -> [UInt64] {
                var seen: [UInt64] = []
                try env.read { txn throws in
                    try txn.scanReverse(in: db, from: from) { key, _ in
                        seen.append([UInt8].readBigEndianUInt64(key, at: 0))
                        return true
                    }
                }
                return seen
            }
            #expect(try reverse(from: nil) == [40, 30, 20, 10])
            #expect(try reverse(from: key(30)) == [30, 20, 10])  // exact key included
            #expect(try reverse(from: key(25)) == [20, 10])  // last key <= 25
            #expect(try reverse(from: key(99)) == [40, 30, 20, 10])
            #expect(try reverse(from: key(5)) == [])
            #expect(try env.read { try $0.last(in: db)?.key } == key(40))
            #expect(try env.read { try $0.first(in: db)?.key } == key(10))
        }
    }

    @Test func firstAndLastOfEmptyDatabaseAreNil() throws {
        try withEnvironment { env, db throws in
            try env.read { txn throws in
                #expect(try txn.first(in: db) == nil)
                #expect(try txn.last(in: db) == nil)
            }
        }
    }

    @Test func cursorSeekNextPrevious() throws {
        try withEnvironment { env, db throws in
            try env.write { txn throws in
                for n: UInt64 in [10, 20, 30] { try txn.put(key(n), bytes("v\(n)"), in: db) }
            }
            try env.read { txn throws in
                try txn.withCursor(in: db) { cursor throws in
                    #expect(try cursor.seek(atLeast: key(15))?.key == key(20))
                    #expect(try cursor.next()?.value == bytes("v30"))
                    #expect(try cursor.next() == nil)
                    #expect(try cursor.seek(exactly: key(20))?.value == bytes("v20"))
                    #expect(try cursor.previous()?.key == key(10))
                    #expect(try cursor.previous() == nil)
                    #expect(try cursor.seek(exactly: key(15)) == nil)
                    #expect(try cursor.seek(atLeast: key(31)) == nil)
                    #expect(try cursor.last()?.key == key(30))
                    #expect(try cursor.first()?.key == key(10))
                }
            }
        }
    }

    @Test func dupSortDatabase() throws {
        try withEnvironment { env, _ throws in
            let index = try env.database("index", dupSort: true)
            #expect(index.isDupSort)
            try env.write { txn throws in
                for value in ["c", "a", "b"] { try txn.put(bytes("k"), bytes(value), in: index) }
                try txn.put(bytes("j"), bytes("x"), in: index)
            }
            var forward: [String] = []
            var backward: [String] = []
            try env.read { txn throws in
                try txn.scan(in: index, prefix: bytes("k")) { _, v in
                    forward.append(String(decoding: v, as: UTF8.self)); return true
                }
                try txn.scanReverse(in: index, from: bytes("k")) { _, v in
                    backward.append(String(decoding: v, as: UTF8.self)); return true
                }
            }
            #expect(forward == ["a", "b", "c"])
            #expect(backward == ["c", "b", "a", "x"])
            #expect(try env.write { try $0.delete(bytes("k"), value: bytes("b"), in: index) })
            #expect(try env.entryCount(index) == 3)
            #expect(throws: LMDBError.self) { try env.database("index", dupSort: false) }
        }
    }

    @Test func databaseHandlesAreCached() throws {
        try withEnvironment { env, db throws in
            #expect(try env.database("main") == db)
            let other = try env.database("other")
            #expect(other != db)
            try env.write { txn throws in
                try txn.put(bytes("k"), bytes("main"), in: db)
                try txn.put(bytes("k"), bytes("other"), in: other)
            }
            #expect(try env.read { try $0.get(bytes("k"), in: other) } == bytes("other"))
        }
    }

    @Test func databaseFromAnotherEnvironmentIsRejected() throws {
        try withEnvironment { _, db throws in
            try withEnvironment { env2, _ throws in
                let error = #expect(throws: LMDBError.self) { try env2.read { try $0.get(bytes("k"), in: db) } }
                #expect(error?.code == .badDatabase)
            }
        }
    }

    @Test func openingSamePathTwiceReturnsSameInstance() throws {
        try withTemporaryDirectory { path throws in
            let first = try Environment.open(path: path)
            let second = try Environment.open(path: path + "/.")  // same directory, different spelling
            #expect(first === second)
            #expect(first.path == second.path)
        }
    }

    @Test func dataSurvivesCloseAndReopen() throws {
        try withTemporaryDirectory { path throws in
            weak var closed: Environment?
            do {
                let env = try Environment.open(path: path)
                closed = env
                let db = try env.database("main")
                try env.write { try $0.put(bytes("durable"), bytes("yes"), in: db) }
            }
            #expect(closed == nil)  // the registry holds only weak references
            let env = try Environment.open(path: path)
            let db = try env.database("main")
            #expect(try env.read { try $0.get(bytes("durable"), in: db) } == bytes("yes"))
        }
    }

    @Test func mapGrowsAcrossManyWrites() throws {
        let initial = 64 * 1024 * 4
        try withEnvironment(options: .init(mapSize: initial)) { env, db throws in
            let value = [UInt8](repeating: 0xAB, count: 1024)
            for batch in 0..<400 {  // about 4 MB in 400 transactions
                try env.write { txn throws in
                    for i in 0..<10 { try txn.put(key(UInt64(batch * 10 + i)), value, in: db) }
                }
            }
            let info = try env.info()
            #expect(info.mapSize > initial)
            #expect(info.usedBytes > 4_000_000)
            #expect(info.usedBytes <= info.mapSize)
            #expect(try env.entryCount(db) == 4000)
            #expect(try env.read { try $0.get(key(3999), in: db) } == value)
        }
    }

    @Test func writeTooBigForTheMapIsRetriedAfterGrowing() throws {
        let initial = 64 * 1024 * 4
        try withEnvironment(options: .init(mapSize: initial)) { env, db throws in
            let value = [UInt8](repeating: 1, count: 1024)
            var attempts = 0
            try env.write { txn throws in
                attempts += 1
                #expect(try txn.count(in: db) == 0)  // each attempt starts afresh: nothing of the last persisted
                for i in 0..<2000 { try txn.put(key(UInt64(i)), value, in: db) }  // ~2 MB in one txn
            }
            #expect(attempts > 1)
            #expect(try env.entryCount(db) == 2000)
            #expect(try env.read { try $0.get(key(1999), in: db) } == value)
            #expect(try env.info().mapSize >= 4 * initial)
        }
    }

    @Test func mapFullIsNoticedEvenWhenTheBodyWrapsTheError() throws {
        let initial = 64 * 1024 * 4
        try withEnvironment(options: .init(mapSize: initial)) { env, db throws in
            let value = [UInt8](repeating: 2, count: 1024)
            var attempts = 0
            try env.write { txn throws in
                attempts += 1
                do {
                    for i in 0..<1000 { try txn.put(key(UInt64(i)), value, in: db) }
                } catch {
                    throw Boom()  // hides the LMDBError; the transaction still recorded MDB_MAP_FULL
                }
            }
            #expect(attempts > 1)
            #expect(try env.entryCount(db) == 1000)
        }
    }

    @Test func writeInReadTransactionThrows() throws {
        try withEnvironment { env, db throws in
            let error = #expect(throws: LMDBError.self) {
                try env.read { try $0.put(bytes("k"), bytes("v"), in: db) }
            }
            #expect(error?.code == .readOnlyTransaction)
            #expect(error?.code != .permissionDenied)
            #expect(error?.operation == "mdb_put")
            #expect(error?.path == env.path)
            #expect(error?.description.contains("cannot write in a read-only transaction") == true)
            #expect(error?.description.contains("use Environment.write for changes") == true)
            #expect(error?.description.contains("permission denied") == false)
            #expect(throws: LMDBError.self) { try env.read { try $0.delete(bytes("k"), in: db) } }
            #expect(throws: LMDBError.self) { try env.read { try $0.deleteAll(in: db) } }
        }
    }

    @Test func nestedWriteThrowsInsteadOfDeadlocking() throws {
        try withEnvironment { env, db throws in
            let error = #expect(throws: LMDBError.self) {
                try env.write { _ in try env.write { try $0.put(bytes("k"), bytes("v"), in: db) } }
            }
            #expect(error?.code == .nestedWrite)
            // A read inside a write is fine and sees the last committed state.
            try env.write { txn throws in
                try txn.put(bytes("k"), bytes("v"), in: db)
                #expect(try env.read { try $0.get(bytes("k"), in: db) } == nil)
            }
        }
    }

    @Test func entryCountAndDeleteAll() throws {
        try withEnvironment { env, db throws in
            #expect(try env.entryCount(db) == 0)
            try env.write { txn in for n: UInt64 in 0..<25 { try txn.put(key(n), [], in: db) } }
            #expect(try env.entryCount(db) == 25)
            try env.write { try $0.deleteAll(in: db) }
            #expect(try env.entryCount(db) == 0)
        }
    }

    @Test func copyMakesUsableBackup() throws {
        try withTemporaryDirectory { backup throws in
            try withEnvironment { env, db throws in
                try env.write { try $0.put(bytes("k"), bytes("v"), in: db) }
                try env.copy(to: backup)
                #expect(throws: LMDBError.self) { try env.copy(to: backup) }  // won't overwrite
            }
            let restored = try Environment.open(path: backup)
            let db = try restored.database("main")
            #expect(try restored.read { try $0.get(bytes("k"), in: db) } == bytes("v"))
        }
    }

    @Test func concurrentReadersAndWritersWithGrowth() throws {
        try withEnvironment(options: .init(mapSize: 64 * 1024 * 4)) { env, db throws in
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                do {
                    for round in 0..<50 {
                        try env.write { txn throws in
                            for i in 0..<10 {
                                try txn.put(
                                    key(UInt64(worker * 10_000 + round * 10 + i)), [UInt8](repeating: 7, count: 512),
                                    in: db)
                            }
                        }
                        _ = try env.read { try $0.count(in: db) }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(try env.entryCount(db) == 2000)
            #expect(try env.info().mapSize > 64 * 1024 * 4)
        }
    }

    @Test func bigEndianEncodingRoundTripsAndSorts() {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt64(0x0102_0304_0506_0708))
        bytes.appendBigEndian(UInt32(0xA0B0_C0D0))
        bytes.appendBigEndian(Int32(-5))
        bytes.appendBigEndian(Int64.min)
        #expect(Array(bytes[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect([UInt8].readBigEndianUInt64(bytes, at: 0) == 0x0102_0304_0506_0708)
        #expect([UInt8].readBigEndianUInt32(bytes, at: 8) == 0xA0B0_C0D0)
        #expect([UInt8].readBigEndianInt32(bytes, at: 12) == -5)
        #expect([UInt8].readBigEndianInt64(bytes, at: 16) == .min)

        let signed: [Int32] = [-300, -1, 0, 1, 256]
        let encoded = signed.map { value -> [UInt8] in
            var b: [UInt8] = []; b.appendBigEndian(value); return b
        }
        #expect(encoded.sorted { $0.lexicographicallyPrecedes($1) } == encoded)
        let unsigned: [UInt64] = [1, 2, 256, 65_536]
        #expect(unsigned.map(key).sorted { $0.lexicographicallyPrecedes($1) } == unsigned.map(key))
    }
}
