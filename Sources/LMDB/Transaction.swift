internal import CLMDB

/// Options for ``Transaction/put(_:_:in:flags:)``.
public struct PutFlags: OptionSet, Sendable {
    /// The `MDB_*` write flags.
    public let rawValue: UInt32

    /// Wraps `MDB_*` write flags.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_APPEND`: the key must sort after all existing keys (else ``LMDBError/Code/keyExists``);
    /// a fast path for append-only logs with big-endian sequence keys.
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
    /// `MDB_NOOVERWRITE`: fail with ``LMDBError/Code/keyExists`` if the key is present.
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// `MDB_NODUPDATA` (dupSort databases only): fail with ``LMDBError/Code/keyExists`` if the exact
    /// key/value pair is present.
    public static let noDuplicateData = PutFlags(rawValue: UInt32(MDB_NODUPDATA))
}

/// A transaction: valid only inside the closure of ``Environment/read(_:)``, ``Environment/write(_:)``
/// or ``Environment/scratchWrite(_:)``. Not Copyable and received `borrowing`, so it cannot escape;
/// not Sendable, because LMDB transactions belong to one thread.
///
/// Keys are 1...511 bytes. Values returned are copies, safe to keep after the transaction.
public struct Transaction: ~Copyable {
    let pointer: OpaquePointer
    /// True for ``Environment/read(_:)`` transactions; writes in them throw ``LMDBError/Code/readOnlyTransaction``.
    public let isReadOnly: Bool
    let environmentID: UInt64
    /// Write transactions only: records an `MDB_MAP_FULL` even if the body swallows or wraps the
    /// error, so ``Environment/write(_:)`` knows to grow the map and run the body again.
    let mapFull: MapFullFlag?
    /// Where returned keys and values may lie; checked before each is copied (see ``MapGuard``).
    let bounds: MapBounds

    /// The value stored under `key`, copied out, or nil when absent. In a dupSort database, the first value.
    public func get(_ key: [UInt8], in db: Database) throws -> [UInt8]? { try get(key[...], in: db) }

    /// ``get(_:in:)`` with the key a slice of a larger buffer (no array of its own).
    public func get(_ key: ArraySlice<UInt8>, in db: Database) throws -> [UInt8]? {
        try validate(db, "mdb_get")
        let (txn, bounds, readOnly) = (pointer, self.bounds, isReadOnly)
        return try withValue(key) { key throws(LMDBError) -> [UInt8]? in
            var value = MDB_val()
            let rc = mdb_get(txn, db.dbi, &key, &value)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, "mdb_get")
            return try bounds.copy(value, "value", "mdb_get", readOnly: readOnly)
        }
    }

    /// Whether `key` is present (without copying its value).
    public func contains(_ key: [UInt8], in db: Database) throws -> Bool { try contains(key[...], in: db) }

    /// ``contains(_:in:)`` with the key a slice of a larger buffer (no array of its own).
    public func contains(_ key: ArraySlice<UInt8>, in db: Database) throws -> Bool {
        try validate(db, "mdb_get")
        let txn = pointer
        return try withValue(key) { key throws(LMDBError) -> Bool in
            var value = MDB_val()
            let rc = mdb_get(txn, db.dbi, &key, &value)
            if rc == MDB_NOTFOUND { return false }
            try check(rc, "mdb_get")
            return true
        }
    }

    /// Stores `value` under `key`, replacing any value (in a dupSort database, adding one).
    public func put(_ key: [UInt8], _ value: [UInt8], in db: Database, flags: PutFlags = []) throws {
        try requireWritable("mdb_put")
        try validate(db, "mdb_put")
        try checkWrite(rawPut(key, value, db, flags.rawValue), "mdb_put")
    }

    /// Inserts only if the key is absent; returns false (and writes nothing) if present (MDB_NOOVERWRITE / MDB_KEYEXIST).
    public func insertIfAbsent(_ key: [UInt8], _ value: [UInt8], in db: Database) throws -> Bool {
        try requireWritable("mdb_put")
        try validate(db, "mdb_put")
        let rc = rawPut(key, value, db, UInt32(MDB_NOOVERWRITE))
        if rc == MDB_KEYEXIST { return false }
        try checkWrite(rc, "mdb_put")
        return true
    }

    /// Stores `value` under the 8-byte big-endian key `seq` (a log's key), without building the key.
    public func put(seq: UInt64, _ value: [UInt8], in db: Database, flags: PutFlags = []) throws {
        try put(seq: seq, value[...], in: db, flags: flags)
    }

    /// ``put(seq:_:in:flags:)`` with the value a slice of a larger buffer (no array of its own).
    public func put(seq: UInt64, _ value: ArraySlice<UInt8>, in db: Database, flags: PutFlags = []) throws {
        try requireWritable("mdb_put")
        try validate(db, "mdb_put")
        let txn = pointer
        let rc = withSeq(seq) { key in withValue(value) { value in mdb_put(txn, db.dbi, &key, &value, flags.rawValue) }
        }
        try checkWrite(rc, "mdb_put")
    }

    /// ``insertIfAbsent(_:_:in:)`` with the 8-byte big-endian value `seq`, without building it.
    public func insertIfAbsent(_ key: [UInt8], seq: UInt64, in db: Database) throws -> Bool {
        try insertIfAbsent(key[...], seq: seq, in: db)
    }

    /// ``insertIfAbsent(_:seq:in:)`` with the key a slice of a larger buffer (no array of its own).
    public func insertIfAbsent(_ key: ArraySlice<UInt8>, seq: UInt64, in db: Database) throws -> Bool {
        try requireWritable("mdb_put")
        try validate(db, "mdb_put")
        let txn = pointer
        let rc = withSeq(seq) { value in
            withValue(key) { key in mdb_put(txn, db.dbi, &key, &value, UInt32(MDB_NOOVERWRITE)) }
        }
        if rc == MDB_KEYEXIST { return false }
        try checkWrite(rc, "mdb_put")
        return true
    }

    private func rawPut(_ key: [UInt8], _ value: [UInt8], _ db: Database, _ flags: UInt32) -> Int32 {
        let txn = pointer
        return withValue(key) { key in
            withValue(value) { value in mdb_put(txn, db.dbi, &key, &value, flags) }
        }
    }

    /// Deletes `key` (in a dupSort database, all its values). Returns false if it was absent.
    @discardableResult
    public func delete(_ key: [UInt8], in db: Database) throws -> Bool {
        try requireWritable("mdb_del")
        try validate(db, "mdb_del")
        let txn = pointer
        let rc = withValue(key) { key in mdb_del(txn, db.dbi, &key, nil) }
        if rc == MDB_NOTFOUND { return false }
        try checkWrite(rc, "mdb_del")
        return true
    }

    /// Deletes one key/value pair of a dupSort database. Returns false if it was absent.
    @discardableResult
    public func delete(_ key: [UInt8], value: [UInt8], in db: Database) throws -> Bool {
        try requireWritable("mdb_del")
        try validate(db, "mdb_del")
        let txn = pointer
        let rc = withValue(key) { key in
            withValue(value) { value in mdb_del(txn, db.dbi, &key, &value) }
        }
        if rc == MDB_NOTFOUND { return false }
        try checkWrite(rc, "mdb_del")
        return true
    }

    /// Removes every entry of `db`, keeping the database itself (`mdb_drop(db, 0)`).
    public func deleteAll(in db: Database) throws {
        try requireWritable("mdb_drop")
        try validate(db, "mdb_drop")
        try checkWrite(mdb_drop(pointer, db.dbi, 0), "mdb_drop")
    }

    /// Iterates key/value pairs in key order starting at the first key >= `from` (or the first key when nil);
    /// the body returns false to stop.
    public func scan(
        in db: Database, from: [UInt8]? = nil,
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try withCursor(in: db) { cursor in
            var item = try from.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
            while let (key, value) = item {
                guard try body(key, value) else { return }
                item = try cursor.next()
            }
        }
    }

    /// Iterates keys that start with `prefix`, in order; the body returns false to stop.
    public func scan(
        in db: Database, prefix: [UInt8],
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try withCursor(in: db) { cursor in
            var item = try cursor.seek(atLeast: prefix)
            while let (key, value) = item, key.starts(with: prefix) {
                guard try body(key, value) else { return }
                item = try cursor.next()
            }
        }
    }

    /// Iterates in reverse key order starting at the last key <= `from` (or the last key when nil);
    /// the body returns false to stop. In a dupSort database, values of a key also come in reverse.
    public func scanReverse(
        in db: Database, from: [UInt8]? = nil,
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try withCursor(in: db) { cursor in
            var item: (key: [UInt8], value: [UInt8])?
            if let from {
                if from.isEmpty {
                    item = nil  // keys are never empty, so none is <= []
                } else if let found = try cursor.seek(atLeast: from) {
                    if found.key == from {
                        item = db.isDupSort ? try cursor.lastDuplicate(of: found.key) : found
                    } else {
                        item = try cursor.previous()
                    }
                } else {
                    item = try cursor.last()  // every key is < from
                }
            } else {
                item = try cursor.last()
            }
            while let (key, value) = item {
                guard try body(key, value) else { return }
                item = try cursor.previous()
            }
        }
    }

    /// The entry with the greatest key, or nil when the database is empty.
    public func last(in db: Database) throws -> (key: [UInt8], value: [UInt8])? {
        try withCursor(in: db) { try $0.last() }
    }

    /// The entry with the smallest key, or nil when the database is empty.
    public func first(in db: Database) throws -> (key: [UInt8], value: [UInt8])? {
        try withCursor(in: db) { try $0.first() }
    }

    /// The number of entries in `db`, as seen by this transaction.
    public func count(in db: Database) throws -> Int {
        try validate(db, "mdb_stat")
        var stat = MDB_stat()
        try check(mdb_stat(pointer, db.dbi, &stat), "mdb_stat")
        return Int(stat.ms_entries)
    }

    /// Runs body with a cursor on `db`; the cursor is closed when body returns or throws.
    /// Writes through this transaction while the cursor is open are allowed (LMDB adjusts it).
    public func withCursor<R>(in db: Database, _ body: (inout Cursor) throws -> R) throws -> R {
        try validate(db, "mdb_cursor_open")
        var opened: OpaquePointer?
        try check(mdb_cursor_open(pointer, db.dbi, &opened), "mdb_cursor_open")
        guard let handle = opened else { throw LMDBError(.badDatabase, "mdb_cursor_open") }
        var cursor = Cursor(pointer: handle, bounds: bounds, isReadOnly: isReadOnly)
        // Close whatever the variable holds at the end, so it stays right even if body swapped cursors.
        defer { mdb_cursor_close(cursor.pointer) }
        return try body(&cursor)
    }

    // MARK: - Checks

    private func requireWritable(_ operation: String) throws(LMDBError) {
        if isReadOnly {
            throw LMDBError(.readOnlyTransaction, operation, detail: "cannot write in a read-only transaction")
        }
    }

    /// `check` for calls that modify the database: notes `MDB_MAP_FULL` before throwing it.
    private func checkWrite(_ rc: Int32, _ operation: String) throws(LMDBError) {
        if rc == MDB_MAP_FULL { mapFull?.isSet = true }
        try check(rc, operation)
    }

    private func validate(_ db: Database, _ operation: String) throws(LMDBError) {
        if db.environmentID != environmentID {
            throw LMDBError(
                .badDatabase, operation,
                detail: "database \"\(db.name)\" belongs to another environment")
        }
    }
}

/// Set when a write transaction ran out of map space; owned by one write attempt on one thread.
final class MapFullFlag {
    var isSet = false
}

@available(*, unavailable, message: "LMDB transactions belong to the thread and closure that began them")
extension Transaction: Sendable {}
