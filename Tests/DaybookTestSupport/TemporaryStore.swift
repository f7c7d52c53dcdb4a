import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload
import Foundation

/// A fresh store in its own temporary directory, removed when the value goes away.
///
/// ```swift
/// let store = try TemporaryStore()
/// try store.engine.applyCatalog(bytes, now: now)
/// ```
public final class TemporaryStore {
    public let path: String
    let durable: Bool
    let digest: KeyDigest
    private var current: Engine?

    /// The engine on the store.
    public var engine: Engine { current! }

    /// - Parameters:
    ///   - durable: sync every commit (off by default: tests do not survive power loss).
    ///   - digest: the key digest (a degenerate one forces collisions).
    package init(durable: Bool = false, digest: KeyDigest = .standard) throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/daybook-test-\(UUID().uuidString)"
        self.durable = durable
        self.digest = digest
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        current = try Engine(path: path, durable: durable, digest: digest)
    }

    /// Closes the engine and opens the store again, as a restarted process would. The LMDB
    /// environment is only closed if the caller keeps no other reference to the old engine.
    public func reopen() throws {
        current = nil
        current = try Engine(path: path, durable: durable, digest: digest)
    }

    deinit {
        current = nil
        try? FileManager.default.removeItem(atPath: path)
    }
}
