internal import CLMDB

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The space of the file system holding a path (`statvfs`), to tell a full disk from other
/// write failures: LMDB reports a short write — what a full disk usually causes — as `EIO`.
struct FileSystemSpace {
    /// Bytes this process can still write: root may use the blocks reserved for it, others not.
    var freeBytes: Int
    /// Size of the file system in bytes.
    var totalBytes: Int

    init?(path: String) {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        let blockSize = UInt64(fs.f_frsize)
        let free = UInt64(geteuid() == 0 ? fs.f_bfree : fs.f_bavail)
        freeBytes = Int(clamping: free.multipliedReportingOverflow(by: blockSize).partialValue)
        totalBytes = Int(clamping: UInt64(fs.f_blocks).multipliedReportingOverflow(by: blockSize).partialValue)
    }

    /// Whether the file system is (all but) full: less than 1 MiB, or less than 0.1% of it, free.
    var isFull: Bool { freeBytes < max(1 << 20, totalBytes / 1000) }

    /// `12 KiB free of 1 MiB`.
    var figures: String { "\(Self.bytes(freeBytes)) free of \(Self.bytes(totalBytes))" }

    static func bytes(_ n: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = n
        var unit = 0
        while value >= 1024 * 10 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return "\(value) \(units[unit])"
    }
}

extension LMDBError {
    /// This error named for what the operating system said, for an operation that wrote to the
    /// store at `path`: `ENOSPC`/`EDQUOT`, or `EIO` on a file system that is (all but) full, become
    /// ``Code/diskFull`` with the free space; any other `EIO` is ``Code/ioError``. Other codes
    /// only get the path.
    func classified(writing path: String) -> LMDBError {
        let located = inStore(path)
        let where_ = located.path ?? path
        switch code.rawValue {
        case ENOSPC, EDQUOT:
            let space = FileSystemSpace(path: where_).map { "; \($0.figures)" } ?? ""
            let reason = code.rawValue == EDQUOT ? "disk quota exceeded" : "no space left on the device"
            return LMDBError(.diskFull, operation, path: where_, detail: reason + space)
        case EIO:
            if let space = FileSystemSpace(path: where_), space.isFull {
                return LMDBError(
                    .diskFull, operation, path: where_,
                    detail: "the write came up short (LMDB reports that as an I/O error) with \(space.figures)")
            }
            return LMDBError(.ioError, operation, path: where_, detail: detail)
        default:
            return located
        }
    }
}

/// Disk space LMDB touches through a memory map, allocated before LMDB gets to it.
enum Preallocation {
    /// The blocks of `lock.mdb` LMDB writes through a shared memory map (the lock table and its
    /// reader slots). LMDB sizes a new or short lock file with `ftruncate`, which on a full file
    /// system (tmpfs in particular) succeeds without allocating anything, and then writes the
    /// lock table through the map: the first store on a full disk died with SIGBUS inside
    /// `mdb_env_open`. Allocating the blocks first (`fallocate` with `FALLOC_FL_KEEP_SIZE`, so the
    /// size LMDB sees does not change) turns that into an `ENOSPC` here, and also fills any hole
    /// an older lock file has.
    ///
    /// Best effort for anything but a full disk: a file that cannot be opened for writing (a
    /// read-only file system, permissions) or a file system without `fallocate` is left to LMDB,
    /// which reports it as before.
    static func lockFile(in directory: String, maxReaders: Int) throws(LMDBError) {
        #if os(Linux)
            let file = directory + "/lock.mdb"
            let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 {
                let error = errno
                if error == ENOSPC || error == EDQUOT {
                    throw LMDBError(LMDBError.Code(rawValue: error), "open(lock.mdb)").classified(writing: directory)
                }
                return
            }
            // Closing releases this process's fcntl locks on the file; none exist yet: the
            // environment is not open in this process (the registry is consulted first).
            defer { close(fd) }
            // LMDB: (maxReaders - 1) reader slots of one cache line plus a header of a few lines.
            let page = 4096
            let (slots, overflow) = maxReaders.multipliedReportingOverflow(by: 64)
            guard !overflow else { return }
            let length = (slots + page + page - 1) / page * page
            if daybook_allocate_keeping_size(fd, 0, off_t(length)) != 0 {
                let error = errno
                if error == ENOSPC || error == EDQUOT {
                    throw LMDBError(LMDBError.Code(rawValue: error), "fallocate(lock.mdb)")
                        .classified(writing: directory)
                }
            }
        #endif
    }

    /// Whether `directory` holds no LMDB data file yet, or an empty one: opening it creates a store.
    static func createsStore(in directory: String) -> Bool {
        var info = stat()
        return stat(directory + "/data.mdb", &info) != 0 || info.st_size == 0
    }

    /// After an open that was to create the store failed for lack of space: removes a data file
    /// shorter than its two meta pages, which LMDB would otherwise refuse for ever as "not an
    /// LMDB file", so the open succeeds once space is freed.
    static func removePartialDataFile(in directory: String) {
        let file = directory + "/data.mdb"
        var info = stat()
        guard stat(file, &info) == 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        if Int(info.st_size) < 2 * max(page, 4096) { unlink(file) }
    }
}
