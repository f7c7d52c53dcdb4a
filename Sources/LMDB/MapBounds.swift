internal import CLMDB
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Where this process maps `data.mdb`, and how much of that map the file backs: the bounds every
/// key and value LMDB returns is checked against before it is copied.
///
/// LMDB keeps no checksums: on a damaged page a node's length can be anything, and LMDB returns
/// `mv_data`/`mv_size` as the page says. Copying such a value would read past the end of the file
/// (SIGBUS: the map is larger than the file) or past the map (SIGSEGV). So a value that starts in
/// the map must end within both the map and the file, else the read throws
/// ``LMDBError/Code/corrupted``; in a read-only transaction every value lies in the map (LMDB
/// returns pointers into its pages), so one outside it is damage too. Values of a write
/// transaction outside the map are its own dirty pages, on the heap.
///
/// `mdb_env_info` reports the map address only for `MDB_FIXEDMAP`, so the map is found in
/// `/proc/self/maps` by the file's inode (Linux); elsewhere only the length sanity check applies.
final class MapGuard: Sendable {
    /// `data.mdb`'s descriptor (LMDB's), for `fstat`.
    private let fd: Int32
    private let inode: UInt64
    /// The map's first address and length; nil when not known (found again after a resize).
    private let region = Mutex<MapRegion?>(nil)
    /// The file size last seen; grows as writers extend the file (LMDB never shrinks it).
    private let fileSize = Atomic<Int>(0)

    init(fd: Int32) {
        self.fd = fd
        var info = stat()
        if fstat(fd, &info) == 0 {
            inode = UInt64(info.st_ino)
            fileSize.store(Int(info.st_size), ordering: .relaxed)
        } else {
            inode = 0
        }
    }

    /// The current file size (fstat), remembered for the fast path.
    @discardableResult
    func refreshFileSize() -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return fileSize.load(ordering: .relaxed) }
        fileSize.store(Int(info.st_size), ordering: .relaxed)
        return Int(info.st_size)
    }

    /// Forgets the map's address: LMDB maps anew on mdb_env_set_mapsize.
    func invalidate() { region.withLock { $0 = nil } }

    /// The bounds for a transaction beginning now (the caller holds the resize lock shared, so
    /// the map stays where it is until the transaction ends).
    func bounds() -> MapBounds {
        let current = region.withLock { region -> MapRegion? in
            if region == nil { region = MapRegion.find(inode: inode) }
            return region
        }
        return MapBounds(region: current, guard: self)
    }

    var knownFileSize: Int { fileSize.load(ordering: .relaxed) }
}

/// One contiguous mapping of `data.mdb`.
struct MapRegion: Sendable, Equatable {
    var start: UInt
    var length: UInt

    /// The mapping of the file with `inode` at offset 0, from `/proc/self/maps` (adjacent
    /// mappings of the file with contiguous offsets are merged); nil when not found.
    static func find(inode: UInt64) -> MapRegion? {
        #if os(Linux)
            guard inode != 0 else { return nil }
            let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var text: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                text.append(contentsOf: chunk[0..<n])
            }
            var found: MapRegion?
            for line in text.split(separator: UInt8(ascii: "\n")) {
                // start-end perms offset dev inode [path]
                let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
                guard fields.count >= 5, let fileInode = decimal(fields[4]), fileInode == inode,
                    let offset = hex(fields[2])
                else { continue }
                let range = fields[0].split(separator: UInt8(ascii: "-"))
                guard range.count == 2, let lo = hex(range[0]), let hi = hex(range[1]), hi > lo else { continue }
                if let current = found, current.start + current.length == lo, offset == current.length {
                    found = MapRegion(start: current.start, length: hi - current.start)
                } else if offset == 0 && found == nil {
                    found = MapRegion(start: lo, length: hi - lo)
                }
            }
            return found
        #else
            return nil
        #endif
    }

    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt? {
        var value: UInt = 0
        for c in digits {
            let d: UInt
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt(c - UInt8(ascii: "a") + 10)
            default: return nil
            }
            guard value >> 60 == 0 else { return nil }
            value = value << 4 | d
        }
        return digits.isEmpty ? nil : value
    }

    private static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for c in digits {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1 && !o2 else { return nil }
            value = sum
        }
        return digits.isEmpty ? nil : value
    }
}

/// The bounds one transaction checks what LMDB returns against (see ``MapGuard``).
struct MapBounds {
    let region: MapRegion?
    let `guard`: MapGuard?

    /// No checks beyond the length sanity check (no environment to ask).
    static let unchecked = MapBounds(region: nil, guard: nil)

    /// Copies the `what` ("key", "value") LMDB returned, after checking that it lies where it may.
    func copy(_ val: MDB_val, _ what: String, _ operation: String, readOnly: Bool) throws(LMDBError) -> [UInt8] {
        guard let data = val.mv_data, val.mv_size > 0 else { return [] }
        try check(UInt(bitPattern: data), UInt(val.mv_size), what, operation, readOnly: readOnly)
        return Array(UnsafeRawBufferPointer(start: data, count: val.mv_size))
    }

    private func check(_ start: UInt, _ size: UInt, _ what: String, _ operation: String, readOnly: Bool)
        throws(LMDBError)
    {
        // LMDB stores lengths in 32 bits (values) and 16 bits (keys); anything larger is garbage.
        guard size <= UInt(UInt32.max) else {
            throw damaged(operation, "LMDB returned a \(what) of \(size) bytes")
        }
        guard let region, let `guard` else { return }
        let mapEnd = region.start + region.length
        guard start >= region.start && start < mapEnd else {
            if readOnly {
                throw damaged(operation, "LMDB returned a \(what) outside the memory map of data.mdb")
            }
            return  // a dirty page of this write transaction
        }
        let (end, overflow) = start.addingReportingOverflow(size)
        func fits(_ fileSize: Int) -> Bool {
            !overflow && end <= mapEnd && end - region.start <= UInt(max(0, fileSize))
        }
        if fits(`guard`.knownFileSize) || fits(`guard`.refreshFileSize()) { return }
        let offset = start - region.start
        throw damaged(
            operation,
            "LMDB returned a \(what) of \(size) bytes at offset \(offset) of data.mdb, past the end of the file (\(`guard`.knownFileSize) bytes) or of the map (\(region.length) bytes)"
        )
    }

    private func damaged(_ operation: String, _ detail: String) -> LMDBError {
        LMDBError(.corrupted, operation, detail: "\(detail): a page is damaged")
    }
}

// MARK: - LMDB assertions

/// What the assertion hook adds after its message; see ``Environment/damageAdvice``.
private let damageAdviceText = Mutex("restore the store from a backup")

extension Environment {
    /// What to tell the user when LMDB fails an internal assertion on a damaged page, after
    /// "store damaged: LMDB assertion failed in DIR (…); ". The default is "restore the store from a
    /// backup"; a program names its own check command here.
    public static var damageAdvice: String {
        get { damageAdviceText.withLock { $0 } }
        set { damageAdviceText.withLock { $0 = newValue } }
    }
}

/// LMDB's assertion callback (`mdb_env_set_assert`). LMDB calls `abort()` after it returns, so it
/// does not return: an assertion in LMDB means it met a page that breaks its invariants (a damaged
/// store), and the process ends with exit status 1 and a message saying so, not with SIGABRT.
let lmdbAssertionHook: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { env, message in
    var path: UnsafePointer<CChar>?
    if let env { _ = mdb_env_get_path(env, &path) }
    let directory = path.map { String(cString: $0) } ?? "the store"
    let what = message.map { String(cString: $0) } ?? "unknown assertion"
    let text = "store damaged: LMDB assertion failed in \(directory) (\(what)); \(Environment.damageAdvice)\n"
    var bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + written, $0.count - written) }
        if n <= 0 { break }
        written += n
    }
    _exit(1)
}
