import DaybookCluster
import DaybookCore
import DaybookSources
import DaybookTestSupport
import Foundation
import NATS
import Testing

/// `daybook cluster init` and `daybook publish` against a real nats-server with the partition
/// mapping (docs/scale-out.md §1).
@Suite("Cluster setup and publishing", .watchdog(seconds: 600))
struct ClusterCLITests {
    @Test func initIsIdempotentAndPublishPlacesEveryEventOnItsPartitionOnce() throws {
        let partitioning = Partitioning(count: 8)
        let server = try NATSServer(extraConfig: partitioning.serverMapping)
        let initArgs = ["cluster", "init", "--nats", server.url, "--partitions", "8", "--replicas", "1"]
        let first = try Run.daybook(initArgs)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("created 9 of the cluster's parts"), "\(first.stdout)")
        #expect(first.stdout.contains("usage.{{partition(8,1)}}.{{wildcard(1)}}"))
        let again = try Run.daybook(initArgs)
        #expect(again.status == 0 && again.stdout.contains("set up already: 8 partitions"), "\(again.stdout)")
        let other = try Run.daybook(["cluster", "init", "--nats", server.url, "--partitions", "16", "--replicas", "1"])
        #expect(other.status == 2 && other.stderr.contains("has 8 partitions"), "\(other.stderr)")
        let none = try NATSServer()
        let missing = try Run.daybook(["cluster", "status", "--nats", none.url])
        #expect(missing.status == 2 && missing.stderr.contains("no Daybook cluster"), "\(missing.stderr)")

        // Events of customers with every id shape, and one record that cannot be placed.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-publish-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let customers = ["acme", "a.b", "x y", "名前", "100%", "z*"]
        var lines: [String] = []
        var expected = Array(repeating: 0, count: 8)
        for i in 0..<600 {
            let customer = customers[i % customers.count]
            let id = StrictJSON.quote(customer)
            lines.append(
                "{\"transaction_id\": \"t\(i)\", \"customer_id\": \(id), \"event_type\": \"inference\", "
                    + "\"timestamp\": \"2026-10-05T10:00:00Z\", \"properties\": {\"tokens\": \(i)}}")
            expected[partitioning.partition(ofCustomer: customer)] += 1
        }
        lines.insert("{\"transaction_id\": \"broken\"}", at: 300)
        let file = directory.appendingPathComponent("events.ndjson").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)

        let published = try Run.daybook(["publish", file, "--nats", server.url])
        #expect(published.status == 2, "one record cannot be placed: \(published.stderr)")
        #expect(published.stdout.contains("published 600 events") && published.stdout.contains("1 refused"))
        #expect(published.stderr.contains("\(file): line 301:"), "\(published.stderr)")
        let js = try server.connect()
        func counts() throws -> [Int] {
            try (0..<8).map { p in Int(try #require(try js.streamState(Partitioning.streamName(partition: p))).messages)
            }
        }
        #expect(try counts() == expected)
        // Again within the duplicate window: every message id is a repeat, nothing is stored twice.
        #expect(try Run.daybook(["publish", file, "--nats", server.url]).status == 2)
        #expect(try counts() == expected)

        // Status: every partition's stream count, and the lease an instance holds.
        let leases = try #require(try js.existingKeyValue(ClusterLayout.leaseBucket))
        let lease = PartitionLease(
            leases, partition: 3, holder: LeaseHolder(instance: "i-1", url: "http://127.0.0.1:9"))
        let epoch = try #require(try lease.acquire())
        let status = try Run.daybook(["cluster", "status", "--nats", server.url, "--format", "csv"])
        #expect(status.status == 0, "\(status.stderr)")
        let rows = status.stdout.split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(rows.count == 8)
        for (p, row) in rows.enumerated() {
            #expect(row[0] == "\(p)" && row[2] == "\(expected[p])", "\(row)")
            #expect(p == 3 ? row[5] == "i-1" && row[7] == "\(epoch)" : row[5].isEmpty, "\(row)")
            // A single server leads every stream (its generated name: no server_name configured).
            #expect(row.count == 12 && !row[8].isEmpty, "\(row)")
            // No instance answers for partition 3's holder: its phase, checkpoint and lag stay empty.
            #expect(row[9...].allSatisfy { $0.isEmpty }, "\(row)")
        }
    }
}
