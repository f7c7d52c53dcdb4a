import DaybookStore
import Foundation
import LMDB

/// What ``Engine/backup(into:)`` wrote.
public struct BackupSummary: Sendable, Hashable {
    /// The copy's last log seq and journal position: the commit it is a copy of.
    public var lastSeq: UInt64
    public var journalPosition: UInt64
    /// The size of the copy's `data.mdb`.
    public var bytes: UInt64
}

extension Engine {
    /// A compact, consistent copy of the store in `path` (missing or an empty directory):
    /// `daybook backup`, and a cluster partition's snapshot (docs/scale-out.md §4). LMDB copies
    /// inside its own read transaction, so writers go on meanwhile and the copy holds exactly one
    /// commit; opened, it is a store like any other (ingesting the events after its last seq brings
    /// it to the same state as this one).
    public func backup(into path: String) throws -> BackupSummary {
        try ScratchDirectory.requireEmpty(path, purpose: "backup")
        try store.env.copy(to: path)
        let copy = try Store(path: path, access: .read)
        let state = try copy.env.read { txn in try EngineState.load(copy, txn) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "/data.mdb"))?[.size] as? UInt64
        return BackupSummary(lastSeq: state.lastSeq, journalPosition: state.journalPosition, bytes: size ?? 0)
    }
}
