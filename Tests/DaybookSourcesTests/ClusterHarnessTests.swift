import DaybookCluster
import DaybookCore
import DaybookSources
import DaybookTestSupport
import DaybookWorkload
import Foundation
import NATS
import Testing

/// The 3-node harness (`tools/cluster`, docs/scale-out.md §7) and what R3 streams promise through a
/// stream leader's SIGKILL. Serialized: each test runs three nats-servers on a 2-core machine.
@Suite("Cluster harness: three nats-servers", .serialized, .watchdog(seconds: 600))
struct ClusterHarnessTests {
    static let partitions = 8

    @Test func threeNodesComeUpWithR3StreamsAndStatusNamesEachStreamsLeader() throws {
        let cluster = try ClusterHarness(partitions: Self.partitions)
        let names = cluster.nodes.map(\.name)
        #expect(names == ["n1", "n2", "n3"])
        #expect(cluster.nodes.allSatisfy { $0.pid.map(ClusterHarness.isRunning) == true }, "\(cluster.nodes)")
        #expect(cluster.postgresURL == nil)
        let js = try cluster.connect()

        // Every partition stream and bucket of `cluster init`: three copies, on the three nodes.
        let streams =
            (0..<Self.partitions).map(Partitioning.streamName(partition:))
            + [
                ClusterLayout.configBucket, ClusterLayout.leaseBucket, ClusterLayout.instanceBucket,
                ClusterLayout.catalogBucket,
            ].map { "KV_" + $0 }
        var leaders: [String: String] = [:]
        for stream in streams {
            // A new raft group elects its leader and hears from its followers within moments.
            let placed = try waitFor(seconds: 20) {
                try js.streamCluster(stream).map { Set($0.peers) == Set(names) } ?? false
            }
            let info = try #require(try js.streamCluster(stream), "\(stream) missing")
            #expect(placed, "\(stream): \(info)")
            #expect(info.configuredReplicas == 3, "\(stream)")
            #expect(info.name == "daybook", "\(stream)")
            #expect(info.replicas.count == 2, "\(stream): \(info.replicas)")
            let leader = try #require(info.leader, "\(stream)")
            leaders[stream] = leader
            #expect(try js.streamLeader(stream) == info.leader)
        }
        #expect(throws: JetStreamError.self) { try js.streamLeader("NO_SUCH_STREAM") }

        let status = try Run.daybook(["cluster", "status", "--nats", cluster.natsURLs, "--format", "csv"])
        #expect(status.status == 0, "\(status.stderr)")
        let lines = status.stdout.split(separator: "\n")
        let header = lines.first?.split(separator: ",") ?? []
        let leader = try #require(header.firstIndex(of: "leader"), "\(status.stdout)")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count == Self.partitions)
        for row in rows {
            let stream = String(row[1])
            #expect(String(row[leader]) == leaders[stream], "\(row) (leaders \(leaders))")
        }
        let harnessStatus = try cluster.status()
        #expect(harnessStatus.allRunning, "\(harnessStatus.output)")
        #expect(harnessStatus.output.contains("jetstream meta leader: n"), "\(harnessStatus.output)")

        // Every event twice in a row: the second copy reaches an R3 stream while the first is
        // still being replicated ("duplicate message id is in process"), which is a duplicate, not
        // a failed publish.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-twice-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("twice.ndjson").path
        let events = (0..<500).map { i in
            "{\"transaction_id\": \"twice-\(i)\", \"customer_id\": \"customer-\(i % 40)\", \"event_type\": \"inference\", "
                + "\"timestamp\": \"2026-10-05T10:00:00Z\", \"properties\": {\"tokens\": \(i)}}"
        }
        try (events.flatMap { [$0, $0] }.joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let published = try Run.daybook(["publish", file, "--nats", cluster.natsURLs])
        #expect(published.status == 0, "\(published.stderr)")
        #expect(published.stdout.contains("published 1000 events"), "\(published.stdout)")
        let stored = try (0..<Self.partitions).map { p in
            Int(try #require(try js.streamState(Partitioning.streamName(partition: p))).messages)
        }
        #expect(stored.reduce(0, +) == 500, "\(stored)")
    }

    @Test func killingAStreamLeaderMidPublishLosesNothingAndStoresNothingTwice() throws {
        let partitioning = Partitioning(count: Self.partitions)
        let cluster = try ClusterHarness(partitions: Self.partitions)

        // 3,000 events of 24 customers (2% repeated transaction ids, none invalid).
        var generator = WorkloadGenerator(start: Day(parsing: "2026-10-05")!)
        generator.customers = (0..<24).map { "customer-\($0)" }
        generator.days = 5
        generator.eventsPerDay = 26
        generator.invalidPerMille = 0
        generator.seed = 21
        generator.idPrefix = "kill-"
        let all = generator.lines()
        try #require(all.count >= 3_000, "\(all.count) lines")
        let lines = Array(all.prefix(3_000))
        var distinct = Array(repeating: Set<String>(), count: Self.partitions)
        for line in lines {
            guard case .success(let event) = UsageEvent.parse(Array(line.utf8)[...]) else {
                Issue.record("not an event: \(line)")
                continue
            }
            distinct[partitioning.partition(ofCustomer: event.customerID)].insert(event.transactionID)
        }
        let expected = distinct.map(\.count)
        try #require(expected[0] > 0, "no customer on partition 0: \(expected)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-kill-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("events.ndjson").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)

        let js = try cluster.connect()
        func counts(_ js: JetStream) throws -> [Int] {
            try (0..<Self.partitions).map { p in
                let name = Partitioning.streamName(partition: p)
                guard let state = try js.streamState(name) else { throw HarnessError("no stream \(name)") }
                return Int(state.messages)
            }
        }
        let leader = try #require(try cluster.leader(of: Partitioning.streamName(partition: 0)))

        // The leader of DAYBOOK_P00 is SIGKILLed once some events are stored, while the rest are
        // being published.
        // --ack-timeout 5: a publish whose ack was lost with the killed leader fails in 5 s, not 30.
        let publisher = try DaybookProcess(["publish", file, "--nats", cluster.natsURLs, "--ack-timeout", "5"])
        #expect(
            waitFor(seconds: 30) {
                !publisher.isRunning || ((try? counts(js))?.reduce(0, +) ?? 0) >= 300
            })
        let runningAtKill = publisher.isRunning
        let storedAtKill = (try? counts(js))?.reduce(0, +) ?? -1
        let killedAt = ContinuousClock.now
        try cluster.kill(node: leader)
        let exit = try #require(publisher.waitForExit(seconds: 60), "publish did not end within 60 s of the kill")
        let publishTook = ContinuousClock.now - killedAt
        try cluster.start(node: leader)

        print(
            "leader \(leader) of DAYBOOK_P00 killed with \(storedAtKill) of \(lines.count) events stored, "
                + "publish \(runningAtKill ? "still running" : "already done"); publish exited \(exit) "
                + "\(publishTook) after the kill; stderr: \(publisher.stderr.text.prefix(600))")

        // The restarted node rejoins; a stream may change leader meanwhile (its info then times
        // out for a moment): every stream is waited for until it answers.
        let after = try cluster.connect()
        var read: [Int]?
        #expect(
            waitFor(seconds: 30) {
                read = try? counts(after)
                return read != nil
            })
        let first = try #require(read, "the streams did not answer within 30 s of the restart")
        print(
            "stored after the restart: \(first.reduce(0, +)) of \(expected.reduce(0, +)) distinct \(first) \(expected)")
        // Nothing twice, ever: each partition holds at most its distinct transaction ids.
        #expect(zip(first, expected).allSatisfy { $0 <= $1 }, "\(first) vs \(expected)")
        if exit != 0 || first != expected {
            // What failed at the kill is published again: the streams drop what they have (Nats-Msg-Id).
            let again = try Run.daybook(["publish", file, "--nats", cluster.natsURLs])
            #expect(again.status == 0, "\(again.stderr)")
        } else {
            #expect(publisher.stdout.contains("published \(lines.count) events"), "\(publisher.stdout.text)")
        }
        read = nil
        #expect(
            waitFor(seconds: 30) {
                read = try? counts(after)
                return read != nil
            })
        let final = try #require(read)
        #expect(final == expected)
        #expect(final.reduce(0, +) == Set(distinct.flatMap { $0 }).count)
        // The restarted node caught up: it is a current follower (or the leader) of every stream.
        var p0: StreamCluster?
        #expect(
            waitFor(seconds: 30) {
                p0 = try? after.streamCluster(Partitioning.streamName(partition: 0))
                return p0.map { Set($0.peers) == ["n1", "n2", "n3"] && $0.replicas.allSatisfy(\.current) } ?? false
            }, "\(String(describing: p0))")
    }

    @Test func instancesOwnEveryPartitionAndDownLeavesNoProcess() throws {
        let cluster = try ClusterHarness(partitions: 4, instances: 2, postgres: true)
        let postgres = try #require(cluster.postgresURL)
        #expect(postgres.hasPrefix("postgres://daybook@127.0.0.1:"))
        let pids = cluster.processIDs
        #expect(pids.count == 6, "three nats-servers, the postmaster, two instances: \(pids)")
        #expect(pids.allSatisfy(ClusterHarness.isRunning))
        // The warehouse answers (trust authentication, user daybook).
        let port = try #require(postgres.split(separator: ":").last?.split(separator: "/").first)
        let psql = try Run.capture(
            "/usr/bin/env",
            [
                "psql", "-h", "127.0.0.1", "-p", String(port), "-U", "daybook", "-d", "postgres", "-X", "-A", "-t",
                "-c",
                "select 41 + 1",
            ])
        #expect(psql.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "42", "\(psql.stderr)")
        // Both instances listen, and between them they take every partition's lease.
        #expect(cluster.instances.map(\.name) == ["i1", "i2"])
        for instance in cluster.instances {
            let address = try #require(instance.url.split(separator: "/").last, "\(instance.url)")
            #expect(throws: Never.self) { _ = try httpGet(address, "/healthz") }
        }
        var owners: [String] = []
        let owned = try waitFor(seconds: 30) {
            let status = try Run.daybook(["cluster", "status", "--nats", cluster.natsURLs, "--format", "csv"])
            owners = status.stdout.split(separator: "\n").dropFirst().map {
                String($0.split(separator: ",", omittingEmptySubsequences: false)[5])
            }
            return owners.count == 4 && owners.allSatisfy { $0 == "i1" || $0 == "i2" }
        }
        #expect(owned, "owners: \(owners)")

        cluster.down()
        #expect(
            pids.allSatisfy { !ClusterHarness.isRunning($0) }, "still running: \(pids.filter(ClusterHarness.isRunning))"
        )
        #expect(cluster.processIDs.isEmpty)
        let again = try Run.capture(ClusterHarness.script.path, ["down", cluster.directory.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: cluster.directory.appendingPathComponent("nats/n1.log").path))
        #expect(
            FileManager.default.fileExists(atPath: cluster.directory.appendingPathComponent("instances/i1.log").path))
    }
}
