import Foundation
import Testing
import TmpfsSupport

@testable import LMDB

#if canImport(Glibc)
    import Glibc
#endif

/// Writes of the store's files that fail in the operating system say what it said, naming the store.
@Suite struct WriteFailureTests {
    @Test(.enabled(if: Tmpfs.available, "needs root to mount a small tmpfs (mount -t tmpfs); run the tests as root"))
    func aWriteOnAFullFileSystemIsDiskFullNamingTheStoreAndSucceedsOnceSpaceIsFreed() throws {
        let fs = try Tmpfs(kibibytes: 1024)
        defer { fs.unmount() }
        let value = [UInt8](repeating: 0x5A, count: 8192)
        do {
            let env = try Environment.open(path: fs.path + "/store", options: .init(mapSize: 1 << 24))
            let db = try env.database("main")
            try env.write { txn in try txn.put(key(0), bytes("kept"), in: db) }
            let filler = try fs.fill()
            let error = try #require(throws: LMDBError.self) {
                try env.write { txn in
                    for i in 1...64 { try txn.put(key(UInt64(i)), value, in: db) }
                }
            }
            #expect(error.code == .diskFull)
            #expect(error.path == env.path)
            #expect(error.description.hasPrefix("disk full writing \(env.path): "), "\(error)")
            #expect(error.description.contains("free space on that file system and retry"), "\(error)")
            // The commit before is intact, and the environment is still usable once space is freed.
            #expect(try env.read { try $0.get(key(0), in: db) } == bytes("kept"))
            #expect(unlink(filler) == 0)
            try env.write { txn in
                for i in 1...64 { try txn.put(key(UInt64(i)), value, in: db) }
            }
            #expect(try env.entryCount(db) == 65)
        }
    }

    @Test func anIOErrorOnAFileSystemWithSpaceIsAnIOErrorNotDiskFull() throws {
        try withTemporaryDirectory { path in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let error = LMDBError(.init(rawValue: EIO), "mdb_txn_commit").classified(writing: path)
            #expect(error.code == .ioError)
            #expect(error.description.hasPrefix("I/O error writing \(path): "), "\(error)")
            let full = LMDBError(.init(rawValue: ENOSPC), "mdb_txn_commit").classified(writing: path)
            #expect(full.code == .diskFull)
            #expect(full.description.hasPrefix("disk full writing \(path): no space left on the device; "), "\(full)")
        }
    }

    @Test func permissionAndReadOnlyErrorsOfAWriteSayTheStoreCannotBeWritten() {
        let readOnly = LMDBError(.readOnlyFileSystem, "mdb_txn_commit", path: "/srv/store")
        #expect(readOnly.description.hasPrefix("read-only file system: cannot write /srv/store (mdb_txn_commit: "))
        let denied = LMDBError(.permissionDenied, "mdb_put", path: "/srv/store")
        #expect(denied.description.hasPrefix("permission denied: cannot write /srv/store (mdb_put: "))
        // Opening still reads as opening.
        let open = LMDBError(.readOnlyFileSystem, "mdb_env_open", path: "/srv/store")
        #expect(open.description.hasPrefix("read-only file system: cannot open /srv/store for writing"))
    }
}

@Suite struct MapReservationTests {
    /// 1 MiB of 1 KiB values (about 2 MiB of pages: three 1 KiB values fit in a 4 KiB page, and
    /// pages split half full). A reservation announces the pages: raw bytes times two.
    private func megabyte(_ txn: borrowing Transaction, _ db: Database, from start: UInt64) throws {
        let value = [UInt8](repeating: 0x33, count: 1024)
        for i in start..<start + 1024 { try txn.put(key(i), value, in: db) }
    }

    @Test func reserveGrowsTheMapBeforeAWriteSoItsBodyRunsOnce() throws {
        try withEnvironment(options: .init(mapSize: 256 << 10)) { env, db in
            let before = try env.info()
            let needed = 2 * (4 << 20)
            let after = try env.reserve(bytes: needed)
            #expect(after.mapSize > before.mapSize)
            #expect((after.usedBytes + needed) * 10 <= after.mapSize * 6, "\(after)")
            #expect(try env.info().mapSize == after.mapSize)
            var runs = 0
            try env.write { txn in
                runs += 1
                for n in 0..<4 { try megabyte(txn, db, from: UInt64(n) * 1024) }
            }
            #expect(runs == 1, "the write ran out of map space and ran again")
            // Enough room already: nothing changes.
            #expect(try env.reserve(bytes: 1024).mapSize == after.mapSize)
        }
    }

    @Test func writeReservingBytesGrowsFirstWhereAPlainWriteRunsOutAndRunsAgain() throws {
        var plainRuns = 0
        try withEnvironment(options: .init(mapSize: 256 << 10)) { env, db in
            try env.write { txn in
                plainRuns += 1
                for n in 0..<4 { try megabyte(txn, db, from: UInt64(n) * 1024) }
            }
        }
        #expect(plainRuns > 1)  // what reserving avoids: MDB_MAP_FULL, grow, run the body again
        try withEnvironment(options: .init(mapSize: 256 << 10)) { env, db in
            var runs = 0
            try env.write(reserving: 2 * (4 << 20)) { txn in
                runs += 1
                for n in 0..<4 { try megabyte(txn, db, from: UInt64(n) * 1024) }
            }
            #expect(runs == 1)
            #expect(try env.entryCount(db) == 4096)
        }
    }

    @Test func reserveInsideAReadOnTheSameThreadSaysWhyItCannotGrow() throws {
        try withEnvironment(options: .init(mapSize: 256 << 10)) { env, _ in
            let error = try env.read { _ in
                try #require(throws: LMDBError.self) { try env.reserve(bytes: 64 << 20) }
            }
            #expect(error.code == .mapFull)
            #expect(error.description.contains("a read transaction open on this thread"), "\(error)")
        }
    }
}
