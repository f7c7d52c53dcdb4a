import Foundation
import LMDB
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A small map (64 pages of 4 KiB); the other process grows the store far past it.
private let smallMap = 64 * 1024 * 4

/// The value `lmdb-probe fill` stores under key `n`.
private func probeValue(_ n: Int, _ size: Int) -> [UInt8] { [UInt8](repeating: UInt8(n % 251), count: size) }

/// Tests with a second process: `lmdb-probe` (Tests/Tools/lmdb-probe), always stopped on every path.
@Suite struct TwoProcessTests {
    /// Process B (lmdb-probe fill) grows the map far past the size this process mapped; this process
    /// then reads all of B's data and writes more — adopting the new size on MDB_MAP_RESIZED.
    @Test func mapGrownByAnotherProcessIsAdopted() throws {
        try withTemporaryDirectory { path throws in
            let env = try Environment.open(path: path, options: .init(mapSize: smallMap))
            let db = try env.database("main")
            try env.write { try $0.put(bytes("a-first"), bytes("1"), in: db) }
            #expect(try env.info().mapSize == smallMap)

            let first = try Probe(["fill", path, "0", "3000", "1024", "\(smallMap)"])
            defer { first.stop() }
            #expect(first.exitStatus() == 0, "\(first.transcript)")
            let used = first.line(startingWith: "done ")?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            #expect((used ?? 0) > 8 * smallMap, "\(first.transcript)")  // far beyond this process's map

            // A read first: the transaction begins with MDB_MAP_RESIZED, adopts, and sees everything.
            let (count, sample) = try env.read { txn in
                (try txn.count(in: db), try txn.get(key(2999), in: db))
            }
            #expect(count == 3001)
            #expect(sample == probeValue(2999, 1024))
            #expect(try env.info().mapSize >= used ?? Int.max)
            var mismatches = 0
            try env.read { txn in
                try txn.scan(in: db, from: key(0)) { key, value in
                    guard key.count == 8 else { return true }
                    if value != probeValue(Int([UInt8].readBigEndianUInt64(key, at: 0)), 1024) { mismatches += 1 }
                    return true
                }
            }
            #expect(mismatches == 0)

            // B grows it again; this time a write comes first.
            let second = try Probe(["fill", path, "3000", "3000", "1024", "\(smallMap)"])
            defer { second.stop() }
            #expect(second.exitStatus() == 0, "\(second.transcript)")
            try env.write { try $0.put(bytes("a-second"), bytes("2"), in: db) }
            #expect(try env.entryCount(db) == 6002)
            #expect(try env.read { try $0.get(key(5999), in: db) } == probeValue(5999, 1024))
            #expect(try env.read { try $0.get(bytes("a-first"), in: db) } == bytes("1"))
        }
    }

    @Test func existingDatabasesOpenReadOnlyWhileAnotherProcessHoldsTheWrite() throws {
        try withTemporaryDirectory { path throws in
            let fill = try Probe(["fill", path, "0", "10", "16", "\(1 << 20)"])
            defer { fill.stop() }
            #expect(fill.exitStatus() == 0, "\(fill.transcript)")

            let holder = try Probe(["hold-write", path])
            defer { holder.stop() }
            #expect(holder.line(startingWith: "holding") != nil, "\(holder.transcript)")

            // This process has no cached handle yet: "main" is opened in a read-only transaction.
            let env = try Environment.open(path: path)
            let seen = Mutex<Result<(count: Int, held: [UInt8]?), LMDBError>?>(nil)
            let reading = onThread {
                let result = Result { () throws(LMDBError) -> (count: Int, held: [UInt8]?) in
                    do {
                        let main = try env.openDatabases(["main"], create: false)[0]
                        return try env.read { txn in (try txn.count(in: main), try txn.get(bytes("held"), in: main)) }
                    } catch let error as LMDBError { throw error } catch { fatalError("\(error)") }
                }
                seen.withLock { $0 = result }
            }
            #expect(reading.wait(seconds: 30), "opening to read waited for the other process's write")
            let snapshot = try seen.withLock { $0 }?.get()
            #expect(snapshot?.count == 10)  // the last committed state
            #expect(snapshot?.held == nil)  // not the open transaction's key

            holder.closeInput()
            #expect(holder.line(startingWith: "committed") != nil, "\(holder.transcript)")
            #expect(holder.exitStatus() == 0)
            let main = try env.database("main", create: false)
            #expect(try env.read { try $0.get(bytes("held"), in: main) } == bytes("by-probe"))
            #expect(try env.entryCount(main) == 11)
        }
    }
}

@Suite struct PermissionTests {
    /// As root, file modes never deny access in-process, so a child process drops to uid 65534 first
    /// (`lmdb-probe open-unprivileged`); as another user the modes set here deny it directly.
    @Test func permissionErrorReadsAsOne() throws {
        try withTemporaryDirectory { path throws in
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let store = path + "/store"
            do {
                let env = try Environment.open(path: store)
                let db = try env.database("main")
                try env.write { try $0.put(bytes("k"), bytes("v"), in: db) }
            }
            for file in ["data.mdb", "lock.mdb"] {
                try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: store + "/" + file)
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: store)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: path)
            defer {  // so the temporary directory can be removed by a non-root user too
                for directory in [path, store] {
                    try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
                }
            }
            let canonical = URL(fileURLWithPath: store).resolvingSymlinksInPath().path

            let opening = try Probe(["open-unprivileged", store])
            defer { opening.stop() }
            #expect(opening.exitStatus() == 3, "\(opening.transcript)")
            let openError = opening.line(startingWith: "error ") ?? ""
            #expect(openError.hasPrefix("error \(EACCES) "), "\(opening.transcript)")
            #expect(openError.contains("permission denied: cannot open \(canonical) (mdb_env_open: "))
            #expect(
                openError.contains("check the owner and mode of the store directory and its data.mdb/lock.mdb"))
            #expect(!openError.contains("Environment.write"))

            let creating = try Probe(["open-unprivileged", path + "/new/store"])
            defer { creating.stop() }
            #expect(creating.exitStatus() == 3, "\(creating.transcript)")
            let createError = creating.line(startingWith: "error ") ?? ""
            #expect(createError.contains("permission denied: cannot create \(path)/new (mkdir: "), "\(createError)")
        }
    }
}
