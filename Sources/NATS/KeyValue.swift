internal import CNATS

/// A JetStream key-value bucket (cnats `kvStore`): small shared state with compare-and-set
/// writes, the base of the cluster's configuration, leases and catalog versions
/// (docs/scale-out.md). Every write answers the key's new **revision**, the bucket stream's
/// sequence: strictly increasing over the bucket's life.
public final class KeyValue: @unchecked Sendable {
    // @unchecked: cnats's kvStore is safe to use from any thread; the pointer is immutable.
    private let handle: OpaquePointer
    /// Keeps the context (and its connection) alive as long as the bucket is used.
    private let context: JetStream
    public let bucket: String

    /// One key's current value and revision.
    public struct Entry: Sendable, Hashable {
        public var value: [UInt8]
        public var revision: UInt64
    }

    init(handle: OpaquePointer, context: JetStream, bucket: String) {
        self.handle = handle
        self.context = context
        self.bucket = bucket
    }

    deinit { context.connection.destroyAfterClose(.keyValue(handle)) }  // see NATSConnection.destroyAfterClose

    /// The key's value, nil when it has none (never written, deleted, or expired).
    public func get(_ key: String) throws(JetStreamError) -> Entry? {
        var entry: OpaquePointer?
        let status = kvStore_Get(&entry, handle, key)
        defer { kvEntry_Destroy(entry) }
        if status == NATS_NOT_FOUND { return nil }
        try check(status, "reading \(key) of bucket \(bucket)", server: context.server)
        let length = Int(kvEntry_ValueLen(entry))
        var value: [UInt8] = []
        if length > 0, let bytes = kvEntry_Value(entry) {
            value = Array(UnsafeRawBufferPointer(start: bytes, count: length))
        }
        return Entry(value: value, revision: kvEntry_Revision(entry))
    }

    /// The keys that hold a value now (deleted and expired ones excluded), in no particular order.
    public func keys() throws(JetStreamError) -> [String] {
        var list = kvKeysList()
        let status = kvStore_Keys(&list, handle, nil)
        defer { kvKeysList_Destroy(&list) }
        if status == NATS_NOT_FOUND { return [] }
        try check(status, "listing the keys of bucket \(bucket)", server: context.server)
        return (0..<Int(list.Count)).compactMap { i in list.Keys?[i].map { String(cString: $0) } }
    }

    /// How long an entry lives after its last write (the bucket's max age); nil: for ever.
    public func ttl() throws(JetStreamError) -> Duration? {
        var status: OpaquePointer?
        try check(kvStore_Status(&status, handle), "reading the status of bucket \(bucket)", server: context.server)
        defer { kvStatus_Destroy(status) }
        let nanoseconds = kvStatus_TTL(status)
        return nanoseconds > 0 ? .nanoseconds(nanoseconds) : nil
    }

    /// Writes `value` whatever is there; returns the new revision.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8]) throws(JetStreamError) -> UInt64 {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes { kvStore_Put(&revision, handle, key, $0.baseAddress, Int32($0.count)) }
        try check(status, "writing \(key) of bucket \(bucket)", server: context.server)
        return revision
    }

    /// Writes `value` only if the key has none (never written, deleted or expired): its revision,
    /// or nil when the key holds a value (someone else created it).
    public func create(_ key: String, _ value: [UInt8]) throws(JetStreamError) -> UInt64? {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes { kvStore_Create(&revision, handle, key, $0.baseAddress, Int32($0.count)) }
        if status == NATS_OK { return revision }
        // A refused create and a failed one look alike from cnats: the key's state tells them apart.
        if try get(key) != nil { return nil }
        try check(status, "creating \(key) of bucket \(bucket)", server: context.server)
        return nil
    }

    /// Writes `value` only if the key's revision is still `last`: the new revision, or nil when
    /// the key moved on (another writer, or it was deleted or expired).
    public func update(_ key: String, _ value: [UInt8], last: UInt64) throws(JetStreamError) -> UInt64? {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes {
            kvStore_Update(&revision, handle, key, $0.baseAddress, Int32($0.count), last)
        }
        if status == NATS_OK { return revision }
        if try get(key)?.revision != last { return nil }
        try check(status, "updating \(key) of bucket \(bucket)", server: context.server)
        return nil
    }

    /// Removes the key's value (a delete marker: a later ``create(_:_:)`` succeeds).
    public func delete(_ key: String) throws(JetStreamError) {
        try check(kvStore_Delete(handle, key), "deleting \(key) of bucket \(bucket)", server: context.server)
    }

    /// Removes the key's value only if its revision is still `last`: true when it did, false when
    /// the key moved on (another writer, or it expired and was taken).
    public func delete(_ key: String, last: UInt64) throws(JetStreamError) -> Bool {
        var code = jsErrCode(rawValue: 0)
        let status = daybook_kv_delete_at(context.handle, bucket, key, last, &code)
        if status == NATS_OK { return true }
        if code == JSStreamWrongLastSequenceErr { return false }
        try check(status, code, "deleting \(key) of bucket \(bucket) at revision \(last)", server: context.server)
        return false
    }
}

extension JetStream {
    /// The key-value bucket `name`, created when missing: `history` revisions kept per key,
    /// entries removed `ttl` after their last write (nil: never), on `replicas` servers.
    /// Creating it again with the same settings binds to the existing one.
    public func keyValue(_ name: String, history: Int = 1, ttl: Duration? = nil, replicas: Int = 1)
        throws(JetStreamError) -> KeyValue
    {
        var kv: OpaquePointer?
        let status = daybook_kv_create(
            &kv, handle, name, Int64(max(1, min(history, 64))), ttl?.nanoseconds ?? 0, Int64(replicas))
        try check(status, "creating key-value bucket \(name)", server: server)
        return KeyValue(handle: kv!, context: self, bucket: name)
    }

    /// The existing key-value bucket `name`, as it was created; nil when there is none.
    public func existingKeyValue(_ name: String) throws(JetStreamError) -> KeyValue? {
        var kv: OpaquePointer?
        let status = js_KeyValue(&kv, handle, name)
        if status == NATS_NOT_FOUND { return nil }
        try check(status, "opening key-value bucket \(name)", server: server)
        return KeyValue(handle: kv!, context: self, bucket: name)
    }
}
