import DaybookSources
import NATS

/// Who holds a partition: the instance id and the URL it answers reads on.
public struct LeaseHolder: Sendable, Hashable {
    public var instance: String
    public var url: String
    public init(instance: String, url: String) {
        self.instance = instance
        self.url = url
    }
}

/// The lease of one partition in the `daybook-leases` bucket (docs/scale-out.md §3): taken with
/// create-if-absent, renewed with update-at-revision, released with delete-at-revision, expired by
/// the bucket's TTL when its holder stops renewing. The **epoch** of a term is the revision of the
/// create that began it: bucket revisions only grow, so a later term always has a larger epoch,
/// which is what the warehouse's fence compares.
///
/// Used from one thread (the partition's lease keeper).
public final class PartitionLease {
    public let partition: Int
    public let holder: LeaseHolder
    private let kv: KeyValue
    /// The revision of our last write: what the next renewal or the release expects.
    private var revision: UInt64?
    /// The epoch of the term held, nil when not held.
    public private(set) var epoch: UInt64?

    public init(_ kv: KeyValue, partition: Int, holder: LeaseHolder) {
        self.kv = kv
        self.partition = partition
        self.holder = holder
    }

    public var key: String { "lease.\(partition)" }

    /// Takes the lease when nobody holds it: the new term's epoch, or nil when another holder has it.
    public func acquire() throws(JetStreamError) -> UInt64? {
        guard epoch == nil else { return epoch }
        guard let created = try kv.create(key, Self.value(holder, epoch: nil)) else { return nil }
        revision = created
        epoch = created
        return created
    }

    /// Renews the lease: true while it is held; false when it was lost (it expired, and maybe
    /// another instance took it): the caller must stop writing the partition at once.
    public func renew() throws(JetStreamError) -> Bool {
        guard let revision, let epoch else { return false }
        guard let next = try kv.update(key, Self.value(holder, epoch: epoch), last: revision) else {
            self.revision = nil
            self.epoch = nil
            return false
        }
        self.revision = next
        return true
    }

    /// Gives the lease up (at once, for the next owner), only if it is still ours.
    public func release() throws(JetStreamError) {
        guard let revision else { return }
        _ = try kv.delete(key, last: revision)
        self.revision = nil
        epoch = nil
    }

    /// The holder of partition `p` and its term's epoch, nil when nobody holds it.
    public static func holder(of p: Int, in kv: KeyValue) throws(JetStreamError) -> (LeaseHolder, epoch: UInt64)? {
        guard let entry = try kv.get("lease.\(p)") else { return nil }
        let fields = String(decoding: entry.value, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false)
        guard fields.count == 3 else { return nil }
        let epoch = UInt64(fields[2]) ?? entry.revision  // the first write of a term does not know its revision
        return (LeaseHolder(instance: String(fields[0]), url: String(fields[1])), epoch)
    }

    /// `instance \n url \n epoch` (the epoch empty in the create).
    static func value(_ h: LeaseHolder, epoch: UInt64?) -> [UInt8] {
        Array("\(h.instance)\n\(h.url)\n\(epoch.map(String.init) ?? "")".utf8)
    }
}
