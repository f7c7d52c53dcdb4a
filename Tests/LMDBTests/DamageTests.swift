import Foundation
import LMDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Opening damaged or read-only environments (issue 8).
@Suite struct DamageTests {
    /// Writes 400 values of 1 KiB into "main" of a new environment at `path` and closes it.
    func fill(_ path: String) throws {
        let env = try Environment.open(path: path, options: .init(mapSize: 1 << 24))
        let db = try env.database("main")
        try env.write { txn in
            for n in 0..<400 { try txn.put(key(UInt64(n)), [UInt8](repeating: UInt8(n % 251), count: 1024), in: db) }
        }
    }

    /// A data.mdb cut below the pages its meta page claims: opening throws `.corrupted` naming the
    /// sizes (it used to open, and the first read past the end of the file was SIGBUS).
    @Test func truncatedDataFileIsRefusedAtOpen() throws {
        try withTemporaryDirectory { path throws in
            try fill(path)
            let file = path + "/data.mdb"
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(truncate(file, off_t(size / 2)) == 0)
            for readOnly in [false, true] {
                #expect {
                    _ = try Environment.open(path: path, readOnly: readOnly)
                } throws: { error in
                    guard let e = error as? LMDBError else { return false }
                    return e.code == .corrupted && e.code.indicatesDamage
                        && e.reason.contains("data.mdb is \(size / 2) bytes, but its meta page says")
                }
            }
        }
    }

    /// Read-only: nothing is created (no directory, no data.mdb), writes throw, reads work.
    @Test func readOnlyEnvironmentCreatesNothingAndRefusesWrites() throws {
        try withTemporaryDirectory { path throws in
            #expect(throws: LMDBError.self) { _ = try Environment.open(path: path, readOnly: true) }
            #expect(!FileManager.default.fileExists(atPath: path))
            try fill(path)
            let env = try Environment.open(path: path, readOnly: true)
            #expect(env.isReadOnly)
            let db = try env.openDatabases(["main"], create: false)[0]
            #expect(try env.read { try $0.count(in: db) } == 400)
            #expect {
                try env.write { txn in try txn.put(bytes("x"), bytes("y"), in: db) }
            } throws: { ($0 as? LMDBError)?.code == .readOnlyTransaction }
            #expect(throws: LMDBError.self) { _ = try env.openDatabases(["other"], create: true) }
            // The read-only instance is not handed out for writing.
            #expect {
                _ = try Environment.open(path: path)
            } throws: { ($0 as? LMDBError)?.code == .readOnlyTransaction }
        }
    }

    /// The page accounting of an intact environment adds up after writes and deletes: 2 meta
    /// pages + the pages of every tree (free list, main, named) + the free pages = pages in use.
    @Test func pageAccountingOfAnIntactEnvironmentAddsUp() throws {
        try withTemporaryDirectory { path throws in
            try fill(path)
            let env = try Environment.open(path: path, options: .init(mapSize: 1 << 24))
            let db = try env.database("main")
            let other = try env.database("other")
            try env.write { txn in
                for n in 0..<200 { try txn.delete(key(UInt64(n * 2)), in: db) }
                try txn.put(bytes("k"), [UInt8](repeating: 7, count: 10_000), in: other)  // overflow pages
            }
            try env.read { txn in
                let pages = try #require(try txn.snapshotPageCount())
                var trees = try txn.freeDatabaseStatistics().pages + txn.mainDatabaseStatistics().pages
                let named = try txn.namedDatabases()
                #expect(named.map(\.name) == ["main", "other"])
                for database in named { trees += try #require(database.statistics).pages }
                #expect(try #require(named.last?.statistics) == (try txn.statistics(of: other)))
                let free = try txn.freePageCount()
                #expect(free > 0)
                #expect(2 + trees + free == pages)
            }
        }
    }
}
