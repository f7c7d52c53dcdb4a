import DaybookCluster
import DaybookSources
import DaybookTestSupport
import NATS
import Testing

/// Partition leases against a real nats-server (docs/scale-out.md §3).
@Suite("Partition leases", .watchdog(seconds: 600))
struct LeaseTests {
    @Test func oneHolderAtATimeEpochsGrowAndReleaseIsOnlyOurs() throws {
        let server = try NATSServer()
        let kv = try server.connect().keyValue("daybook-leases", ttl: .seconds(60))
        let a = PartitionLease(kv, partition: 7, holder: LeaseHolder(instance: "a", url: "http://127.0.0.1:1"))
        let b = PartitionLease(kv, partition: 7, holder: LeaseHolder(instance: "b", url: "http://127.0.0.1:2"))
        let first = try #require(try a.acquire())
        #expect(try b.acquire() == nil, "held by a")
        #expect(try a.renew() && a.epoch == first, "a renewal keeps the term's epoch")
        let held = try #require(try PartitionLease.holder(of: 7, in: kv))
        #expect(held.0.instance == "a" && held.epoch == first)
        try a.release()
        #expect(try PartitionLease.holder(of: 7, in: kv) == nil)
        let second = try #require(try b.acquire(), "released: b takes it at once")
        #expect(second > first)
        #expect(try !a.renew(), "a no longer holds it")
        // a's release of a lease it lost must not free b's.
        try a.release()
        #expect(try PartitionLease.holder(of: 7, in: kv)?.0.instance == "b")
    }

    @Test func aHolderThatStopsRenewingLosesTheLeaseToTheNextWithAHigherEpoch() throws {
        let server = try NATSServer()
        let kv = try server.connect().keyValue("daybook-leases", ttl: .seconds(1))
        let paused = PartitionLease(kv, partition: 3, holder: LeaseHolder(instance: "paused", url: "u1"))
        let next = PartitionLease(kv, partition: 3, holder: LeaseHolder(instance: "next", url: "u2"))
        let old = try #require(try paused.acquire())
        var taken: UInt64?
        #expect(
            waitFor(seconds: 20) {
                taken = try? next.acquire() ?? nil; return taken != nil
            }, "expired after the TTL")
        #expect(try #require(taken) > old)
        // The paused holder wakes up and releases at its old revision: refused, the new term stays.
        try paused.release()
        #expect(try PartitionLease.holder(of: 3, in: kv)?.0.instance == "next")
        #expect(try PartitionLease.holder(of: 3, in: kv)?.epoch == taken)
        #expect(try next.renew(), "the new holder is unharmed")
        let other = PartitionLease(kv, partition: 3, holder: LeaseHolder(instance: "other", url: "u3"))
        #expect(try other.acquire() == nil)
    }
}
