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
    private var current: Engine?

    /// The engine on the store.
    public var engine: Engine { current! }

    /// - Parameter durable: sync every commit (off by default: tests do not survive power loss).
    public init(durable: Bool = false) throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/daybook-test-\(UUID().uuidString)"
        self.durable = durable
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        current = try Engine(path: path, durable: durable)
    }

    /// Closes the engine and opens the store again, as a restarted process would. The LMDB
    /// environment is only closed if the caller keeps no other reference to the old engine.
    public func reopen() throws {
        current = nil
        current = try Engine(path: path, durable: durable)
    }

    deinit {
        current = nil
        try? FileManager.default.removeItem(atPath: path)
    }
}
