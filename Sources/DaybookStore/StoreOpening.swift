import DaybookCore
import LMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a store is opened.
public enum StoreAccess: Sendable {
    /// Read verbs: the environment is opened `MDB_RDONLY`, nothing is created or written (a store
    /// on a read-only file system can be read), and a directory without a store is refused.
    case read
    /// Write verbs: a missing store is created (with its format marker); an existing one is
    /// checked before anything is written to it.
    case write
}

/// Why a store could not be opened: there is none, it is not Daybook's, or it is damaged.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Nothing to read at the path (missing or empty `data.mdb`): a usage error, exit 2.
        case noStore
        /// An LMDB environment that is not a Daybook store.
        case notDaybook
        /// The store is damaged: restore it from a backup.
        case damaged
        /// Written by a newer daybook (a format version this one does not know).
        case newerFormat
        /// A `replay --into` that did not finish (``Store/incompleteMarker`` is there).
        case incompleteReplay
    }
    public var kind: Kind
    /// The store directory.
    public var path: String
    /// What is wrong, without the advice.
    public var reason: String

    package init(_ kind: Kind, _ path: String, _ reason: String) {
        self.kind = kind
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch kind {
        case .noStore:
            return "no Daybook store at \(path) (\(reason); create one with `daybook catalog apply FILE --data \(path)`)"
        case .notDaybook:
            return
                "not a Daybook store: \(path) \(reason); point --data at a Daybook store (if this was one, it is damaged: restore it from backup)"
        case .damaged:
            return "store damaged: \(reason) (in \(path)); restore from backup (`daybook check` reports the damage)"
        case .newerFormat:
            return "\(path): \(reason); upgrade daybook to read it"
        case .incompleteReplay:
            return
                "\(path) holds an unfinished replay (\(reason)): its state is partial; remove the directory and run "
                + "`daybook replay … --into \(path)` again"
        }
    }
}

/// Daybook's format marker: `meta["format"]` = magic + format version, written when a store is
/// created and checked at every open. A store without it is not Daybook's (stores written before
/// the marker existed have the engine state, and get the marker at their next write).
package enum StoreFormat {
    package static let key = Array("format".utf8)
    package static let magic = Array("DAYBOOK".utf8) + [0]
    /// Version 1: the key layout of docs/architecture.md as of issue 8.
    package static let version: UInt32 = 1

    package static var marker: [UInt8] {
        var bytes = magic
        bytes.appendBigEndian(version)
        return bytes
    }

    /// The version a marker names, or a description of what is wrong with it.
    static func version(of bytes: [UInt8]) -> Result<UInt32, StoreCorruption> {
        guard bytes.count == magic.count + 4, bytes.starts(with: magic) else {
            return .failure(StoreCorruption("the format marker in meta is not Daybook's (\(bytes.count) bytes)"))
        }
        return .success([UInt8].readBigEndianUInt32(bytes, at: magic.count))
    }
}

extension Store {
    /// The file a `replay --into` writes (durably) into its directory before it starts and removes
    /// after its final sync: while it is there, the store is refused (a crash mid-replay leaves a
    /// partial state written without syncs).
    package static let incompleteMarker = "REPLAY-INCOMPLETE"

    /// Checks what is at `path` before LMDB opens it, then opens the environment.
    static func openEnvironment(_ path: String, durable: Bool, access: StoreAccess, replaying: Bool = false) throws
        -> Environment
    {
        let dataFile = path + "/data.mdb"
        var info = stat()
        if !replaying, stat(path + "/" + incompleteMarker, &info) == 0 {
            throw StoreError(.incompleteReplay, path, "\(incompleteMarker) is there: the replay was interrupted")
        }
        if stat(dataFile, &info) != 0 {
            let error = errno
            if access == .read && (error == ENOENT || error == ENOTDIR) {
                throw StoreError(.noStore, path, "no data.mdb there")
            }
            // Write access and no data.mdb: a new store. Another error (permissions): LMDB names it.
        } else if info.st_mode & S_IFMT != S_IFREG {
            throw StoreError(.notDaybook, path, "holds a data.mdb that is not a regular file")
        } else if info.st_size == 0 {
            guard access == .write else {
                throw StoreError(
                    .noStore, path, "its data.mdb is empty: if a store was there, it was truncated — restore it from backup")
            }
            throw StoreError(
                .damaged, path,
                "data.mdb is empty (0 bytes): the store was truncated, or its creation was interrupted; restore it from backup, or remove \(dataFile) to start a new store"
            )
        }
        return try Environment.open(
            path: path, options: EnvironmentOptions(durable: durable), readOnly: access == .read)
    }

    /// Opens Daybook's databases: read access opens only existing ones; write access creates a
    /// new store, or the databases an older store lacks, and refuses an LMDB environment that
    /// is not a Daybook store or has lost databases.
    static func openDatabases(_ env: Environment, access: StoreAccess) throws -> [Database] {
        let path = env.path
        let present = try env.read { txn in try txn.databaseNames() }
        guard present.contains("meta") else {
            if present.isEmpty {
                guard access == .write else {
                    throw StoreError(.noStore, path, "data.mdb holds an empty LMDB environment, nothing Daybook wrote")
                }
                let databases = try env.openDatabases(names, create: true)
                try env.write { txn in try txn.put(StoreFormat.key, StoreFormat.marker, in: databases[0]) }
                return databases
            }
            throw StoreError(
                .notDaybook, path,
                "holds an LMDB environment without Daybook's databases (it has \(list(present)))")
        }
        let missing = names.filter { !present.contains($0) }
        if !missing.isEmpty {
            let meta = try env.openDatabases(["meta"], create: false)[0]
            let marked = try env.read { txn in try txn.contains(StoreFormat.key, in: meta) }
            // The marker is written once every database exists: with it, a missing one was lost,
            // unless a later daybook added it (then the next write creates it).
            if marked && !Set(missing).isSubset(of: addedLater) {
                throw StoreError(.damaged, path, "databases \(list(missing)) are missing")
            }
            guard access == .write else {
                throw StoreError(
                    .damaged, path,
                    "databases \(list(missing)) are missing (a store written by an older daybook gets them at its next write: run `daybook finalize --data \(path)`)"
                )
            }
        }
        return try env.openDatabases(names, create: access == .write)
    }

    /// Checks the format marker (write access adds it to a store written before it existed, and
    /// to a new store whose creation was interrupted), then the page accounting of the B-trees
    /// (write access only: a damaged free list would have writes overwrite live pages).
    func checkFormat(access: StoreAccess) throws {
        let path = env.path
        let store = self
        enum Found { case marked(UInt32), legacy, empty }
        let found = try env.read { txn throws -> Found in
            if let bytes = try txn.get(StoreFormat.key, in: store.meta) {
                switch StoreFormat.version(of: bytes) {
                case .success(let version): return .marked(version)
                case .failure(let why): throw StoreError(.damaged, path, why.message)
                }
            }
            if try txn.get(EngineState.key, in: store.meta) != nil {
                _ = try EngineState.load(store, txn)  // a legacy store: its state must decode
                return .legacy
            }
            for db in store.all where try txn.count(in: db) > 0 {
                throw StoreError(
                    .damaged, path,
                    "the meta database has neither Daybook's format marker nor the engine state, but \(db.name) holds records")
            }
            return .empty
        }
        switch found {
        case .marked(let version) where version > StoreFormat.version:
            throw StoreError(
                .newerFormat, path,
                "the store has format version \(version); this daybook reads version \(StoreFormat.version)")
        case .marked(let version) where version < 1:
            throw StoreError(.damaged, path, "the format marker names version \(version)")
        case .marked:
            break
        case .legacy, .empty:
            guard access == .write else {
                if case .empty = found {
                    throw StoreError(.noStore, path, "the store is empty: nothing was ever written to it")
                }
                break
            }
            try env.write { txn in try txn.put(StoreFormat.key, StoreFormat.marker, in: store.meta) }
        }
        if access == .write {
            if let problem = try env.read({ txn in try store.pageAccountingProblem(txn) }) {
                throw StoreError(.damaged, path, problem)
            }
        }
    }

    /// Every database of the store, in the order of ``names``.
    package var all: [Database] {
        [
            meta, log, transactions, byCustomer, deadLetters, rejections, catalogs, invoices, distinct, openInvoices,
            snapshots, checkpoints, causes, drift, driftHistory, deadLetterKeys, byDay, journal, changedInvoices,
            removedRows, corrections,
        ]
    }

    /// Whether the pages of the snapshot add up: the two meta pages, the pages of every B-tree
    /// (free list, main database, every named database as the main database records it) and
    /// the free pages must be exactly the pages up to the last one in use, as LMDB's own audit
    /// requires. A free list that lists too many or too few pages (or trees whose page counts
    /// are off) is damage. Nil when they add up; also when a later commit exists (the figures
    /// would not be this snapshot's) or a database of another program keeps duplicates (whose
    /// sub-trees the records do not count).
    package func pageAccountingProblem(_ txn: borrowing Transaction) throws -> String? {
        guard let pages = try txn.snapshotPageCount() else { return nil }
        var trees = try txn.freeDatabaseStatistics().pages + txn.mainDatabaseStatistics().pages
        for named in try txn.namedDatabases() {
            guard let figures = named.statistics else {
                return "the main database's record of \"\(named.name)\" is malformed"
            }
            if named.isDupSort { return nil }
            trees += figures.pages
        }
        let free = try txn.freePageCount()
        guard 2 + trees + free != pages else { return nil }
        return
            "the page accounting does not add up: 2 meta pages + \(trees) pages in B-trees + \(free) free pages ≠ \(pages) pages in use"
    }
}

private func list(_ names: [String]) -> String {
    names.isEmpty ? "none" : names.map { "\"\($0)\"" }.joined(separator: ", ")
}
