internal import CLMDB
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// How to open an ``Environment``. Options only apply when the environment is first opened in this process.
public struct EnvironmentOptions: Sendable {
    /// Initial map size in bytes. Writes grow it (doubling) as needed, so a small start is fine.
    public var mapSize: Int
    /// Maximum number of named databases.
    public var maxDatabases: Int
    /// Maximum number of concurrent read transactions (across all processes).
    public var maxReaders: Int
    /// When true, every commit is synced to disk. False sets `MDB_NOSYNC`: faster, but a crash
    /// can lose or corrupt recent commits, so use it only for scratch stores.
    public var durable: Bool

    /// Creates options; the defaults suit a durable store.
    public init(mapSize: Int = 1 << 30, maxDatabases: Int = 32, maxReaders: Int = 126, durable: Bool = true) {
        self.mapSize = mapSize
        self.maxDatabases = maxDatabases
        self.maxReaders = maxReaders
        self.durable = durable
    }
}

/// Size figures of an environment, for stats and for deciding when to grow the map.
public struct EnvironmentInfo: Sendable, Hashable {
    /// Current size of the memory map in bytes.
    public var mapSize: Int
    /// Number of the last page in use.
    public var lastPageNumber: Int
    /// Page size in bytes.
    public var pageSize: Int
    /// Bytes in use: `(lastPageNumber + 1) * pageSize`.
    public var usedBytes: Int
}

/// A handle to a named database inside an ``Environment``; cheap to copy and share.
public struct Database: Hashable, Sendable {
    /// The database's name.
    public let name: String
    /// Whether the database keeps several sorted values per key (`MDB_DUPSORT`).
    public let isDupSort: Bool
    let dbi: MDB_dbi
    /// Identifies the owning environment, so a handle is not used with another one.
    let environmentID: UInt64
}

private struct WeakEnvironment {
    weak var value: Environment?
}

/// Open environments by canonical path. An entry whose reference is nil is being closed by its deinit.
private let registry = Mutex<[String: WeakEnvironment]>([:])
private let environmentCounter = Atomic<UInt64>(0)

/// One LMDB environment (a directory). Opening the same path twice in one process returns the same
/// instance (process-wide registry keyed by the canonical path, weak references, guarded by a lock)
/// because opening an environment twice corrupts LMDB's locks. The environment closes when the last
/// reference goes away.
///
/// Transactions must not be nested on one thread: a write inside a write throws ``LMDBError/Code/nestedWrite``,
/// and an open transaction keeps the map from growing.
public final class Environment: @unchecked Sendable {
    // @unchecked Sendable: the MDB_env is thread-safe for concurrent transactions (MDB_NOTLS); the one
    // non-thread-safe call, mdb_env_set_mapsize, runs only under the exclusive side of `resizeLock`,
    // which every transaction holds shared. Writers are serialized by `writerLock`. All mutable Swift
    // state is inside a Mutex.

    /// The canonical (absolute, symlink-free) path of the environment directory.
    public let path: String
    private let handle: OpaquePointer
    private let id: UInt64
    private let resizeLock = ReadWriteLock()
    private let writerLock = WriterLock()
    private let state = Mutex(State())

    private struct State {
        var databases: [String: Database] = [:]
        /// The thread inside `writerLock`, to turn a nested write into an error instead of a deadlock.
        var writerThread: UInt?
        /// Open read transactions per thread; growth never waits on the caller's own readers.
        var readers: [UInt: Int] = [:]
        /// Set after a write failed with MDB_MAP_FULL, so the next write doubles the map even if
        /// the 60% rule does not fire (an aborted transaction leaves the used size unchanged).
        var growOnNextWrite = false
    }

    private init(path: String, handle: OpaquePointer) {
        self.path = path
        self.handle = handle
        self.id = environmentCounter.add(1, ordering: .relaxed).newValue
    }

    deinit {
        // Close under the registry lock so a concurrent open of the same path waits for it.
        registry.withLock { entries in
            mdb_env_close(handle)
            entries[path] = nil
        }
    }

    /// Opens the environment in `path`, creating the directory if missing, or returns the instance
    /// already open in this process (whose options then stay as they were).
    public static func open(path: String, options: EnvironmentOptions = .init()) throws -> Environment {
        guard options.mapSize > 0, options.maxDatabases >= 0, options.maxReaders > 0,
            options.maxDatabases <= Int(UInt32.max), options.maxReaders <= Int(UInt32.max)
        else {
            throw LMDBError(
                .invalidArgument, "Environment.open",
                detail: "mapSize and maxReaders must be positive, maxDatabases non-negative")
        }
        try makeDirectories(path)
        let canonical = try canonicalPath(path)
        enum Outcome { case open(Environment), closing }
        while true {
            let outcome = try registry.withLock { entries throws(LMDBError) -> Outcome in
                if let entry = entries[canonical] {
                    if let environment = entry.value { return .open(environment) }
                    return .closing
                }
                let environment = Environment(path: canonical, handle: try openHandle(canonical, options))
                entries[canonical] = WeakEnvironment(value: environment)
                return .open(environment)
            }
            switch outcome {
            case .open(let environment): return environment
            case .closing: sched_yield()  // the old instance's deinit is closing it; wait for that
            }
        }
    }

    private static func openHandle(_ path: String, _ options: EnvironmentOptions) throws(LMDBError) -> OpaquePointer {
        var created: OpaquePointer?
        try check(mdb_env_create(&created), "mdb_env_create")
        guard let env = created else { throw LMDBError(.invalidArgument, "mdb_env_create") }
        do {
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)), "mdb_env_set_maxreaders")
            var flags = UInt32(MDB_NOTLS)
            if !options.durable { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open")
            var dead: Int32 = 0
            _ = mdb_reader_check(env, &dead)  // frees reader slots left by crashed processes
        } catch {
            mdb_env_close(env)
            throw error
        }
        return env
    }

    /// Opens (creating if needed) a named database. Call before any other transaction is open on this
    /// thread: it runs its own short write transaction, and the handle is only visible to transactions
    /// begun after it. Opening the same name again returns the cached handle.
    public func database(_ name: String, dupSort: Bool = false) throws -> Database {
        if let cached = state.withLock({ $0.databases[name] }) {
            guard cached.isDupSort == dupSort else { throw incompatible(name) }
            return cached
        }
        let opened = try withTransaction(.write) { txn in
            var dbi: MDB_dbi = 0
            let flags = UInt32(MDB_CREATE) | (dupSort ? UInt32(MDB_DUPSORT) : 0)
            try check(mdb_dbi_open(txn.pointer, name, flags, &dbi), "mdb_dbi_open")
            var actual: UInt32 = 0
            try check(mdb_dbi_flags(txn.pointer, dbi, &actual), "mdb_dbi_flags")
            // An existing database keeps its creation flags whatever we pass; catch the mismatch.
            guard (actual & UInt32(MDB_DUPSORT) != 0) == dupSort else { throw incompatible(name) }
            return Database(name: name, isDupSort: dupSort, dbi: dbi, environmentID: id)
        }
        return state.withLock { state in
            if let existing = state.databases[name] { return existing }
            state.databases[name] = opened
            return opened
        }
    }

    private func incompatible(_ name: String) -> LMDBError {
        LMDBError(.incompatible, "mdb_dbi_open", detail: "database \"\(name)\" exists with a different dupSort setting")
    }

    /// Runs body in a read-only transaction; the transaction cannot escape the closure.
    /// It sees a consistent snapshot as of its start.
    public func read<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try withTransaction(.read, body)
    }

    /// Runs body in a write transaction: commits when body returns, aborts when it throws. Before
    /// beginning, grows the map (doubling) when more than 60% of it is used; growing happens with no
    /// transaction open, as LMDB requires, so it is skipped while any other transaction is open.
    /// Writers are serialized; do not nest a write inside another transaction on the same thread.
    public func write<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try withTransaction(.write, body)
    }

    /// Runs body in a write transaction that is always aborted at the end (what-if computations on a
    /// scratch view). It still excludes other writers while it runs.
    public func scratchWrite<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try withTransaction(.scratch, body)
    }

    /// Entries, used pages, map size (for stats).
    public func info() throws -> EnvironmentInfo {
        try resizeLock.withShared { try rawInfo() }
    }

    /// The number of entries (key/value pairs) in `db`.
    public func entryCount(_ db: Database) throws -> Int {
        try read { try $0.count(in: db) }
    }

    /// Copies the environment to a new directory (mdb_env_copy2 with compaction) — for backups.
    /// The directory is created if missing and must not already hold a `data.mdb`.
    public func copy(to directory: String) throws {
        try makeDirectories(directory)
        try resizeLock.withShared {
            try check(mdb_env_copy2(handle, directory, UInt32(MDB_CP_COMPACT)), "mdb_env_copy2")
        }
    }

    // MARK: - Transactions

    enum TransactionKind { case read, write, scratch }

    private enum Attempt<R> { case done(R), mapResized }

    private func withTransaction<R>(_ kind: TransactionKind, _ body: (borrowing Transaction) throws -> R) throws -> R {
        let thread = currentThreadID()
        guard kind != .read else {
            state.withLock { $0.readers[thread, default: 0] += 1 }
            defer {
                state.withLock { state in
                    let open = state.readers[thread, default: 1] - 1
                    state.readers[thread] = open > 0 ? open : nil
                }
            }
            return try run(kind, body)
        }
        // LMDB's writer mutex is not recursive: a nested write would hang forever.
        if state.withLock({ $0.writerThread == thread }) {
            throw LMDBError(.nestedWrite, "mdb_txn_begin", detail: "a write transaction is already open on this thread")
        }
        return try writerLock.withLock {
            state.withLock { $0.writerThread = thread }
            defer { state.withLock { $0.writerThread = nil } }
            // Waiting for readers is only safe when none of them is ours.
            try growMapIfNeeded(mayWait: state.withLock { $0.readers[thread] == nil })
            return try run(kind, body)
        }
    }

    /// Begins, runs and ends one transaction under the shared side of `resizeLock`.
    private func run<R>(_ kind: TransactionKind, _ body: (borrowing Transaction) throws -> R) throws -> R {
        let isWrite = kind != .read
        var adoptedResize = false
        while true {
            let attempt: Attempt<R> = try resizeLock.withShared {
                var created: OpaquePointer?
                let rc = mdb_txn_begin(handle, nil, isWrite ? 0 : UInt32(MDB_RDONLY), &created)
                if rc == MDB_MAP_RESIZED && !adoptedResize { return .mapResized }
                try check(rc, "mdb_txn_begin")
                guard let txn = created else { throw LMDBError(.badTransaction, "mdb_txn_begin") }
                let result: R
                do {
                    result = try body(Transaction(pointer: txn, isReadOnly: !isWrite, environmentID: id))
                } catch {
                    mdb_txn_abort(txn)
                    noteMapFull(error)
                    throw error
                }
                if kind == .write {
                    do {
                        try check(mdb_txn_commit(txn), "mdb_txn_commit")  // frees txn even on failure
                    } catch {
                        noteMapFull(error)
                        throw error
                    }
                } else {
                    mdb_txn_abort(txn)
                }
                return .done(result)
            }
            switch attempt {
            case .done(let result):
                return result
            case .mapResized:
                // Another process grew the map: adopt its size (0 = "use the size on disk"), then retry once.
                adoptedResize = true
                _ = try resizeLock.tryExclusive(attempts: 5000) {
                    try check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize")
                }
            }
        }
    }

    private func noteMapFull(_ error: any Error) {
        if let error = error as? LMDBError, error.code == .mapFull {
            state.withLock { $0.growOnNextWrite = true }
        }
    }

    /// Doubles the map while more than 60% of it is used (or once after MDB_MAP_FULL). Called with
    /// `writerLock` held. Needs `resizeLock` exclusively, i.e. no transaction open in this process:
    /// it waits up to about a second for readers to finish when growth is urgent (forced, or more than
    /// 80% used), a few milliseconds otherwise, then gives up until the next write.
    private func growMapIfNeeded(mayWait: Bool) throws {
        let forced = state.withLock { $0.growOnNextWrite }
        let current = try resizeLock.withShared { try rawInfo() }
        // Used share of the map in per mille (integers: no floating point anywhere in the store).
        let usedPerMille = current.mapSize > 0 ? current.usedBytes / (current.mapSize / 1000 + 1) : 1000
        guard forced || usedPerMille > 600 else { return }
        let attempts = !mayWait ? 1 : (forced || usedPerMille > 800) ? 5000 : 20
        _ = try resizeLock.tryExclusive(attempts: attempts) {
            let info = try rawInfo()
            var newSize = forced ? doubled(info.mapSize) : info.mapSize
            while info.usedBytes / 6 > newSize / 10 && newSize < Int.max / 2 {
                newSize = doubled(newSize)
            }
            if newSize != info.mapSize {
                try check(mdb_env_set_mapsize(handle, newSize), "mdb_env_set_mapsize")
            }
            state.withLock { $0.growOnNextWrite = false }
        }
    }

    private func doubled(_ size: Int) -> Int {
        let (result, overflow) = size.multipliedReportingOverflow(by: 2)
        return overflow ? size : result
    }

    /// Reads `mdb_env_info` and `mdb_env_stat`; the caller holds `resizeLock`.
    private func rawInfo() throws(LMDBError) -> EnvironmentInfo {
        var envInfo = MDB_envinfo()
        try check(mdb_env_info(handle, &envInfo), "mdb_env_info")
        var stat = MDB_stat()
        try check(mdb_env_stat(handle, &stat), "mdb_env_stat")
        let pageSize = Int(stat.ms_psize)
        let lastPage = Int(envInfo.me_last_pgno)
        return EnvironmentInfo(
            mapSize: Int(envInfo.me_mapsize), lastPageNumber: lastPage,
            pageSize: pageSize, usedBytes: (lastPage + 1) * pageSize)
    }
}
