internal import CLMDB

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A pthread reader/writer lock. Transactions hold it shared; resizing the map needs it exclusively,
/// because LMDB forbids `mdb_env_set_mapsize` while any transaction of this process is open.
final class ReadWriteLock: @unchecked Sendable {
    // @unchecked: the pthread lock is the synchronization primitive; its address never changes.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        let rc = pthread_rwlock_init(lock, nil)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deinitialize(count: 1)
        lock.deallocate()
    }

    /// Runs body holding the lock shared. Recursive shared locking is fine: nobody ever blocks
    /// waiting for the exclusive side (see `tryExclusive`), so readers never queue behind a writer.
    func withShared<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let rc = pthread_rwlock_rdlock(lock)
        precondition(rc == 0, "pthread_rwlock_rdlock failed: \(rc)")
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Runs body holding the lock exclusively if it can be had within `timeout`, trying every
    /// 200 µs; returns nil otherwise. Never blocks indefinitely, so a thread whose own (or a
    /// waiting thread's) transaction is open cannot deadlock.
    func tryExclusive<R, E: Error>(within timeout: Duration, _ body: () throws(E) -> R) throws(E) -> R? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while pthread_rwlock_trywrlock(lock) != 0 {
            if clock.now >= deadline { return nil }
            usleep(200)
        }
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// A plain pthread mutex, held e.g. across a whole write transaction, so writers queue here, outside the
/// shared side of `ReadWriteLock`, and never keep the map from growing while they wait.
final class PlainLock: @unchecked Sendable {
    // @unchecked: the pthread mutex is the synchronization primitive; its address never changes.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// An identifier for the calling thread, to detect nested write transactions.
func currentThreadID() -> UInt {
    #if canImport(Darwin)
        return UInt(bitPattern: pthread_self())
    #else
        return UInt(pthread_self())
    #endif
}

/// Creates `path` and its missing parents (like `mkdir -p`), mode 0o755.
func makeDirectories(_ path: String) throws(LMDBError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        prefix += component
        if mkdir(prefix, 0o755) != 0 {
            let error = errno
            if error != EEXIST {
                throw LMDBError(LMDBError.Code(rawValue: error), "mkdir", path: prefix)
            }
        }
        prefix += "/"
    }
}

/// The absolute path with symlinks, `.` and `..` resolved; the key of the environment registry.
func canonicalPath(_ path: String) throws(LMDBError) -> String {
    guard let resolved = realpath(path, nil) else {
        let error = errno
        throw LMDBError(LMDBError.Code(rawValue: error), "realpath", path: path)
    }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Whether `size` bytes of address space can be mapped now (a PROT_NONE reservation, released at once).
func addressSpaceAvailable(_ size: Int) -> Bool {
    #if canImport(Darwin)
        let flags = MAP_PRIVATE | MAP_ANON
    #else
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
    #endif
    guard let reserved = mmap(nil, size, PROT_NONE, flags, -1, 0),
        reserved != UnsafeMutableRawPointer(bitPattern: -1)
    else { return false }
    munmap(reserved, size)
    return true
}

/// Lends `bytes` to C as an `MDB_val` for the duration of body.
func withValue<R>(_ bytes: ArraySlice<UInt8>, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { buffer in
        var value = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
        return try body(&value)
    }
}

func withValue<R>(_ bytes: [UInt8], _ body: (inout MDB_val) throws -> R) rethrows -> R {
    try withValue(bytes[...], body)
}

/// `seq` as an 8-byte big-endian `MDB_val`, valid during `body` (a seq key or value without an array).
func withSeq<R>(_ seq: UInt64, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    try withUnsafeBytes(of: seq.bigEndian) { bytes in
        var value = MDB_val(mv_size: 8, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
        return try body(&value)
    }
}

/// `open(2)`, callable where a member named `open` hides the C function.
func openFile(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
