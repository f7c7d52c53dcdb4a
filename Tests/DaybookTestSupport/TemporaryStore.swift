import DaybookEngine
import Foundation

/// A fresh store in its own temporary directory, removed when the value goes away.
///
/// ```swift
/// let store = try TemporaryStore()
/// try store.engine.applyCatalog(bytes, now: now)
/// ```
public final class TemporaryStore {
    public let path: String
    public let engine: Engine

    /// - Parameter durable: sync every commit (off by default: tests do not survive power loss).
    public init(durable: Bool = false) throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/daybook-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        engine = try Engine(path: path, durable: durable)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
