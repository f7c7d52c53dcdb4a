import DaybookCluster
import DaybookSources
import DaybookTestSupport
import Foundation
import NATS
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `daybook serve --cluster` instances as real processes over a real nats-server and a real
/// PostgreSQL (docs/scale-out.md §3–5): an instance killed mid-stream is replaced by the other
/// within the lease TTL plus replay, and the warehouse ends equal to a single node's export of the
/// same events; an instance paused past its lease is fenced when it wakes.
@Suite("Cluster failover", .serialized, .watchdog(seconds: 600))
struct ClusterFailoverTests {
    @Test func killNineAnInstanceMidStreamAndTheOtherTakesOverWithTheSameWarehouse() throws {
        let run = try ClusterRun()
        try run.publish(run.firstHalf)
        let a = try run.instance("a")
        let b = try run.instance("b")
        // `a` may take every partition before `b` joins; then it hands `b`'s share over.
        #expect(try waitFor(seconds: 60) { try !a.running().isEmpty && !b.running().isEmpty }, "both own partitions")
        try run.waitUntilRunning([a, b], all: 32)

        // The second half is being published while `a` is killed.
        let publisher = try DaybookProcess(["publish", run.secondHalf, "--nats", run.natsURL])
        let before = try run.storedMessages()
        let target = before + run.secondHalfCount / 4
        #expect(try waitFor(seconds: 60) { try run.storedMessages() >= target }, "the publish is under way")
        a.process.kill()
        let killed = ContinuousClock.now
        try run.waitUntilRunning([b], all: 32, seconds: 60)
        let takeover = ContinuousClock.now - killed
        // Exit 2: the workload's malformed records cannot be placed (publish reports them).
        #expect(publisher.waitForExit(seconds: 120) == 2 && publisher.stdout.contains("published"))
        print("cluster failover: b runs all 32 partitions \(takeover) after the kill (lease TTL 3 s)")
        #expect(takeover < .seconds(3 + 20), "within the lease TTL plus replay")

        let equal = try waitFor(seconds: 90) { try run.warehouse("cluster") == run.single }
        #expect(equal, "the cluster's warehouse equals the single node's, row for row (seq columns aside)")
        if !equal { run.explainDifference() }
        _ = b.process.terminate()
    }

    @Test func anInstancePausedPastItsLeaseIsFencedWhenItWakes() throws {
        let run = try ClusterRun()
        try run.publish(run.firstHalf)
        try run.publish(run.secondHalf)
        // `a` never notices a lost lease (DAYBOOK_FAULT=ignore-lease-loss): only the fence stops it.
        let a = try run.instance("a", environment: ["DAYBOOK_FAULT": "ignore-lease-loss"])
        let b = try run.instance("b")
        #expect(try waitFor(seconds: 60) { try !a.running().isEmpty && !b.running().isEmpty }, "both own partitions")
        try run.waitUntilRunning([a, b], all: 32)
        #expect(try waitFor(seconds: 90) { try run.warehouse("cluster") == run.single }, "everything exported")
        let stale = try a.running()
        #expect(!stale.isEmpty)

        kill(a.process.pid, SIGSTOP)
        defer { kill(a.process.pid, SIGCONT) }
        // `b` takes the paused instance's partitions over at higher epochs and exports them.
        try run.waitUntilRunning([b], all: 32, seconds: 60)
        #expect(
            try waitFor(seconds: 60) {
                let epochs = try run.exportedEpochs()
                return stale.allSatisfy { (epochs[$0.partition] ?? 0) > $0.epoch }
            },
            "b exported a's partitions at newer epochs: \(stale) \((try? run.exportedEpochs()) ?? [:]) \(b.process.stderr.text.split(separator: "\n").filter { !$0.contains(" info ") && !$0.contains(" notice ") }.suffix(30))"
        )
        let settled = try run.psql(run.dumpQuery, database: "cluster")
        let partitions = try run.psql(
            "SELECT partition, epoch, exported_seq FROM invoice_breakdown.daybook_partitions ORDER BY 1",
            database: "cluster")

        kill(a.process.pid, SIGCONT)
        let fenced = try waitFor(seconds: 30) {
            stale.allSatisfy { a.process.stderr.contains("fenced: partition \($0.partition) is owned at epoch") }
        }
        #expect(fenced, "every stale export was refused by the warehouse: \(a.process.stderr.text.suffix(2000))")
        a.process.kill()
        #expect(try run.psql(run.dumpQuery, database: "cluster") == settled, "nothing the stale owner sent landed")
        #expect(
            try run.psql(
                "SELECT partition, epoch, exported_seq FROM invoice_breakdown.daybook_partitions ORDER BY 1",
                database: "cluster") == partitions)
        #expect(try run.warehouse("cluster") == run.single)
        _ = b.process.terminate()
    }
}

extension ClusterFailoverTests {
    @Test func aSnapshotPlusReplayAndARebuildFromSequenceOneHashTheSameAndAGapIsRefused() throws {
        let run = try ClusterRun()
        let snapshots = run.path("snapshots")
        try run.publish(run.firstHalf)
        let a = try run.instance("a", extra: ["--snapshot-dir", snapshots, "--snapshot-seconds", "1"])
        try run.waitUntilRunning([a], all: 32)
        try run.waitUntilCaughtUp([a])
        // Every partition has a snapshot of everything it stored so far.
        let last = try run.lastSequences()
        #expect(
            try waitFor(seconds: 60) {
                (0..<32).allSatisfy { p in
                    let dir = "\(snapshots)/\(Partitioning.directoryName(partition: p))"
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                    return names.contains { UInt64($0) == last[p] }
                }
            }, "a snapshot of every partition at its stream's last seq")
        a.process.kill()
        try run.publish(run.secondHalf)

        // `c` starts from the snapshots and replays the rest; `r` rebuilds from sequence 1.
        let c = try run.instance("c", extra: ["--snapshot-dir", snapshots])
        try run.waitUntilRunning([c], all: 32)
        try run.waitUntilCaughtUp([c])
        #expect(c.process.terminate() == 0)
        let restored = c.process.stderr.text.split(separator: "\n").filter {
            $0.contains("restored the snapshot at stream seq")
        }
        #expect(restored.count == 32, "every partition of c began from a snapshot: \(restored.count)")
        let r = try run.instance("r")
        try run.waitUntilRunning([r], all: 32)
        try run.waitUntilCaughtUp([r])
        #expect(r.process.terminate() == 0)
        #expect(!r.process.stderr.text.contains("restored the snapshot"))
        for p in 0..<32 {
            let name = Partitioning.directoryName(partition: p)
            let fromSnapshot = try run.stateHash(run.path("instances/c/\(name)"))
            let fromOne = try run.stateHash(run.path("instances/r/\(name)"))
            #expect(fromSnapshot == fromOne, "partition \(p): snapshot + replay = rebuild from seq 1")
        }

        // Retention removes partition 5's messages but the last: a new owner without a snapshot is refused.
        let js = try run.connect()
        try js.purge(Partitioning.streamName(partition: 5), before: last[5]! + 1)
        let z = try run.instance("z")
        #expect(
            try waitFor(seconds: 60) {
                try z.statuses().contains {
                    $0.partition == 5 && $0.phase == "failed" && $0.reason.contains("cannot resume")
                }
            }, "partition 5 is refused: \(z.process.stderr.text.suffix(1500))")
        #expect(z.process.stderr.text.contains("partition 5 cannot resume: its store's checkpoint is stream seq 0"))
        try run.waitUntilRunning([z], all: 31)
        _ = z.process.terminate()
    }
}

extension ClusterFailoverTests {
    /// On three nats-servers (R3 streams and buckets, `sync_interval: always`): the leader of a
    /// partition's stream is SIGKILLed while events are published and consumed; the warehouse ends
    /// exact (no event lost, none counted twice).
    @Test func killNineTheStreamLeaderMidStreamAndTotalsStayExact() throws {
        let harness = try ClusterHarness(nodes: 3, partitions: 8, postgres: true)
        defer { harness.down() }
        let run = try ClusterRun(harness: harness)
        try run.publish(run.firstHalf)
        let a = try run.instance("a")
        let b = try run.instance("b")
        #expect(try waitFor(seconds: 60) { try !a.running().isEmpty && !b.running().isEmpty }, "both own partitions")
        try run.waitUntilRunning([a, b], all: 8)

        let stream = Partitioning.streamName(partition: 0)
        let publisher = try DaybookProcess(["publish", run.secondHalf, "--nats", run.natsURL, "--ack-timeout", "5"])
        let target = try run.storedMessages() + run.secondHalfCount / 4
        #expect(try waitFor(seconds: 60) { try run.storedMessages() >= target }, "the publish is under way")
        let leader = try #require(try harness.leader(of: stream))
        try harness.kill(node: leader)
        let status = publisher.waitForExit(seconds: 120)
        try harness.start(node: leader)
        // A publish whose acks were lost with the leader stops (exit 1); the same file again stores
        // only what is missing (Nats-Msg-Id), as a producer retrying would.
        // The new leader may still be settling: the producer retries, a bounded number of times.
        // Each attempt waits until every stream has a leader again: without one the stream answers
        // a publish with "no responders" at once, and the attempts would be spent in a second.
        let js = try harness.connect()
        func everyStreamLed() -> Bool {
            waitFor(seconds: 60) {
                (0..<run.partitions).allSatisfy {
                    (try? js.streamLeader(Partitioning.streamName(partition: $0))) != nil
                }
            }
        }
        if status != 2 {
            var attempts = 0
            while true {
                attempts += 1
                #expect(everyStreamLed(), "every stream has a leader within 60 s of the restart")
                let r = try Run.daybook(["publish", run.secondHalf, "--nats", run.natsURL, "--ack-timeout", "5"])
                if r.status == 2 && r.stdout.contains("published") { break }
                guard attempts < 6 else {
                    throw HarnessError("publish failed \(attempts) times: \(r.stderr.suffix(500))")
                }
            }
        }
        #expect(everyStreamLed(), "a new leader")
        let equal = try waitFor(seconds: 120) { try run.warehouse("cluster") == run.single }
        #expect(equal, "the warehouse equals the single node's after the leader of \(stream) was killed")
        if !equal { run.explainDifference() }
        _ = a.process.terminate()
        _ = b.process.terminate()
    }
}

/// One cluster run: a nats-server with the mapping for 32 partitions, a PostgreSQL with the
/// databases `cluster` (the instances' exports) and `single` (one store's export of the same
/// events), a generated workload in two halves.
final class ClusterRun {
    let directory: URL
    /// The NATS servers (one test server, or a 3-node ``ClusterHarness``'s) and the warehouse.
    let natsURL: String
    let partitions: Int
    private let server: NATSServer?
    private let postgres: PostgresCluster?
    let harness: ClusterHarness?
    let firstHalf: String
    let secondHalf: String
    let secondHalfCount: Int
    /// The single node's warehouse, as compared.
    private(set) var single: [String: [String]] = [:]
    static let now = "2026-10-13T00:00:00Z"
    static let tables = ["invoices", "line_items", "balances", "drift", "corrections"]

    /// On `harness` (its cluster set up with its partitions, a PostgreSQL), else on one nats-server
    /// with 32 partitions and a lease TTL of 3 s.
    init(harness: ClusterHarness? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "daybook-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let root = directory
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        self.harness = harness
        if let harness {
            natsURL = harness.natsURLs
            partitions = Int(harness.environment["CLUSTER_PARTITIONS"] ?? "") ?? 32
            server = nil
            postgres = nil
        } else {
            let server = try NATSServer(extraConfig: Partitioning(count: 32).serverMapping)
            natsURL = server.url
            partitions = 32
            self.server = server
            postgres = try PostgresCluster()
        }
        let events = path("events.ndjson"), catalog = path("catalog.json")
        try Self.check(
            Run.daybook([
                "generate", "--customer-count", "40", "--days", "12", "--events-per-day", "30", "--out", events,
                "--catalog-out", catalog,
            ]))
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        firstHalf = path("first.ndjson")
        secondHalf = path("second.ndjson")
        secondHalfCount = lines.count - lines.count / 2
        try (lines[..<(lines.count / 2)].joined(separator: "\n") + "\n").write(
            toFile: firstHalf, atomically: true, encoding: .utf8)
        try (lines[(lines.count / 2)...].joined(separator: "\n") + "\n").write(
            toFile: secondHalf, atomically: true, encoding: .utf8)
        if harness == nil {
            try Self.check(
                Run.daybook([
                    "cluster", "init", "--nats", natsURL, "--partitions", "32", "--replicas", "1", "--lease-seconds",
                    "3",
                ]))
        }
        try Self.check(Run.daybook(["catalog", "apply", catalog, "--cluster", natsURL]))

        _ = try psql("CREATE DATABASE cluster", database: "postgres")
        _ = try psql("CREATE DATABASE single", database: "postgres")

        // The reference: one store, every event, exported as of the same day.
        let store = path("single")
        try Self.check(Run.daybook(["catalog", "apply", catalog, "--data", store, "--now", Self.now]))
        try Self.check(Run.daybook(["ingest", events, "--data", store, "--now", Self.now]))
        try Self.check(
            Run.daybook([
                "export", "--data", store, "--as-of", String(Self.now.prefix(10)), "--postgres",
                pgURL("single"),
            ]))
        single = try warehouse("single")
        #expect(single["invoices"]!.count > 40 && single["line_items"]!.count > 100, "a reference with rows")
    }

    deinit {
        for instance in instances { instance.process.kill() }
        // DAYBOOK_CLUSTER_LOGS=DIR keeps every instance's log there (for reading a failure).
        if let logs = ProcessInfo.processInfo.environment["DAYBOOK_CLUSTER_LOGS"] {
            try? FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
            for instance in instances {
                try? instance.process.stderr.text.write(
                    toFile: "\(logs)/\(instance.id).log", atomically: true, encoding: .utf8)
            }
        }
        postgres?.stop()
        server?.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func connect() throws -> JetStream { try server?.connect() ?? harness!.connect() }

    func pgURL(_ database: String) -> String {
        if let postgres { return postgres.url(database: database) }
        let url = harness?.postgresURL ?? ""
        return String(url[..<(url.lastIndex(of: "/") ?? url.endIndex)]) + "/" + database
    }

    /// `psql` (unaligned, tuples only, stop on the first error) in `database`.
    func psql(_ sql: String, database: String) throws -> String {
        if let postgres { return try postgres.psql(sql, database: database) }
        let r = try Run.capture(
            "/usr/bin/psql", [pgURL(database), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard r.status == 0 else { throw HarnessError("psql: \(r.stderr)") }
        return r.stdout
    }

    private static func check(_ result: Run.Result) throws {
        guard result.status == 0 else { throw HarnessError("daybook failed (\(result.status)): \(result.stderr)") }
    }

    /// Publishes a file (records that cannot be placed are refused by publish: exit 2 is expected).
    func publish(_ file: String) throws {
        let r = try Run.daybook(["publish", file, "--nats", natsURL])
        guard r.status == 0 || r.status == 2, r.stdout.contains("published") else {
            throw HarnessError("publish failed: \(r.stderr)")
        }
    }

    /// The messages all partition streams hold.
    func storedMessages() throws -> Int {
        let js = try connect()
        return try (0..<partitions).reduce(0) { sum, p in
            sum + Int(try js.streamState(Partitioning.streamName(partition: p))?.messages ?? 0)
        }
    }

    // MARK: Instances

    final class Instance {
        let id: String
        let process: DaybookProcess
        let address: Substring
        init(id: String, process: DaybookProcess, address: Substring) {
            self.id = id
            self.process = process
            self.address = address
        }

        struct Partition {
            var partition: Int
            var epoch: UInt64
        }

        struct Status {
            var partition: Int
            var epoch: UInt64
            var phase: String
            var checkpoint: UInt64
            var reason: String
        }

        /// `GET /v1/cluster/partitions`.
        func statuses() throws -> [Status] {
            guard process.isRunning else { return [] }
            let body = try httpGet(address, "/v1/cluster/partitions")
            let rows = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] ?? []
            return rows.compactMap { row in
                guard let p = row["partition"] as? Int, let epoch = row["epoch"] as? Int,
                    let checkpoint = row["checkpoint"] as? Int
                else { return nil }
                return Status(
                    partition: p, epoch: UInt64(epoch), phase: row["phase"] as? String ?? "",
                    checkpoint: UInt64(checkpoint), reason: row["reason"] as? String ?? "")
            }
        }

        /// The partitions it runs now (phase running).
        func running() throws -> [Partition] {
            try statuses().filter { $0.phase == "running" }.map { Partition(partition: $0.partition, epoch: $0.epoch) }
        }
    }

    private var instances: [Instance] = []

    func instance(_ id: String, environment: [String: String] = [:], extra: [String] = []) throws -> Instance {
        let process = try DaybookProcess(
            [
                "serve", "--cluster", natsURL, "--instance", id, "--data", path("instances/\(id)"), "--port", "0",
                "--postgres", pgURL("cluster"),
            ] + extra,
            environment: environment.merging([
                "DAYBOOK_NOW": Self.now,
                // A crash reports at once: addresses and image offsets only (symbolicating the debug
                // binary takes minutes; gdb's `info symbol` names them afterwards).
                "SWIFT_BACKTRACE": "enable=yes,symbolicate=off,interactive=no,threads=all",
            ]) { a, _ in a })
        guard waitFor(seconds: 30, { process.stdout.contains("listening on ") || !process.isRunning }),
            let line = process.stdout.text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") })
        else {
            process.kill()
            throw HarnessError("instance \(id) did not start: \(process.stderr.text)")
        }
        let instance = Instance(id: id, process: process, address: line.dropFirst("listening on http://".count))
        instances.append(instance)
        return instance
    }

    /// Waits until `instances` together run `all` distinct partitions.
    func waitUntilRunning(_ instances: [Instance], all: Int, seconds: Double = 60) throws {
        let ok = try waitFor(seconds: seconds) {
            Set(try instances.flatMap { try $0.running().map(\.partition) }).count == all
        }
        guard ok else {
            throw HarnessError(
                "the instances did not run all \(all) partitions within \(seconds) s: \(instances.map { $0.process.stderr.text.suffix(3000) })"
            )
        }
    }

    /// Each partition stream's last sequence.
    func lastSequences() throws -> [Int: UInt64] {
        let js = try connect()
        var last: [Int: UInt64] = [:]
        for p in 0..<partitions {
            last[p] = try js.streamState(Partitioning.streamName(partition: p))?.lastSequence ?? 0
        }
        return last
    }

    /// Waits until the instances' running partitions have stored their streams to the last message.
    func waitUntilCaughtUp(_ instances: [Instance], seconds: Double = 90) throws {
        let last = try lastSequences()
        let ok = try waitFor(seconds: seconds) {
            let statuses = try instances.flatMap { try $0.statuses() }.filter { $0.phase == "running" }
            return statuses.count == partitions && statuses.allSatisfy { $0.checkpoint == last[$0.partition] }
        }
        guard ok else { throw HarnessError("the instances did not catch up with the streams within \(seconds) s") }
    }

    /// `daybook stats --state-hash` of a store.
    func stateHash(_ store: String) throws -> String {
        let r = try Run.daybook(["stats", "--state-hash", "--data", store])
        guard r.status == 0, r.stdout.hasPrefix("state_hash ") else {
            throw HarnessError("stats --state-hash: \(r.stderr)")
        }
        return r.stdout
    }

    // MARK: Warehouse

    /// Per partition, the epoch of its last export.
    func exportedEpochs() throws -> [Int: UInt64] {
        let text = try psql("SELECT partition, epoch FROM invoice_breakdown.daybook_partitions", database: "cluster")
        var epochs: [Int: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|")
            if f.count == 2, let p = Int(f[0]), let e = UInt64(f[1]) { epochs[p] = e }
        }
        return epochs
    }

    /// Every table's rows as text, sorted, without the log-position columns (`*_seq`: a
    /// partition's log counts only its own events, a single store's all of them).
    func warehouse(_ database: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for table in Self.tables {
            let columns = try psql(
                "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'invoice_breakdown' AND table_name = '\(table)' AND column_name NOT LIKE '%seq'",
                database: database
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !columns.isEmpty else {
                out[table] = ["(no table)"]
                continue
            }
            let rows = try psql(
                "SELECT (\(columns))::text FROM invoice_breakdown.\(table) ORDER BY 1", database: database)
            out[table] = rows.split(separator: "\n").map(String.init)
        }
        return out
    }

    /// Every table whole (seq columns included) and the partitions' record: what must not move.
    var dumpQuery: String {
        Self.tables.map { "SELECT '\($0)', t::text FROM invoice_breakdown.\($0) t" }.joined(separator: " UNION ALL ")
            + " ORDER BY 1, 2"
    }

    func explainDifference() {
        guard let cluster = try? warehouse("cluster") else { return }
        for table in Self.tables where cluster[table] != single[table] {
            let a = Set(cluster[table] ?? []), b = Set(single[table] ?? [])
            print(
                "\(table): cluster \(a.count) rows, single \(b.count); only in cluster: \(a.subtracting(b).sorted().prefix(3)); only in single: \(b.subtracting(a).sorted().prefix(3))"
            )
        }
    }
}
