import DaybookEngine
import DaybookStore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One partition snapshot in a ``SnapshotStore``: a complete, compact store (`data.mdb`) of the
/// partition as of one commit, named by the stream checkpoint it holds.
public struct PartitionSnapshot: Sendable, Hashable {
    public var partition: Int
    /// The stream sequence of the partition's last stored message in the copy: replay resumes
    /// at `checkpoint + 1`.
    public var checkpoint: UInt64
    /// The snapshot's directory (holding `data.mdb`): open it as a store, or restore it with
    /// ``SnapshotStore/restore(partition:into:source:)``.
    public var path: String

    public init(partition: Int, checkpoint: UInt64, path: String) {
        self.partition = partition
        self.checkpoint = checkpoint
        self.path = path
    }
}

/// What ``SnapshotStore/restore(partition:into:source:)`` did.
public enum RestoreOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The target now holds a copy of the newest snapshot, at this checkpoint (whatever store it
    /// held before, older, is gone).
    case restored(checkpoint: UInt64)
    /// The target's own store was kept: its checkpoint is at or past the newest snapshot's, or
    /// there is no snapshot.
    case keptLocal(checkpoint: UInt64)
    /// No snapshot and no store at the target: the partition starts from the stream's first message.
    case nothingToRestore

    public var description: String {
        switch self {
        case .restored(let c): "restored the snapshot at stream seq \(c)"
        case .keptLocal(let c): "kept the local store at stream seq \(c)"
        case .nothingToRestore: "nothing to restore: no snapshot and no local store"
        }
    }
}

/// The partitions' snapshots under `--snapshot-dir` (docs/scale-out.md §4), a directory every
/// instance shares (a shared file system), laid out as
///
/// ```
/// ROOT/p07/00000000000000001234/data.mdb   snapshot of partition 7 at stream checkpoint 1234
/// ROOT/p07/.tmp-<pid>-<random>/             a save in progress (or left by a crash)
/// ROOT/p07/.deleting-<random>/              an old snapshot being removed
/// ```
///
/// A snapshot is a directory (``Engine/backup(into:)`` writes one), named by its checkpoint in
/// 20 digits so names sort as numbers do. It appears whole or not at all: it is written under a
/// temporary name in the same directory, its `data.mdb` and the directory are fsynced, and it is
/// renamed to its name (then the partition directory is fsynced); it is never written again. Old
/// ones are renamed to a `.deleting-` name before they are removed, so a half-removed snapshot
/// never looks like one. Everything whose name is not 20 digits, or that holds no `data.mdb`, is
/// not a snapshot. Temporaries older than an hour (a crashed save) are removed by the next save.
///
/// Only the partition's owner (the lease holder) saves; any instance may read.
public struct SnapshotStore: PartitionSnapshots {
    /// `--snapshot-dir`.
    public let root: String
    /// How many snapshots per partition ``save(_:partition:source:)`` keeps (the newest).
    public let keep: Int

    public init(root: String, keep: Int = 2) {
        precondition(keep >= 1, "a snapshot store keeps at least one snapshot")
        self.root = root
        self.keep = keep
    }

    /// `ROOT/p07`.
    public func directory(partition: Int) -> String {
        root + "/" + Partitioning.directoryName(partition: partition)
    }

    /// The directory of the snapshot at `checkpoint`: `ROOT/p07/00000000000000001234`.
    public func path(partition: Int, checkpoint: UInt64) -> String {
        let digits = String(checkpoint)
        return directory(partition: partition) + "/" + String(repeating: "0", count: 20 - digits.count) + digits
    }

    // MARK: Save

    /// Snapshots the partition's store: a compact copy (``Engine/backup(into:)``, consistent at one
    /// commit) written under a temporary name, named by the copy's own checkpoint of `source`
    /// (`nats:DAYBOOK_P07/daybook`), then renamed into place; the newest ``keep`` are kept and older
    /// ones removed. If a snapshot at that checkpoint exists already, nothing is written and it is
    /// returned.
    ///
    /// `engine` may be a read-only `Engine` of the partition's store (the writer goes on while the
    /// store is copied: LMDB copies inside its own read transaction) or the writer's own, on its
    /// thread (`writer.perform { try snapshots.save($0, …) }`: the writer then waits for the copy).
    ///
    /// A store without a checkpoint of `source` is snapshotted at checkpoint 0 if it holds no
    /// events (a catalog only); one with events is refused.
    ///
    /// - Throws: ``ClusterError/notPartitionStore(path:source:reason:)``,
    ///   ``ClusterError/snapshotIO(path:operation:reason:)``, or what the copy throws (a full disk).
    @discardableResult
    public func save(_ engine: Engine, partition: Int, source: String) throws -> PartitionSnapshot {
        let directory = self.directory(partition: partition)
        try Durable.makeDirectories(directory)
        removeLeftovers(in: directory)
        // Nothing committed since the snapshot at the live checkpoint: copying again would give it
        // again. (A writer may commit right after this read; the next save takes that.)
        if let live = try Self.streamCheckpoint(engine, path: "the live store", source: source),
            let existing = try snapshot(partition: partition, checkpoint: live)
        {
            return existing
        }
        let temporary = directory + "/.tmp-\(getpid())-\(Self.randomName())"
        do {
            _ = try engine.backup(into: temporary)
            // The copy's checkpoint, not the live store's: it names what the copy holds.
            let checkpoint = try Self.storeCheckpoint(at: temporary, source: source) ?? 0
            // Opening the copy made its lock file; a snapshot is only data.mdb.
            try? FileManager.default.removeItem(atPath: temporary + "/lock.mdb")
            let final = path(partition: partition, checkpoint: checkpoint)
            if let existing = try snapshot(partition: partition, checkpoint: checkpoint) {
                try? FileManager.default.removeItem(atPath: temporary)
                return existing
            }
            try Durable.syncFile(temporary + "/data.mdb")
            try Durable.syncDirectory(temporary)
            if rename(temporary, final) != 0 {
                let error = errno
                // Another save of the same checkpoint won the rename: its snapshot is this one.
                if error == EEXIST || error == ENOTEMPTY,
                    let existing = try snapshot(partition: partition, checkpoint: checkpoint)
                {
                    try? FileManager.default.removeItem(atPath: temporary)
                    return existing
                }
                throw ClusterError.snapshotIO(
                    path: final, operation: "renaming \(temporary) to", reason: Durable.text(error))
            }
            try Durable.syncDirectory(directory)
            try prune(partition: partition)
            return PartitionSnapshot(partition: partition, checkpoint: checkpoint, path: final)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Removes all but the newest ``keep`` snapshots of the partition (renamed aside first).
    func prune(partition: Int) throws {
        let directory = self.directory(partition: partition)
        for old in try snapshots(partition: partition).dropFirst(keep) {
            let aside = directory + "/.deleting-\(Self.randomName())"
            // Another instance may be pruning too: whoever renames it removes it.
            guard rename(old.path, aside) == 0 else { continue }
            try? FileManager.default.removeItem(atPath: aside)
        }
    }

    /// Removes `.deleting-` entries, and `.tmp-` entries not written to for an hour (a save that
    /// crashed: a save in progress writes its data.mdb continuously).
    private func removeLeftovers(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let now = Date()
        for name in names {
            let path = directory + "/" + name
            if name.hasPrefix(".deleting-") {
                try? FileManager.default.removeItem(atPath: path)
            } else if name.hasPrefix(".tmp-") {
                let times = [path, path + "/data.mdb"].compactMap {
                    (try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date
                }
                if let last = times.max(), now.timeIntervalSince(last) > Self.staleTemporarySeconds {
                    try? FileManager.default.removeItem(atPath: path)
                }
            }
        }
    }

    /// How long a `.tmp-` entry may go unwritten before a save takes it for a crashed one.
    static let staleTemporarySeconds: TimeInterval = 3600

    // MARK: Listing

    /// The partition's snapshots, newest (highest checkpoint) first. Temporaries and anything not
    /// laid out as a snapshot (a name that is not 20 digits, no `data.mdb`) are ignored.
    public func snapshots(partition: Int) throws -> [PartitionSnapshot] {
        let directory = self.directory(partition: partition)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            var info = stat()
            if stat(directory, &info) != 0, errno == ENOENT { return [] }
            throw ClusterError.snapshotIO(path: directory, operation: "listing", reason: "\(error)")
        }
        var found: [PartitionSnapshot] = []
        for name in names where name.utf8.count == 20 && name.utf8.allSatisfy({ (48...57).contains($0) }) {
            guard let checkpoint = UInt64(name) else { continue }  // 20 digits above UInt64.max
            let path = directory + "/" + name
            guard Durable.isRegularFile(path + "/data.mdb") else { continue }
            found.append(PartitionSnapshot(partition: partition, checkpoint: checkpoint, path: path))
        }
        return found.sorted { $0.checkpoint > $1.checkpoint }
    }

    /// The partition's snapshot with the highest checkpoint, nil when it has none.
    public func newest(partition: Int) throws -> PartitionSnapshot? {
        try snapshots(partition: partition).first
    }

    /// The snapshot at exactly `checkpoint`, if there is one.
    func snapshot(partition: Int, checkpoint: UInt64) throws -> PartitionSnapshot? {
        let path = self.path(partition: partition, checkpoint: checkpoint)
        guard Durable.isRegularFile(path + "/data.mdb") else { return nil }
        return PartitionSnapshot(partition: partition, checkpoint: checkpoint, path: path)
    }

    // MARK: Restore

    /// Gives `target` (the partition's store directory, `DIR/p07`) the newest snapshot when it is
    /// newer than what `target` holds: when `target` holds no store, or a store whose checkpoint of
    /// `source` is below the newest snapshot's, the snapshot's `data.mdb` is copied into a
    /// temporary sibling (`DIR/.p07.restoring-…`), fsynced and checked (opened, its checkpoint
    /// read), the old store is renamed aside (`DIR/.p07.replaced-…`), the copy renamed to `target`,
    /// and the old store removed. Otherwise `target` is kept as it is. Siblings of those names
    /// that a crashed restore left are removed first.
    ///
    /// The target store must not be open, in this process or another, while this runs: open it
    /// after (LMDB must not have one environment open twice in a process, and a writer elsewhere
    /// would go on writing the store that is replaced).
    ///
    /// - Throws: ``ClusterError/notPartitionStore(path:source:reason:)`` when `target` holds a
    ///   store with events but no stream checkpoint of `source`, or files but no store (neither is
    ///   replaced); ``ClusterError/snapshotIO(path:operation:reason:)``; what opening a damaged
    ///   store or snapshot throws (`StoreError`).
    public func restore(partition: Int, into target: String, source: String) throws -> RestoreOutcome {
        let target = target.count > 1 && target.hasSuffix("/") ? String(target.dropLast()) : target
        let parent =
            (target as NSString).deletingLastPathComponent.isEmpty
            ? "." : (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        removeRestoreLeftovers(parent: parent, base: base)
        let local = try Self.storeCheckpoint(at: target, source: source)
        guard let snapshot = try newest(partition: partition) else {
            return local.map { .keptLocal(checkpoint: $0) } ?? .nothingToRestore
        }
        if let local, local >= snapshot.checkpoint { return .keptLocal(checkpoint: local) }

        let copy = parent + "/.\(base).restoring-\(Self.randomName())"
        do {
            try Durable.makeDirectories(copy)
            try Durable.copyFile(from: snapshot.path + "/data.mdb", to: copy + "/data.mdb")
            try Durable.syncDirectory(copy)
            let copied = try Self.storeCheckpoint(at: copy, source: source) ?? 0
            guard copied == snapshot.checkpoint else {
                throw ClusterError.notPartitionStore(
                    path: snapshot.path, source: source,
                    reason: "the snapshot named for checkpoint \(snapshot.checkpoint) holds checkpoint \(copied)")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: copy)
            throw error
        }
        var aside: String?
        if Durable.exists(target) {
            let path = parent + "/.\(base).replaced-\(Self.randomName())"
            guard rename(target, path) == 0 else {
                let reason = Durable.text(errno)
                try? FileManager.default.removeItem(atPath: copy)
                throw ClusterError.snapshotIO(path: target, operation: "moving aside", reason: reason)
            }
            aside = path
        }
        guard rename(copy, target) == 0 else {
            let reason = Durable.text(errno)
            if let aside { _ = rename(aside, target) }  // put the old store back
            throw ClusterError.snapshotIO(path: target, operation: "renaming \(copy) to", reason: reason)
        }
        try Durable.syncDirectory(parent)
        if let aside { try? FileManager.default.removeItem(atPath: aside) }
        return .restored(checkpoint: snapshot.checkpoint)
    }

    /// Removes what a crashed restore of `parent/base` left: `.base.restoring-…` and `.base.replaced-…`.
    private func removeRestoreLeftovers(parent: String, base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasPrefix(".\(base).restoring-") || name.hasPrefix(".\(base).replaced-") {
            try? FileManager.default.removeItem(atPath: parent + "/" + name)
        }
    }

    // MARK: Checkpoints

    /// The stream checkpoint of `source` in the store at `path`, opened read-only and closed again;
    /// nil when `path` holds no store (missing, or a directory without `data.mdb`, empty or with
    /// only a lock file). A store with no checkpoint of `source` and no events has checkpoint 0.
    ///
    /// - Throws: ``ClusterError/notPartitionStore(path:source:reason:)`` for a store with events but
    ///   no stream checkpoint of `source`, and for a directory that holds other files but no store;
    ///   `StoreError` for a damaged store.
    public static func storeCheckpoint(at path: String, source: String) throws -> UInt64? {
        guard Durable.exists(path) else { return nil }
        guard Durable.isDirectory(path) else {
            throw ClusterError.notPartitionStore(path: path, source: source, reason: "it is not a directory")
        }
        if !Durable.exists(path + "/data.mdb") {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            guard names.allSatisfy({ $0 == "lock.mdb" }) else {
                throw ClusterError.notPartitionStore(
                    path: path, source: source,
                    reason: "it holds \(names.sorted().prefix(3).joined(separator: ", ")) but no data.mdb")
            }
            return nil
        }
        let engine = try Engine(path: path, access: .read)
        return try streamCheckpoint(engine, path: path, source: source)
    }

    /// `engine`'s stream checkpoint of `source` (0 for a store without one and without events).
    static func streamCheckpoint(_ engine: Engine, path: String, source: String) throws -> UInt64? {
        switch try engine.sourcePosition(source: source)?.place {
        case .stream(let sequence): return sequence
        case .file:
            throw ClusterError.notPartitionStore(
                path: path, source: source, reason: "its checkpoint is a file position")
        case nil:
            let events = try engine.stats().lastSeq
            guard events == 0 else {
                throw ClusterError.notPartitionStore(
                    path: path, source: source, reason: "it holds \(events) events but no checkpoint of that source")
            }
            return 0
        }
    }

    static func randomName() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 36)
    }
}

/// The durable file operations snapshots are made of: what is renamed into place has been fsynced,
/// and so has the directory entry that names it.
enum Durable {
    static func text(_ error: Int32) -> String { String(cString: strerror(error)) }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    /// `mkdir -p`, fsyncing the parent of every directory it creates.
    static func makeDirectories(_ path: String) throws(ClusterError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw .snapshotIO(path: path, operation: "creating the directory", reason: "a file is in the way")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectories(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw .snapshotIO(path: path, operation: "creating the directory", reason: text(errno))
        }
        try syncDirectory(parent.isEmpty ? "." : parent)
    }

    static func syncFile(_ path: String) throws(ClusterError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .snapshotIO(path: path, operation: "opening", reason: text(errno)) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .snapshotIO(path: path, operation: "fsyncing", reason: text(errno)) }
    }

    /// fsync of a directory: its entries (a rename, a new name) are on disk after it. File systems
    /// that cannot sync a directory (EINVAL) are taken as they are.
    static func syncDirectory(_ path: String) throws(ClusterError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .snapshotIO(path: path, operation: "opening the directory", reason: text(errno)) }
        defer { close(fd) }
        guard fsync(fd) == 0 || errno == EINVAL else {
            throw .snapshotIO(path: path, operation: "fsyncing the directory", reason: text(errno))
        }
    }

    /// Copies a file to a new path (which must not exist) and fsyncs the copy.
    static func copyFile(from source: String, to destination: String) throws(ClusterError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .snapshotIO(path: source, operation: "opening", reason: text(errno)) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw .snapshotIO(path: destination, operation: "creating", reason: text(errno)) }
        defer { close(output) }
        let reader = FileHandle(fileDescriptor: input, closeOnDealloc: false)
        let writer = FileHandle(fileDescriptor: output, closeOnDealloc: false)
        while true {
            let chunk: Data
            do {
                guard let read = try reader.read(upToCount: 1 << 20), !read.isEmpty else { break }
                chunk = read
            } catch {
                throw .snapshotIO(path: source, operation: "reading", reason: error.localizedDescription)
            }
            do {
                try writer.write(contentsOf: chunk)
            } catch {
                throw .snapshotIO(path: destination, operation: "writing", reason: error.localizedDescription)
            }
        }
        guard fsync(output) == 0 else {
            throw .snapshotIO(path: destination, operation: "fsyncing", reason: text(errno))
        }
    }
}
