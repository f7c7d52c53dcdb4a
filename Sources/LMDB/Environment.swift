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
    /// How long a transaction that needs to resize the map waits for this process's other transactions
    /// to end (LMDB resizes the map only while no transaction is open in the process): a write that
    /// ran out of map space, or any transaction adopting a map grown by another process. When the
    /// time runs out the transaction fails with ``LMDBError/Code/mapFull`` (or ``LMDBError/Code/mapResized``)
    /// and the store is left as it was.
    public var growthTimeout: Duration

    /// Creates options; the defaults suit a durable store.
    public init(
        mapSize: Int = 1 << 30, maxDatabases: Int = 32, maxReaders: Int = 126, durable: Bool = true,
        growthTimeout: Duration = .seconds(2)
    ) {
        self.mapSize = mapSize
        self.maxDatabases = maxDatabases
        self.maxReaders = maxReaders
        self.durable = durable
        self.growthTimeout = growthTimeout
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
/// and an open read transaction keeps the map from growing.
public final class Environment: @unchecked Sendable {
    // @unchecked Sendable: the MDB_env is thread-safe for concurrent transactions (MDB_NOTLS); the one
    // non-thread-safe call, mdb_env_set_mapsize, runs only under the exclusive side of `resizeLock`,
    // which every transaction holds shared. Writers are serialized by `writerLock`; transactions that
    // open database handles by `databaseLock` (LMDB allows one such transaction at a time per process).
    // All mutable Swift state is inside a Mutex.

    /// The canonical (absolute, symlink-free) path of the environment directory.
    public let path: String
    /// Whether the environment was opened read-only (`MDB_RDONLY`): write transactions throw
    /// ``LMDBError/Code/readOnlyTransaction`` and nothing in the directory is created or changed
    /// (but for reader slots in `lock.mdb`, when it is writable).
    public let isReadOnly: Bool
    /// Whether a read-only environment is read without `lock.mdb` (see ``open(path:options:readOnly:)``).
    public let isLockless: Bool
    private let handle: OpaquePointer
    /// Where the map lies, to check what LMDB returns before copying it.
    private let mapGuard: MapGuard
    private let id: UInt64
    private let growthTimeout: Duration
    private let resizeLock = ReadWriteLock()
    private let writerLock = PlainLock()
    /// Held (always after `writerLock`, if both) around every transaction that calls mdb_dbi_open.
    private let databaseLock = PlainLock()
    private let state = Mutex(State())
    /// Set if a failed mdb_env_set_mapsize left no usable memory map (changed under `resizeLock`).
    private let unmapped = Atomic<Bool>(false)

    /// How many times one write grows the map after MDB_MAP_FULL before giving up (each doubles it).
    private static let maxGrowths = 8
    /// How many times one transaction adopts a map grown by another process before giving up.
    private static let maxAdoptions = 8

    private struct State {
        var databases: [String: Database] = [:]
        /// The thread inside `writerLock`, to turn a nested write into an error instead of a deadlock.
        var writerThread: UInt?
        /// Open read transactions per thread; resizing never waits on the caller's own transactions.
        var readers: [UInt: Int] = [:]
    }

    private init(path: String, opened: OpenedHandle, growthTimeout: Duration) {
        self.path = path
        self.handle = opened.handle
        self.isReadOnly = opened.readOnly
        self.isLockless = opened.lockless
        var fd: mdb_filehandle_t = -1
        _ = mdb_env_get_fd(opened.handle, &fd)
        self.mapGuard = MapGuard(fd: fd)
        self.growthTimeout = growthTimeout
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
    ///
    /// A directory or file the process may not create or open fails with ``LMDBError/Code/permissionDenied``
    /// (or ``LMDBError/Code/notPermitted``, ``LMDBError/Code/readOnlyFileSystem``) naming the path.
    ///
    /// With `readOnly`, the environment is opened with `MDB_RDONLY`: the directory and `data.mdb`
    /// must exist, nothing is created, and write transactions throw. Readers still register in
    /// `lock.mdb` (so writers in other processes do not reuse the pages they read); when
    /// `lock.mdb` cannot be opened for writing, LMDB reads without it on a read-only file
    /// system, and so does this layer (`MDB_NOLOCK`) when `data.mdb` cannot be written by
    /// anyone (no write permission bit: a store frozen on purpose). Otherwise the open fails
    /// with ``LMDBError/Code/permissionDenied``: reading without the lock while a writer may
    /// reuse pages could return torn values.
    ///
    /// Every open checks that `data.mdb` holds every page its meta page says is in use
    /// (`(last page + 1) × page size` bytes), else it throws ``LMDBError/Code/corrupted``: a truncated
    /// file would otherwise end the process with SIGBUS at the first read past its end.
    /// A read-only instance already open in this process is not reused for writing (that throws
    /// ``LMDBError/Code/readOnlyTransaction``); a writable one serves read-only opens too.
    public static func open(path: String, options: EnvironmentOptions = .init(), readOnly: Bool = false) throws
        -> Environment
    {
        guard options.mapSize > 0, options.maxDatabases >= 0, options.maxReaders > 0,
            options.maxDatabases <= Int(UInt32.max), options.maxReaders <= Int(UInt32.max),
            options.growthTimeout >= .zero
        else {
            throw LMDBError(
                .invalidArgument, "Environment.open", path: path,
                detail: "mapSize and maxReaders must be positive, maxDatabases and growthTimeout non-negative")
        }
        if !readOnly { try makeDirectories(path) }
        let canonical = try canonicalPath(path)
        enum Outcome { case open(Environment), closing }
        while true {
            let outcome = try registry.withLock { entries throws(LMDBError) -> Outcome in
                if let entry = entries[canonical] {
                    if let environment = entry.value {
                        if environment.isReadOnly && !readOnly {
                            throw LMDBError(
                                .readOnlyTransaction, "Environment.open", path: canonical,
                                detail: "the store is open read-only in this process; release that Environment before opening it for writing")
                        }
                        return .open(environment)
                    }
                    return .closing
                }
                let environment = Environment(
                    path: canonical, opened: try openHandle(canonical, options, readOnly: readOnly),
                    growthTimeout: options.growthTimeout)
                entries[canonical] = WeakEnvironment(value: environment)
                return .open(environment)
            }
            switch outcome {
            case .open(let environment): return environment
            case .closing: sched_yield()  // the old instance's deinit is closing it; wait for that
            }
        }
    }

    private struct OpenedHandle {
        var handle: OpaquePointer
        var readOnly: Bool
        var lockless: Bool
    }

    private static func openHandle(_ path: String, _ options: EnvironmentOptions, readOnly: Bool) throws(LMDBError)
        -> OpenedHandle
    {
        var flags = UInt32(MDB_NOTLS)
        if !options.durable { flags |= UInt32(MDB_NOSYNC) }
        if readOnly { flags |= UInt32(MDB_RDONLY) }
        do {
            return OpenedHandle(handle: try openHandle(path, options, flags: flags), readOnly: readOnly, lockless: false)
        } catch let error where readOnly && error.code.isPermissionError {
            // lock.mdb cannot be opened for writing. Reading without it is safe only when nobody
            // can write data.mdb meanwhile (see `open`).
            guard lockFileRefused(path) else { throw error }
            guard dataFileFrozen(path) else {
                throw LMDBError(
                    error.code, "mdb_env_open", path: path,
                    detail: "lock.mdb cannot be opened for writing, and reading without it is safe only when nobody can write data.mdb meanwhile (a read-only file system, or no write permission bit on data.mdb); read as a user who may write lock.mdb, or read a copy (mdb_copy)")
            }
            return OpenedHandle(
                handle: try openHandle(path, options, flags: flags | UInt32(MDB_NOLOCK)), readOnly: true, lockless: true)
        }
    }

    private static func openHandle(_ path: String, _ options: EnvironmentOptions, flags: UInt32) throws(LMDBError)
        -> OpaquePointer
    {
        var created: OpaquePointer?
        try check(mdb_env_create(&created), "mdb_env_create")
        guard let env = created else { throw LMDBError(.invalidArgument, "mdb_env_create", path: path) }
        let creates = Preallocation.createsStore(in: path)
        // An LMDB assertion on a damaged page ends the process with a message and exit 1, not SIGABRT.
        _ = mdb_env_set_assert(env, lmdbAssertionHook)
        do throws(LMDBError) {
            // A read-only open creates nothing; a writer reserves the lock file's space first.
            if flags & UInt32(MDB_RDONLY) == 0 {
                try Preallocation.lockFile(in: path, maxReaders: options.maxReaders)
            }
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)), "mdb_env_set_maxreaders")
            let rc = mdb_env_open(env, path, flags, 0o644)
            if rc == ENOMEM && fileSize(path + "/data.mdb") ?? 0 > 0 {
                // The meta page asks for a map far larger than the file: its last page number is garbage.
                throw LMDBError(
                    .invalid, "mdb_env_open", path: path,
                    detail: "data.mdb cannot be mapped (\(String(cString: mdb_strerror(rc)))): its meta page is damaged")
            }
            if rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH {
                throw LMDBError(
                    LMDBError.Code(rawValue: rc), "mdb_env_open", path: path,
                    detail: "\(String(cString: mdb_strerror(rc))): the meta pages of data.mdb are damaged, or it is not an LMDB file")
            }
            try check(rc, "mdb_env_open")
            try validateSize(env)
            if flags & UInt32(MDB_NOLOCK) == 0 {
                var dead: Int32 = 0
                _ = mdb_reader_check(env, &dead)  // frees reader slots left by crashed processes
            }
        } catch {
            mdb_env_close(env)
            let named = error.classified(writing: path)
            if creates && named.code == .diskFull { Preallocation.removePartialDataFile(in: path) }
            throw named
        }
        return env
    }

    /// Checks that data.mdb is as long as its meta page says (every page up to the last one in use
    /// is in the file) and that the page size is plausible. Called right after mdb_env_open, before
    /// any page is read through the map (mdb_env_open read both meta pages with pread).
    private static func validateSize(_ env: OpaquePointer) throws(LMDBError) {
        var envStat = MDB_stat()
        try check(mdb_env_stat(env, &envStat), "mdb_env_stat")
        var info = MDB_envinfo()
        try check(mdb_env_info(env, &info), "mdb_env_info")
        let pageSize = UInt(envStat.ms_psize)
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw LMDBError(
                .corrupted, "Environment.open",
                detail: "the meta page of data.mdb gives a page size of \(pageSize) bytes: it is damaged")
        }
        var fd: mdb_filehandle_t = -1
        try check(mdb_env_get_fd(env, &fd), "mdb_env_get_fd")
        var file = stat()
        guard fstat(fd, &file) == 0 else { throw LMDBError(LMDBError.Code(rawValue: errno), "fstat") }
        let lastPage = UInt(info.me_last_pgno)
        let (pages, o1) = lastPage.addingReportingOverflow(1)
        let (needed, o2) = pages.multipliedReportingOverflow(by: pageSize)
        guard !o1, !o2, UInt(max(0, Int(file.st_size))) >= needed else {
            let claim = o1 || o2 ? "more bytes than can exist" : "\(needed) bytes"
            throw LMDBError(
                .corrupted, "Environment.open",
                detail: "data.mdb is \(file.st_size) bytes, but its meta page says pages 0 to \(lastPage) of \(pageSize) bytes (\(claim)) are in use: the file was truncated, or the meta page is damaged")
        }
    }

    /// Whether lock.mdb exists and cannot be opened for writing (or cannot be created).
    private static func lockFileRefused(_ path: String) -> Bool {
        let fd = openFile(path + "/lock.mdb", O_RDWR | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return false
        }
        let error = errno
        if error == ENOENT {
            // Missing: refused if it cannot be created (the directory is not writable).
            return access(path, W_OK) != 0
        }
        return error == EACCES || error == EPERM || error == EROFS
    }

    /// Whether data.mdb can be written by nobody: on a read-only file system, or without any write
    /// permission bit (so no Daybook writer, which opens it for writing, runs against it meanwhile).
    private static func dataFileFrozen(_ path: String) -> Bool {
        var fs = statvfs()
        if statvfs(path, &fs) == 0 && fs.f_flag & UInt(ST_RDONLY) != 0 { return true }
        var file = stat()
        guard stat(path + "/data.mdb", &file) == 0 else { return false }
        return file.st_mode & 0o222 == 0
    }

    private static func fileSize(_ path: String) -> Int? {
        var file = stat()
        guard stat(path, &file) == 0 else { return nil }
        return Int(file.st_size)
    }

    // MARK: - Databases

    /// Opens a named database, creating it first when `create` is true and it does not exist yet.
    /// Opening the same name again returns the cached handle.
    ///
    /// An existing database is opened in a read-only transaction, so this takes no write lock and
    /// does not wait for a writer in this or another process; only creating one takes a short write
    /// transaction (do not call it with `create: true` inside a write on the same thread). A handle is
    /// visible to transactions begun after it was opened. See ``openDatabases(_:dupSort:create:)``.
    public func database(_ name: String, dupSort: Bool = false, create: Bool = true) throws -> Database {
        try openDatabases([name], dupSort: dupSort ? [name] : [], create: create)[0]
    }

    /// Opens several named databases at once, returning their handles in the order of `names`.
    ///
    /// Names not cached yet are opened together in ONE read-only transaction, without `MDB_CREATE`,
    /// which is then committed (LMDB shares a handle with later transactions only once the transaction
    /// that opened it commits). That takes no write lock: a reader never waits for, or holds up, a
    /// writer. If some names do not exist:
    /// - with `create == false`, nothing is opened and the call throws ``LMDBError/Code/notFound``
    ///   naming the missing databases and the store;
    /// - with `create == true`, one write transaction creates all the missing ones.
    ///
    /// - Parameters:
    ///   - names: database names; each must be new or opened with the same `dupSort` setting as before.
    ///   - dupSort: the names (a subset of `names`) that keep several sorted values per key.
    ///     A mismatch with how an existing database was created throws ``LMDBError/Code/incompatible``.
    ///   - create: whether missing databases are created (in a write transaction) or reported.
    public func openDatabases(_ names: [String], dupSort: Set<String> = [], create: Bool) throws -> [Database] {
        guard dupSort.isSubset(of: names) else {
            throw LMDBError(
                .invalidArgument, "Environment.openDatabases", path: path,
                detail: "every name in dupSort must also be in names")
        }
        var found: [String: Database] = [:]
        var pending: [String] = []
        state.withLock { state in
            for name in names where found[name] == nil {
                if let cached = state.databases[name] { found[name] = cached } else if !pending.contains(name) {
                    pending.append(name)
                }
            }
        }
        for database in found.values where database.isDupSort != dupSort.contains(database.name) {
            throw incompatible(database.name)
        }
        if !pending.isEmpty {
            var missing: [String] = []
            let existing = try withTransaction(.openRead) { txn in
                try open(pending, dupSort: dupSort, create: false, in: txn, missing: &missing)
            }
            if !missing.isEmpty {
                guard create else { throw notFound(missing) }
                var none: [String] = []
                let created = try withTransaction(.openWrite) { txn in
                    try open(missing, dupSort: dupSort, create: true, in: txn, missing: &none)
                }
                found.merge(created) { old, _ in old }
            }
            found.merge(existing) { old, _ in old }
            // Another thread may have cached a name meanwhile; the first handle stays (they are equal).
            found = state.withLock { state in
                for (name, database) in found {
                    if let cached = state.databases[name] { found[name] = cached } else {
                        state.databases[name] = database
                    }
                }
                return found
            }
        }
        return names.map { found[$0]! }
    }

    /// Opens `names` in `txn`; names that do not exist (only without `create`) go to `missing`.
    private func open(
        _ names: [String], dupSort: Set<String>, create: Bool, in txn: borrowing Transaction,
        missing: inout [String]
    ) throws(LMDBError) -> [String: Database] {
        var opened: [String: Database] = [:]
        for name in names {
            let isDupSort = dupSort.contains(name)
            var dbi: MDB_dbi = 0
            let flags = (create ? UInt32(MDB_CREATE) : 0) | (isDupSort ? UInt32(MDB_DUPSORT) : 0)
            let rc = mdb_dbi_open(txn.pointer, name, flags, &dbi)
            if rc == MDB_NOTFOUND && !create {
                missing.append(name)
                continue
            }
            try check(rc, "mdb_dbi_open")
            var actual: UInt32 = 0
            try check(mdb_dbi_flags(txn.pointer, dbi, &actual), "mdb_dbi_flags")
            // An existing database keeps its creation flags whatever we pass; catch the mismatch.
            guard (actual & UInt32(MDB_DUPSORT) != 0) == isDupSort else { throw incompatible(name) }
            opened[name] = Database(name: name, isDupSort: isDupSort, dbi: dbi, environmentID: id)
        }
        return opened
    }

    private func incompatible(_ name: String) -> LMDBError {
        LMDBError(
            .incompatible, "mdb_dbi_open", path: path,
            detail: "database \"\(name)\" exists with a different dupSort setting")
    }

    private func notFound(_ names: [String]) -> LMDBError {
        let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
        let subject = names.count == 1 ? "database \(list) does not exist" : "databases \(list) do not exist"
        return LMDBError(
            .notFound, "mdb_dbi_open", path: path,
            detail: "\(subject) in \(path); the store was not created by this version — run a write first")
    }

    /// Flushes every committed transaction to disk (`mdb_env_sync` with force): what an
    /// environment opened with `durable: false` calls once its bulk writes are done, so that they
    /// survive a system crash from then on.
    public func sync() throws {
        try check(mdb_env_sync(handle, 1), "mdb_env_sync")
    }

    // MARK: - Transactions

    /// Runs body in a read-only transaction; the transaction cannot escape the closure.
    /// It sees a consistent snapshot as of its start. If another process grew the map beyond this
    /// process's mapping, the new size is adopted first (waiting up to
    /// ``EnvironmentOptions/growthTimeout`` for this process's other transactions to end).
    public func read<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try withTransaction(.read, body)
    }

    /// Runs body in a write transaction: commits when body returns, aborts when it throws.
    ///
    /// **Body may run more than once.** When the body or the commit runs out of map space
    /// (`MDB_MAP_FULL`, noticed even if the body catches or wraps the error), the transaction is
    /// aborted — nothing of that attempt persists — the map is doubled, and the body runs again in a
    /// fresh transaction, up to 8 times. So the body must be re-runnable: no side effects outside the
    /// transaction that a second run would repeat wrongly (or make them idempotent). Growing needs
    /// no transaction open in this process, so it waits up to ``EnvironmentOptions/growthTimeout``
    /// for this process's other read transactions to end; it never waits on the calling thread's own.
    /// If the map cannot grow (readers stay open, the caller has a read open, or the resize fails),
    /// the write throws ``LMDBError/Code/mapFull`` saying what was tried; the store is intact: earlier
    /// commits stay readable and a later write grows the map once the cause is gone.
    ///
    /// Before beginning, the map is also doubled while more than 60% of it is used, if that can be
    /// done without waiting long. Writers are serialized; do not nest a write inside another
    /// transaction on the same thread.
    ///
    /// - Parameter bytes: about how many bytes the transaction adds (new values, with their keys and
    ///   pages). The map grows before the transaction begins until the used bytes plus these are at
    ///   most 60% of it (see ``reserve(bytes:)``), so a large write does not run out of map space
    ///   half-way and have to run again; for that it may wait up to
    ///   ``EnvironmentOptions/growthTimeout`` for this process's read transactions. If the map cannot
    ///   grow then, the write still runs, and the `MDB_MAP_FULL` retry above applies.
    public func write<R>(reserving bytes: Int = 0, _ body: (borrowing Transaction) throws -> R) throws -> R {
        try withTransaction(.write, reserving: bytes, body)
    }

    /// Grows the map now, before any write, so that `bytes` more fit with room to spare: while the used
    /// bytes plus `bytes` are more than 60% of the map, it doubles. Nothing is written. Growing needs no
    /// transaction open in this process, so this waits up to ``EnvironmentOptions/growthTimeout`` for
    /// this process's read transactions (never for the calling thread's own: it throws instead).
    ///
    /// - Returns: the size figures after growing.
    /// - Throws: ``LMDBError/Code/mapFull`` saying why the map could not grow (the map is unchanged);
    ///   ``LMDBError/Code/nestedWrite`` inside a write on this thread.
    @discardableResult
    public func reserve(bytes: Int) throws -> EnvironmentInfo {
        let thread = currentThreadID()
        let ownOpen = state.withLock { $0.readers[thread] != nil || $0.writerThread == thread }
        if state.withLock({ $0.writerThread == thread }) {
            throw LMDBError(
                .nestedWrite, "Environment.reserve", path: path, detail: "a write transaction is open on this thread")
        }
        return try writerLock.withLock { () throws(LMDBError) -> EnvironmentInfo in
            let before = try resizeLock.withShared { () throws(LMDBError) in
                try requireMapped()
                return try rawInfo()
            }
            let target = Self.mapSize(toHold: before.usedBytes, plus: bytes, from: before.mapSize)
            func full(_ reason: String) -> LMDBError {
                LMDBError(
                    .mapFull, "Environment.reserve", path: path,
                    detail: "could not grow the map to hold \(bytes) more bytes: \(reason) (map size \(before.mapSize) bytes, \(before.usedBytes) bytes used, tried \(target) bytes)")
            }
            guard target > before.mapSize else { return before }
            guard !ownOpen else {
                throw full(
                    "a read transaction open on this thread keeps the map from growing (LMDB resizes only while no transaction is open in the process)")
            }
            let outcome = resizeLock.tryExclusive(within: growthTimeout) { () -> Int32 in
                guard let info = try? rawInfo() else { return MDB_SUCCESS }
                let size = Self.mapSize(toHold: info.usedBytes, plus: bytes, from: info.mapSize)
                return size > info.mapSize ? setMapSize(size) : MDB_SUCCESS
            }
            guard let rc = outcome else {
                throw full(
                    "read transactions in this process stayed open for more than \(milliseconds(growthTimeout)) ms (LMDB resizes only while no transaction is open in the process); end long-running reads")
            }
            guard rc == MDB_SUCCESS else {
                throw full("mdb_env_set_mapsize failed: \(String(cString: mdb_strerror(rc)))")
            }
            return try resizeLock.withShared { () throws(LMDBError) in
                try requireMapped()
                return try rawInfo()
            }
        }
    }

    /// The map size, doubling from `size`, at which `used + needed` bytes are at most 60% of the map.
    static func mapSize(toHold used: Int, plus needed: Int, from size: Int) -> Int {
        let (demand, overflow) = used.addingReportingOverflow(max(0, needed))
        guard !overflow else { return size }
        var newSize = max(size, 1)
        while demand / 6 > newSize / 10 && newSize < Int.max / 2 { newSize *= 2 }
        return newSize
    }

    /// Runs body in a write transaction that is always aborted at the end (what-if computations on a
    /// scratch view). It still excludes other writers while it runs. Like ``write(_:)``, the body runs
    /// again after growing the map if it ran out of map space, so it must be re-runnable.
    public func scratchWrite<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try withTransaction(.scratch, body)
    }

    /// The longest key LMDB accepts, in bytes (`mdb_env_get_maxkeysize`: 511 unless liblmdb was
    /// built otherwise). A longer key fails with ``LMDBError/Code/badValueSize``.
    public var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Entries, used pages, map size (for stats).
    public func info() throws -> EnvironmentInfo {
        try resizeLock.withShared {
            try requireMapped()
            return try rawInfo()
        }
    }

    /// The number of entries (key/value pairs) in `db`.
    public func entryCount(_ db: Database) throws -> Int {
        try read { try $0.count(in: db) }
    }

    /// Copies the environment to a new directory (mdb_env_copy2 with compaction) — for backups.
    /// The directory is created if missing and must not already hold a `data.mdb`.
    public func copy(to directory: String) throws {
        try makeDirectories(directory)
        try resizeLock.withShared { () throws(LMDBError) in
            try requireMapped()
            do throws(LMDBError) {
                try check(mdb_env_copy2(handle, directory, UInt32(MDB_CP_COMPACT)), "mdb_env_copy2")
            } catch {
                throw error.classified(writing: directory)
            }
        }
    }

    enum TransactionKind {
        case read, write, scratch
        /// A read-only transaction that opens database handles and is committed to keep them.
        case openRead
        /// A write transaction that creates database handles.
        case openWrite

        var isWrite: Bool { self == .write || self == .scratch || self == .openWrite }
        var commits: Bool { self == .write || self == .openWrite || self == .openRead }
        var opensDatabases: Bool { self == .openRead || self == .openWrite }
    }

    private enum Attempt<R> { case done(R), mapResized }

    private func withTransaction<R>(
        _ kind: TransactionKind, reserving bytes: Int = 0, _ body: (borrowing Transaction) throws -> R
    ) throws -> R {
        do {
            return try serialized(kind, reserving: bytes, body)
        } catch let error as LMDBError {
            // A write that failed for lack of space (or on a failing disk) says so, naming the store.
            throw kind.isWrite ? error.classified(writing: path) : error.inStore(path)
        }
    }

    /// Takes the locks `kind` needs, then runs the transaction (again after growing the map, for writes).
    private func serialized<R>(
        _ kind: TransactionKind, reserving bytes: Int, _ body: (borrowing Transaction) throws -> R
    ) throws -> R {
        let thread = currentThreadID()
        // Resizing waits for this process's transactions to end; never for the caller's own ones.
        let ownOpen = state.withLock { $0.readers[thread] != nil || $0.writerThread == thread }
        guard kind.isWrite else {
            state.withLock { $0.readers[thread, default: 0] += 1 }
            defer {
                state.withLock { state in
                    let open = state.readers[thread, default: 1] - 1
                    state.readers[thread] = open > 0 ? open : nil
                }
            }
            if kind.opensDatabases {
                return try databaseLock.withLock { try run(kind, ownOpen: ownOpen, mapFull: nil, body) }
            }
            return try run(kind, ownOpen: ownOpen, mapFull: nil, body)
        }
        // LMDB's writer mutex is not recursive: a nested write would hang forever.
        if state.withLock({ $0.writerThread == thread }) {
            throw LMDBError(.nestedWrite, "mdb_txn_begin", detail: "a write transaction is already open on this thread")
        }
        return try writerLock.withLock {
            state.withLock { $0.writerThread = thread }
            defer { state.withLock { $0.writerThread = nil } }
            growMapIfNeeded(mayWait: !ownOpen, reserving: bytes)
            var growths = 0
            while true {
                let mapFull = MapFullFlag()
                do {
                    if kind.opensDatabases {
                        return try databaseLock.withLock { try run(kind, ownOpen: ownOpen, mapFull: mapFull, body) }
                    }
                    return try run(kind, ownOpen: ownOpen, mapFull: mapFull, body)
                } catch {
                    // The attempt was aborted (or its commit failed, which frees it): nothing persisted.
                    guard mapFull.isSet || (error as? LMDBError)?.code == .mapFull else { throw error }
                    growths += 1
                    try growAfterMapFull(growth: growths, ownOpen: ownOpen)
                }
            }
        }
    }

    /// Begins, runs and ends one transaction under the shared side of `resizeLock`, first adopting
    /// (a bounded number of times) a map grown by another process.
    private func run<R>(
        _ kind: TransactionKind, ownOpen: Bool, mapFull: MapFullFlag?,
        _ body: (borrowing Transaction) throws -> R
    ) throws -> R {
        var adoptions = 0
        while true {
            let attempt: Attempt<R> = try resizeLock.withShared {
                try requireMapped()
                var created: OpaquePointer?
                if kind.isWrite && isReadOnly {
                    throw LMDBError(
                        .readOnlyTransaction, "mdb_txn_begin", path: path,
                        detail: "the store was opened read-only; writes need it opened for writing")
                }
                let rc = mdb_txn_begin(handle, nil, kind.isWrite ? 0 : UInt32(MDB_RDONLY), &created)
                if rc == MDB_MAP_RESIZED { return .mapResized }  // mdb_txn_begin freed the transaction
                try check(rc, "mdb_txn_begin")
                guard let txn = created else { throw LMDBError(.badTransaction, "mdb_txn_begin") }
                let result: R
                do {
                    result = try body(
                        Transaction(
                            pointer: txn, isReadOnly: !kind.isWrite, environmentID: id, mapFull: mapFull,
                            bounds: mapGuard.bounds()))
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                if kind.commits {
                    try check(mdb_txn_commit(txn), "mdb_txn_commit")  // frees txn even on failure
                } else {
                    mdb_txn_abort(txn)
                }
                return .done(result)
            }
            switch attempt {
            case .done(let result):
                return result
            case .mapResized:
                adoptions += 1
                try adoptGrownMap(adoption: adoptions, ownOpen: ownOpen)
            }
        }
    }

    /// Another process grew the map past this process's mapping: take the size recorded on disk.
    private func adoptGrownMap(adoption: Int, ownOpen: Bool) throws(LMDBError) {
        guard adoption <= Self.maxAdoptions else {
            throw LMDBError(
                .mapResized, "mdb_txn_begin",
                detail: "another process grew the map again each of the \(Self.maxAdoptions) times this process adopted the new size")
        }
        guard !ownOpen else {
            throw LMDBError(
                .mapResized, "mdb_txn_begin",
                detail: "another process grew the map, and a transaction open on this thread keeps this process from adopting the new size (LMDB resizes only while no transaction is open in the process)")
        }
        // 0 = "the size recorded in the environment", rounded up to what the data needs.
        guard let rc = resizeLock.tryExclusive(within: growthTimeout, { setMapSize(0) }) else {
            throw LMDBError(
                .mapResized, "mdb_env_set_mapsize",
                detail: "another process grew the map, and read transactions in this process stayed open for more than \(milliseconds(growthTimeout)) ms, so the new size could not be adopted")
        }
        try check(rc, "mdb_env_set_mapsize")
    }

    /// After MDB_MAP_FULL: doubles the map, or throws a `.mapFull` error saying what was tried.
    /// Called with `writerLock` held and no transaction of this thread open (unless `ownOpen`).
    private func growAfterMapFull(growth: Int, ownOpen: Bool) throws(LMDBError) {
        let before = try resizeLock.withShared { () throws(LMDBError) in
            try requireMapped()
            return try rawInfo()
        }
        func full(_ reason: String, tried target: Int?) -> LMDBError {
            var figures = "map size \(before.mapSize) bytes, \(before.usedBytes) bytes used"
            if let target { figures += ", tried to grow the map to \(target) bytes" }
            return LMDBError(
                .mapFull, "Environment.write",
                detail: "the store is full and could not grow: \(reason) (\(figures); growth \(growth) of \(Self.maxGrowths))")
        }
        guard growth <= Self.maxGrowths else {
            throw full(
                "the transaction still did not fit after \(Self.maxGrowths) doublings of the map; split it into smaller transactions",
                tried: nil)
        }
        let target = doubled(before.mapSize)
        guard target > before.mapSize else { throw full("the map size cannot be doubled any further", tried: nil) }
        guard !ownOpen else {
            throw full(
                "a read transaction open on this thread keeps the map from growing (LMDB resizes only while no transaction is open in the process); finish it before writing",
                tried: target)
        }
        let outcome = resizeLock.tryExclusive(within: growthTimeout) { () -> (rc: Int32, target: Int) in
            // Re-read: another process may have grown the map meanwhile (the size is per process).
            let current = (try? rawInfo())?.mapSize ?? before.mapSize
            let target = max(target, doubled(current))
            return (setMapSize(target), target)
        }
        guard let outcome else {
            throw full(
                "read transactions in this process stayed open for more than \(milliseconds(growthTimeout)) ms (LMDB resizes only while no transaction is open in the process); end long-running reads",
                tried: target)
        }
        guard outcome.rc == MDB_SUCCESS else {
            throw full(
                "mdb_env_set_mapsize failed: \(String(cString: mdb_strerror(outcome.rc)))", tried: outcome.target)
        }
    }

    /// Grows the map before a write while more than 60% of it is used (counting the `reserving` bytes
    /// the write announced), if that is possible without a long wait — up to the growth timeout when
    /// the announced bytes do not fit at all; otherwise leaves it to the MDB_MAP_FULL retry. Called
    /// with `writerLock` held.
    private func growMapIfNeeded(mayWait: Bool, reserving needed: Int) {
        guard let current = try? resizeLock.withShared({ () throws(LMDBError) in try rawInfo() }) else { return }
        let (demand, overflow) = current.usedBytes.addingReportingOverflow(max(0, needed))
        guard !overflow else { return }
        // Used share of the map in per mille (integers: no floating point anywhere in the store).
        let usedPerMille = current.mapSize > 0 ? demand / (current.mapSize / 1000 + 1) : 1000
        guard usedPerMille > 600 else { return }
        let wait: Duration =
            !mayWait ? .zero
            : demand > current.mapSize ? growthTimeout : usedPerMille > 800 ? .milliseconds(50) : .milliseconds(4)
        _ = resizeLock.tryExclusive(within: wait) { () -> Int32 in
            guard let info = try? rawInfo() else { return MDB_SUCCESS }
            let newSize = Self.mapSize(toHold: info.usedBytes, plus: needed, from: info.mapSize)
            guard newSize != info.mapSize else { return MDB_SUCCESS }
            // A failure here is not fatal: the write still runs, and MDB_MAP_FULL retries report it.
            return setMapSize(newSize)
        }
    }

    /// mdb_env_set_mapsize, called holding `resizeLock` exclusively. LMDB unmaps the old map before
    /// mapping the new size and cannot map again after a failure, so first check that the address
    /// space for `size` can be had (0, "the size on disk", is not checked: another process maps it).
    /// If LMDB still fails, the environment is marked unusable, so no transaction touches a missing map.
    private func setMapSize(_ size: Int) -> Int32 {
        if size > 0, !addressSpaceAvailable(size) { return ENOMEM }
        let rc = mdb_env_set_mapsize(handle, size)
        mapGuard.invalidate()  // LMDB mapped the file anew (or not at all)
        // EINVAL is returned before unmapping (a write transaction is active); anything else after.
        if rc != MDB_SUCCESS && rc != EINVAL { unmapped.store(true, ordering: .relaxed) }
        return rc
    }

    /// Throws if a failed resize left the environment without a memory map. Holds `resizeLock`.
    private func requireMapped() throws(LMDBError) {
        if unmapped.load(ordering: .relaxed) {
            throw LMDBError(
                .panic, "mdb_env_set_mapsize", path: path,
                detail: "a failed resize left no memory map; the files are intact, but this Environment must be released and the store opened again")
        }
    }

    private func doubled(_ size: Int) -> Int {
        let (result, overflow) = size.multipliedReportingOverflow(by: 2)
        return overflow ? size : result
    }

    private func milliseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
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
