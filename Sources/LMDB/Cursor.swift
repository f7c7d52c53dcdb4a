internal import CLMDB

/// A cursor, only valid inside ``Transaction/withCursor(in:_:)``. Not copyable, not Sendable.
///
/// Each move returns the entry it lands on (copied out), or nil when there is none.
/// In a dupSort database, moves step through every value of a key.
public struct Cursor: ~Copyable {
    var pointer: OpaquePointer
    /// The transaction's bounds for what the cursor returns (see ``MapGuard``).
    let bounds: MapBounds
    let isReadOnly: Bool

    /// Moves to the entry with the smallest key.
    public mutating func first() throws -> (key: [UInt8], value: [UInt8])? {
        try move(MDB_FIRST, "mdb_cursor_get(MDB_FIRST)")
    }

    /// Moves to the entry with the greatest key.
    public mutating func last() throws -> (key: [UInt8], value: [UInt8])? {
        try move(MDB_LAST, "mdb_cursor_get(MDB_LAST)")
    }

    /// Moves to the next entry (the first one if the cursor is not positioned yet).
    public mutating func next() throws -> (key: [UInt8], value: [UInt8])? {
        try move(MDB_NEXT, "mdb_cursor_get(MDB_NEXT)")
    }

    /// Moves to the previous entry (the last one if the cursor is not positioned yet).
    public mutating func previous() throws -> (key: [UInt8], value: [UInt8])? {
        try move(MDB_PREV, "mdb_cursor_get(MDB_PREV)")
    }

    /// Moves to the first entry whose key is >= `key` (MDB_SET_RANGE).
    public mutating func seek(atLeast key: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        if key.isEmpty { return try first() }  // every key is >= []; LMDB rejects empty keys
        return try move(MDB_SET_RANGE, "mdb_cursor_get(MDB_SET_RANGE)", key: key)
    }

    /// Moves to the entry whose key is exactly `key` (MDB_SET_KEY); nil if absent.
    public mutating func seek(exactly key: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        try move(MDB_SET_KEY, "mdb_cursor_get(MDB_SET_KEY)", key: key)
    }

    /// In a dupSort database, moves to the last value of the current key (MDB_LAST_DUP returns no key).
    func lastDuplicate(of key: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        guard let item = try move(MDB_LAST_DUP, "mdb_cursor_get(MDB_LAST_DUP)") else { return nil }
        return (key, item.value)
    }

    private func move(
        _ op: MDB_cursor_op, _ operation: String,
        key: [UInt8]? = nil
    ) throws -> (key: [UInt8], value: [UInt8])? {
        let cursor = pointer
        let (bounds, readOnly) = (self.bounds, isReadOnly)
        // Everything is copied inside the closure: on input `key` points at our array's storage.
        // What LMDB returns is checked against the map before it is copied (a damaged page can
        // claim any length).
        return try withValue(key ?? []) { input throws(LMDBError) -> (key: [UInt8], value: [UInt8])? in
            var key = input
            var value = MDB_val()
            let rc = mdb_cursor_get(cursor, &key, &value, op)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, operation)
            return (
                try bounds.copy(key, "key", operation, readOnly: readOnly),
                try bounds.copy(value, "value", operation, readOnly: readOnly)
            )
        }
    }
}

@available(*, unavailable, message: "LMDB cursors belong to their transaction's thread")
extension Cursor: Sendable {}
