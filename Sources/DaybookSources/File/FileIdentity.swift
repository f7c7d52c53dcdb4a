import Foundation

/// A file's identity (device, inode) and its current size, from `stat`.
struct FileIdentity: Sendable, CustomStringConvertible {
    var device: UInt64
    var inode: UInt64
    var size: UInt64

    init(device: UInt64, inode: UInt64, size: UInt64 = 0) {
        self.device = device
        self.inode = inode
        self.size = size
    }

    private init(_ st: stat) {
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: UInt64(max(0, st.st_size)))
    }

    /// The regular file at `path` now, nil when there is none.
    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        self.init(st)
    }

    /// The file open in `handle`.
    init?(handle: FileHandle) {
        var st = stat()
        guard fstat(handle.fileDescriptor, &st) == 0 else { return nil }
        self.init(st)
    }

    /// The same file (size aside).
    static func == (a: FileIdentity, b: FileIdentity) -> Bool { a.device == b.device && a.inode == b.inode }
    static func != (a: FileIdentity?, b: FileIdentity) -> Bool { a.map { !($0 == b) } ?? true }

    /// A file in the directory of `path` with this identity (a rotated `events.ndjson.1`), if any.
    static func find(_ identity: FileIdentity, besideOf path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)
        else { return nil }
        for name in names.sorted() {
            let candidate = (directory as NSString).appendingPathComponent(name)
            if let found = FileIdentity(path: candidate), found == identity { return candidate }
        }
        return nil
    }

    var description: String { "device \(device), inode \(inode)" }
}
