import DaybookSources
import DaybookTestSupport
import NATS
import Testing

/// The key-value operations leases are made of, against a real nats-server (docs/scale-out.md §3).
@Suite("JetStream key-value buckets", .watchdog(seconds: 600))
struct KeyValueTests {
    @Test func createOnlyWhenAbsentUpdateOnlyAtTheRevisionDeleteFreesTheKey() throws {
        let server = try NATSServer()
        let kv = try server.connect().keyValue("leases")
        #expect(try kv.get("lease.7") == nil)
        let first = try #require(try kv.create("lease.7", Array("a".utf8)))
        #expect(try kv.create("lease.7", Array("b".utf8)) == nil, "held: a second create is refused")
        #expect(try kv.get("lease.7")?.value == Array("a".utf8))
        #expect(try kv.get("lease.7")?.revision == first)
        let renewed = try #require(try kv.update("lease.7", Array("a".utf8), last: first))
        #expect(renewed > first, "revisions only grow: the epoch")
        #expect(try kv.update("lease.7", Array("b".utf8), last: first) == nil, "a stale revision is refused")
        try kv.delete("lease.7")
        #expect(try kv.get("lease.7") == nil)
        let next = try #require(try kv.create("lease.7", Array("b".utf8)), "released: create succeeds")
        #expect(next > renewed)
        // Binding again to the same bucket sees the same state.
        #expect(try server.connect().keyValue("leases").get("lease.7")?.value == Array("b".utf8))
    }

    @Test func anEntryExpiresAfterTheBucketsTTLAndCanBeCreatedAgain() throws {
        let server = try NATSServer()
        let kv = try server.connect().keyValue("short", ttl: .seconds(1))
        let first = try #require(try kv.create("lease.1", Array("a".utf8)))
        #expect(try kv.create("lease.1", Array("b".utf8)) == nil)
        // Expiry is the server's: wait for the create to succeed, bounded.
        var retaken: UInt64?
        #expect(
            waitFor(seconds: 20) {
                retaken = try? kv.create("lease.1", Array("b".utf8)) ?? nil; return retaken != nil
            })
        let second = try #require(retaken, "the entry expired within 20 s of a 1 s TTL")
        #expect(second > first)
    }
}
