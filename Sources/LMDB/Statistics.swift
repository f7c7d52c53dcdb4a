internal import CLMDB

/// The B-tree figures LMDB keeps for one database (`mdb_stat`).
public struct DatabaseStatistics: Sendable, Hashable {
    /// Page size in bytes.
    public var pageSize: Int
    /// Depth of the B-tree (0 when empty).
    public var depth: Int
    public var branchPages: Int
    public var leafPages: Int
    public var overflowPages: Int
    /// Key/value pairs.
    public var entries: Int

    /// Every page the database's tree holds.
    public var pages: Int { branchPages + leafPages + overflowPages }

    init(_ stat: MDB_stat) {
        pageSize = Int(stat.ms_psize)
        depth = Int(stat.ms_depth)
        branchPages = Int(clamping: stat.ms_branch_pages)
        leafPages = Int(clamping: stat.ms_leaf_pages)
        overflowPages = Int(clamping: stat.ms_overflow_pages)
        entries = Int(clamping: stat.ms_entries)
    }
}

/// LMDB's two internal databases: the free-page list and the main database naming the others.
private let freeDBI: MDB_dbi = 0
private let mainDBI: MDB_dbi = 1

extension Transaction {
    /// The figures of `db` as this transaction sees them.
    public func statistics(of db: Database) throws -> DatabaseStatistics {
        try statistics(db.dbi, "mdb_stat(\(db.name))")
    }

    /// The figures of the main database (the one whose keys name the named databases).
    public func mainDatabaseStatistics() throws -> DatabaseStatistics { try statistics(mainDBI, "mdb_stat(main)") }

    /// The figures of the free-page database.
    public func freeDatabaseStatistics() throws -> DatabaseStatistics { try statistics(freeDBI, "mdb_stat(free)") }

    private func statistics(_ dbi: MDB_dbi, _ operation: String) throws(LMDBError) -> DatabaseStatistics {
        var stat = MDB_stat()
        try check(mdb_stat(pointer, dbi, &stat), operation)
        return DatabaseStatistics(stat)
    }

    /// The names of the named databases: the keys of the main database, walked with a cursor.
    public func databaseNames() throws -> [String] { try namedDatabases().map(\.name) }

    /// The named databases as the main database records them (walked with a cursor): each name
    /// with its B-tree figures read from its record (LMDB's `MDB_db`: flags, depth, page counts,
    /// entries, root), without opening it. `statistics` is nil for a record of another size.
    public func namedDatabases() throws -> [(name: String, statistics: DatabaseStatistics?, isDupSort: Bool)] {
        var result: [(name: String, statistics: DatabaseStatistics?, isDupSort: Bool)] = []
        let pageSize = try mainDatabaseStatistics().pageSize
        try withCursor(in: internalDatabase(mainDBI, "(main)")) { cursor in
            var item = try cursor.first()
            while let (key, value) = item {
                result.append((String(decoding: key, as: UTF8.self), Self.record(value, pageSize), Self.isDupSort(value)))
                item = try cursor.next()
            }
        }
        return result
    }

    /// `MDB_db`: u32 pad, u16 flags, u16 depth, then branch, leaf, overflow pages, entries, root (words).
    private static let recordSize = 8 + 5 * MemoryLayout<Int>.size

    private static func isDupSort(_ value: [UInt8]) -> Bool {
        guard value.count == recordSize else { return false }
        let flags = value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt16.self) }
        return flags & UInt16(MDB_DUPSORT) != 0
    }

    private static func record(_ value: [UInt8], _ pageSize: Int) -> DatabaseStatistics? {
        guard value.count == recordSize else { return nil }
        return value.withUnsafeBytes { raw in
            let word = MemoryLayout<Int>.size
            var stat = MDB_stat()
            stat.ms_psize = UInt32(pageSize)
            stat.ms_depth = UInt32(raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            stat.ms_branch_pages = raw.loadUnaligned(fromByteOffset: 8, as: Int.self)
            stat.ms_leaf_pages = raw.loadUnaligned(fromByteOffset: 8 + word, as: Int.self)
            stat.ms_overflow_pages = raw.loadUnaligned(fromByteOffset: 8 + 2 * word, as: Int.self)
            stat.ms_entries = raw.loadUnaligned(fromByteOffset: 8 + 3 * word, as: Int.self)
            return DatabaseStatistics(stat)
        }
    }

    /// Walks the free-page database with a cursor and returns how many free pages it lists (each
    /// entry is a transaction id and the list of page numbers it freed: a count, then that many
    /// page numbers, each a machine word). A malformed entry throws ``LMDBError/Code/corrupted``.
    public func freePageCount() throws -> Int {
        let word = MemoryLayout<Int>.size
        var total = 0
        try withCursor(in: internalDatabase(freeDBI, "(free)")) { cursor in
            var item = try cursor.first()
            while let (key, value) = item {
                guard key.count == word, value.count >= word, value.count % word == 0 else {
                    throw LMDBError(
                        .corrupted, "mdb_cursor_get(free)",
                        detail: "a free-page list entry has a \(key.count)-byte key and a \(value.count)-byte value")
                }
                let count = value.withUnsafeBytes { $0.loadUnaligned(as: Int.self) }  // a native machine word
                guard count >= 0, count == value.count / word - 1 else {
                    throw LMDBError(
                        .corrupted, "mdb_cursor_get(free)",
                        detail: "a free-page list entry says \(count) pages but holds \(value.count / word - 1)")
                }
                total += count
                item = try cursor.next()
            }
        }
        return total
    }

    /// The number of pages of this transaction's snapshot (last page number + 1), or nil when a
    /// later commit exists (then the environment's figures describe that one, not this snapshot).
    public func snapshotPageCount() throws -> Int? {
        guard let env = mdb_txn_env(pointer) else { return nil }
        var info = MDB_envinfo()
        try check(mdb_env_info(env, &info), "mdb_env_info")
        guard info.me_last_txnid == mdb_txn_id(pointer) else { return nil }
        return Int(clamping: info.me_last_pgno) + 1
    }

    private func internalDatabase(_ dbi: MDB_dbi, _ name: String) -> Database {
        Database(name: name, isDupSort: false, dbi: dbi, environmentID: environmentID)
    }
}
