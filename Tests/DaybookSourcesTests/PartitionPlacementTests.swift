import DaybookCluster
import DaybookSources
import DaybookTestSupport
import NATS
import Testing

/// Daybook's partition function against the real thing: nats-server's subject mapping
/// `partition(P,1)` (docs/scale-out.md §1).
@Suite("Partition placement by nats-server", .watchdog(seconds: 600))
struct PartitionPlacementTests {
    @Test func swiftsPartitionIsWhereTheServerPlaces10000Customers() throws {
        let partitioning = Partitioning(count: 32)
        let server = try NATSServer(extraConfig: partitioning.serverMapping)
        let js = try server.connect()
        for p in 0..<partitioning.count {
            try js.addStream(
                Partitioning.streamName(partition: p), subjects: [Partitioning.streamSubject(partition: p)],
                memory: true)
        }
        // Ids of every shape a catalog allows: plain, with subject syntax, whitespace, escapes, non-ASCII.
        let shapes = ["cust-", "a.b.", "x*", "y>", "z z", "100%", "é-", "名前", "🧾.", "UPPER_"]
        var placed = Array(repeating: 0, count: partitioning.count)
        for i in 0..<10_000 {
            let id = shapes[i % shapes.count] + "\(i)"
            let ack = try js.publish(subject: Partitioning.publishSubject(customer: id), data: Array(id.utf8))
            let expected = partitioning.partition(ofCustomer: id)
            #expect(ack.stream == Partitioning.streamName(partition: expected), "customer \(id)")
            placed[expected] += 1
        }
        var stored = 0
        for p in 0..<partitioning.count {
            let state = try #require(try js.streamState(Partitioning.streamName(partition: p)))
            #expect(state.messages == UInt64(placed[p]), "partition \(p)")
            stored += Int(state.messages)
        }
        #expect(stored == 10_000)
    }
}
