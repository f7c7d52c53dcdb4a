internal import CLMDB

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// An error from LMDB, or from this layer's own safety checks, naming the C call that failed.
///
/// Match on ``code`` (like swift-system's `Errno`); ``description`` says what to do about it.
public struct LMDBError: Error, Sendable, CustomStringConvertible {
    /// An LMDB return code (negative, `MDB_*`) or a POSIX `errno` value (positive).
    public struct Code: Hashable, Sendable {
        /// The C return code.
        public let rawValue: Int32

        /// Wraps a C return code.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `MDB_KEYEXIST`: the key (or key/value pair) is already present, or an `.append` key is out of order.
        public static let keyExists = Code(rawValue: MDB_KEYEXIST)
        /// `MDB_NOTFOUND`: no such key. Most APIs here turn it into `nil` or `false`.
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        /// `MDB_PAGE_NOTFOUND`: a requested page is missing; the file is likely corrupted.
        public static let pageNotFound = Code(rawValue: MDB_PAGE_NOTFOUND)
        /// `MDB_CORRUPTED`: a page has an unexpected type; the file is corrupted.
        public static let corrupted = Code(rawValue: MDB_CORRUPTED)
        /// `MDB_PANIC`: a fatal error occurred earlier; the environment must be closed.
        public static let panic = Code(rawValue: MDB_PANIC)
        /// `MDB_VERSION_MISMATCH`: the environment was written by an incompatible LMDB version.
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        /// `MDB_INVALID`: the file is not an LMDB data file.
        public static let invalid = Code(rawValue: MDB_INVALID)
        /// `MDB_MAP_FULL`: the memory map (``EnvironmentOptions/mapSize``) is full.
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        /// `MDB_DBS_FULL`: more named databases than ``EnvironmentOptions/maxDatabases``.
        public static let dbsFull = Code(rawValue: MDB_DBS_FULL)
        /// `MDB_READERS_FULL`: more concurrent read transactions than ``EnvironmentOptions/maxReaders``.
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        /// `MDB_TXN_FULL`: the transaction has too many dirty pages.
        public static let transactionFull = Code(rawValue: MDB_TXN_FULL)
        /// `MDB_CURSOR_FULL`: the cursor stack is too deep (internal error).
        public static let cursorFull = Code(rawValue: MDB_CURSOR_FULL)
        /// `MDB_PAGE_FULL`: a page has no more space (internal error).
        public static let pageFull = Code(rawValue: MDB_PAGE_FULL)
        /// `MDB_MAP_RESIZED`: another process grew the map beyond this process's mapping.
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        /// `MDB_INCOMPATIBLE`: a database was opened with flags (e.g. dupSort) it was not created with.
        public static let incompatible = Code(rawValue: MDB_INCOMPATIBLE)
        /// `MDB_BAD_RSLOT`: invalid reuse of a reader slot.
        public static let badReaderSlot = Code(rawValue: MDB_BAD_RSLOT)
        /// `MDB_BAD_TXN`: the transaction failed earlier and can only be aborted.
        public static let badTransaction = Code(rawValue: MDB_BAD_TXN)
        /// `MDB_BAD_VALSIZE`: a key is empty or longer than 511 bytes (or a dupSort value is too long).
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        /// `MDB_BAD_DBI`: the database handle is not valid here.
        public static let badDatabase = Code(rawValue: MDB_BAD_DBI)
        /// `EACCES`: the process may not open or create the store's directory or files (owner or mode).
        public static let permissionDenied = Code(rawValue: EACCES)
        /// `EPERM`: the operating system refused the operation on the store's files.
        public static let notPermitted = Code(rawValue: EPERM)
        /// `EROFS`: the store lies on a read-only file system.
        public static let readOnlyFileSystem = Code(rawValue: EROFS)
        /// `ENOSPC`: the disk holding the store is full. Also `EDQUOT`, and the `EIO` LMDB reports for
        /// a short write when the file system is (all but) full, are reported with this code.
        public static let diskFull = Code(rawValue: ENOSPC)
        /// `EIO`: the disk or file system failed a read or write, on a file system that is not full.
        public static let ioError = Code(rawValue: EIO)
        /// A write (put, delete, drop) was attempted in a read-only transaction. This layer's own
        /// code (outside both the `MDB_*` range and `errno` values), raised before LMDB is called.
        public static let readOnlyTransaction = Code(rawValue: -30_600)
        /// Former name of ``readOnlyTransaction`` (it used to share `EACCES` with file permission errors).
        @available(*, deprecated, renamed: "readOnlyTransaction")
        public static let readOnly = readOnlyTransaction
        /// `EINVAL`: an invalid argument was passed to LMDB.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// `EDEADLK`: a write transaction was begun while this thread already has one open, which would deadlock.
        public static let nestedWrite = Code(rawValue: EDEADLK)

        /// Whether the code says the file system refused access to the store.
        var isPermissionError: Bool { self == .permissionDenied || self == .notPermitted || self == .readOnlyFileSystem }

        /// What the caller should do, for codes with a useful remedy.
        var hint: String? {
            switch self {
            case .mapFull:
                return
                    "end long-running read transactions, free disk space, or raise EnvironmentOptions.mapSize; the store is intact: earlier commits are kept and the next write tries to grow the map again"
            case .readersFull:
                return "too many open read transactions; raise EnvironmentOptions.maxReaders or end long-running reads"
            case .dbsFull:
                return "raise EnvironmentOptions.maxDatabases"
            case .mapResized:
                return "another process grew the map; end long-running read transactions in this process and retry"
            case .keyExists:
                return "the key is already present (with .append: the key does not sort after the last key)"
            case .transactionFull:
                return "split the work into smaller transactions"
            case .badValueSize:
                return "keys must be 1...511 bytes long"
            case .invalid, .versionMismatch:
                return "the directory does not hold a compatible LMDB environment"
            case .corrupted, .pageNotFound, .panic:
                return "the environment is damaged; restore it from a backup (Environment.copy)"
            case .incompatible:
                return "open the database with the same dupSort setting it was created with"
            case .badTransaction:
                return "the transaction already failed and can only be aborted; do not swallow errors inside write"
            case .readOnlyTransaction:
                return "use Environment.write for changes"
            case .permissionDenied, .notPermitted:
                return "check the owner and mode of the store directory and its data.mdb/lock.mdb"
            case .readOnlyFileSystem:
                return "move the store to a writable file system, or remount it read-write"
            case .diskFull:
                return
                    "free space on that file system and retry: the failed transaction was not committed, and every transaction committed before it is stored"
            case .ioError:
                return
                    "the device or file system reported an error (see the kernel log); the failed transaction was not committed and earlier commits are kept, but check the disk before writing again"
            case .nestedWrite:
                return "do not nest transactions: finish the outer write first"
            default:
                return nil
            }
        }
    }

    /// The return code.
    public let code: Code
    /// The C function (or check) that failed, e.g. `"mdb_put"`.
    public let operation: String
    /// The store directory (or the path being created) the error concerns, when known.
    public let path: String?
    /// Replaces the `mdb_strerror` text when this layer knows better (its own checks, paths).
    let detail: String?

    init(_ code: Code, _ operation: String, path: String? = nil, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.path = path
        self.detail = detail
    }

    /// This error, naming `path` unless it already names one.
    func inStore(_ path: String) -> LMDBError {
        self.path != nil ? self : LMDBError(code, operation, path: path, detail: detail)
    }

    /// What failed, where (the path when known), why, and what to do about it. File-system refusals
    /// read as such: `permission denied: cannot open PATH (mdb_env_open: ...); check the owner ...`.
    public var description: String {
        let reason = detail ?? String(cString: mdb_strerror(code.rawValue))
        var text: String
        if code == .diskFull || code == .ioError {
            // Named for what the operating system said: `disk full writing DIR: …`.
            let problem = code == .diskFull ? "disk full" : "I/O error"
            text = "\(problem) writing \(path ?? "the store"): \(reason) (\(operation))"
        } else if code.isPermissionError {
            let problem = code == .readOnlyFileSystem ? "read-only file system" : "permission denied"
            let writes = Self.writeOperations.contains(operation)
            let verb = operation == "mkdir" ? "cannot create" : writes ? "cannot write" : "cannot open"
            text = "\(problem): \(verb) \(path ?? "the store")"
            text += code == .readOnlyFileSystem && !writes ? " for writing" : ""
            text += " (\(operation): \(reason))"
        } else {
            text = "\(operation) failed"
            if let path, !reason.contains(path) { text += " in \(path)" }
            text += ": \(reason)"
        }
        if code == .diskFull && !Self.writeOperations.contains(operation) {
            // Opening or creating: no transaction was involved.
            text += "; free space on that file system and retry: nothing of the store was changed"
        } else if code.isPermissionError && operation == "mkdir" && code != .readOnlyFileSystem {
            text += "; check the owner and mode of its parent directories, or keep the store elsewhere"
        } else if let hint = code.hint {
            text += code.isPermissionError || code == .diskFull || code == .ioError ? "; \(hint)" : " (\(hint))"
        }
        return text
    }

    /// Operations that write the store's files (as opposed to opening or creating them).
    static let writeOperations: Set<String> = [
        "mdb_txn_commit", "mdb_put", "mdb_del", "mdb_drop", "mdb_env_sync", "Environment.write",
    ]

    /// What went wrong, without the operation, path or remedy (`no space left on the device; 0 bytes free of 1 MiB`).
    public var reason: String { detail ?? String(cString: mdb_strerror(code.rawValue)) }
}

/// The single gate for C return codes: `MDB_SUCCESS` passes, anything else throws.
///
/// Callers that treat `MDB_NOTFOUND` (or `MDB_KEYEXIST`) as an answer test for it first.
@inline(__always)
func check(_ rc: Int32, _ operation: String) throws(LMDBError) {
    guard rc == MDB_SUCCESS else { throw LMDBError(LMDBError.Code(rawValue: rc), operation) }
}
