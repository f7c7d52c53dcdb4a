import DaybookCore
import DaybookSources
import NATS
import Synchronization

/// The catalog versions of a cluster, from the `daybook-catalog` bucket (docs/scale-out.md §2):
/// `version.<n>` holds version n's document, written once with create-if-absent, so every
/// partition applies the same documents in the same order and `catalog_version` N means the same
/// catalog everywhere.
public final class CatalogFeed: Sendable {
    private let kv: KeyValue
    private let known = Mutex<[[UInt8]]>([])

    public init(_ kv: KeyValue) { self.kv = kv }

    public static func key(_ version: Int) -> String { "version.\(version)" }

    /// Every version's document, in order (those read before are not read again).
    public func versions() throws(JetStreamError) -> [[UInt8]] {
        var documents = known.withLock { $0 }
        while let entry = try kv.get(Self.key(documents.count + 1)) { documents.append(entry.value) }
        let result = documents
        known.withLock { if $0.count < result.count { $0 = result } }
        return result
    }

    /// Publishes `document` as the next version: its number, or nil when it equals the newest
    /// version's document (nothing is published). Two concurrent publishers cannot both take n:
    /// the loser retries at n + 1.
    public func publish(_ document: [UInt8]) throws(JetStreamError) -> Int? {
        while true {
            let documents = try versions()
            if documents.last == document { return nil }
            let n = documents.count + 1
            if try kv.create(Self.key(n), document) != nil { return n }
        }
    }
}
