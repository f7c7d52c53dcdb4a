import ArgumentParser
import DaybookCluster
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookSources
import Foundation
import NATS

/// `daybook publish FILE --nats URL`: events into a partitioned cluster (docs/scale-out.md §1).
struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish an NDJSON file of events to a partitioned NATS JetStream cluster.",
        discussion: """
            Each event goes to subject usage.<customer token> (the customer id with every byte outside \
            A-Z a-z 0-9 _ - written %XX), with header Nats-Msg-Id = its transaction_id; the servers' subject \
            mapping places it on its partition's stream (`daybook cluster init` prints the mapping). A record \
            that is not a valid event cannot be placed: it is reported with its line and not published (exit 2 \
            once the rest is published). Publishing the same file again within the streams' duplicate window \
            stores nothing twice; after it, Daybook's transaction index counts the repeats as duplicates.
            """)
    @Argument(help: ArgumentHelp("The NDJSON file of events.", valueName: "file")) var file: String
    @Option(
        help: ArgumentHelp("The NATS server URL (nats://HOST:PORT, several separated by commas).", valueName: "url"))
    var nats: String
    @Option(
        help: ArgumentHelp(
            "Seconds to wait for the streams' acknowledgements of each chunk of 2,000 events (an ack lost with a stream leader that went away is waited for this long).",
            valueName: "s"))
    var ackTimeout = 30

    func validate() throws { try requireRange(ackTimeout, 1...3600, option: "--ack-timeout") }

    func run() throws {
        try InputFile.require(file, holding: "a file of events")
        let reader = try RecordReader(path: file)
        let js = try NATSConnection(url: nats, name: "daybook-publish", retryFirstConnect: false)
            .jetStream(maxAsyncPublishes: 20_000)
        var published = 0, refused = 0
        // In chunks, each waited for: a failed publish is reported before the next chunk is sent.
        while let records = try reader.next(2_000), !records.isEmpty {
            for record in records {
                switch UsageEvent.parse(record.bytes[...]) {
                case .success(let event):
                    try js.publishAsync(
                        subject: Partitioning.publishSubject(customer: event.customerID), data: record.bytes,
                        messageID: event.transactionID)
                    published += 1
                case .failure(let why):
                    refused += 1
                    FileHandle.standardError.write(Data("\(file): \(record.position): \(why); not published\n".utf8))
                }
            }
            try js.waitForAsyncPublishes(timeout: .seconds(ackTimeout))
        }
        print("published \(published) events from \(file) to \(nats)" + (refused > 0 ? "; \(refused) refused" : ""))
        if refused > 0 { throw ExitCode(2) }
    }
}

/// `daybook cluster init|status`: the cluster's streams and buckets (docs/scale-out.md).
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Set up a partitioned Daybook cluster on NATS JetStream.",
        subcommands: [Init.self, Status.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the partition streams and the cluster's key-value buckets (idempotent).",
            discussion: """
                Creates, when missing: the bucket daybook-cluster holding the partition count (fixed for the \
                cluster's life: running init again with another count is refused), one stream per partition \
                (DAYBOOK_P00 … on subjects usage.<p>.*, file storage), and the buckets daybook-leases, \
                daybook-instances and daybook-catalog. Prints the subject mapping every nats-server of the \
                cluster must have in its configuration (a client cannot create it).
                """)
        @Option(help: ArgumentHelp("The NATS server URL.", valueName: "url")) var nats: String
        @Option(help: "Partitions (1 to 1024; default 32 for a new cluster, the recorded count otherwise).")
        var partitions: Int?
        @Option(help: "Copies of every stream and bucket (3 in production: R3).") var replicas = 3
        @Option(help: "Seconds a lease lives without renewal.") var leaseSeconds = 10

        func validate() throws {
            if let partitions { try requireRange(partitions, Partitioning.allowedCounts, option: "--partitions") }
            try requireRange(replicas, 1...5, option: "--replicas")
            try requireRange(leaseSeconds, 1...3600, option: "--lease-seconds")
        }

        func run() throws {
            let js = try NATSConnection(url: nats, name: "daybook-cluster", retryFirstConnect: false).jetStream()
            let config = try js.keyValue(ClusterLayout.configBucket, replicas: replicas)
            var created: [String] = []
            let count: Int
            if let stored = try config.get(ClusterLayout.configKey) {
                count = try ClusterLayout.partitions(in: stored.value)
                if let partitions, partitions != count {
                    throw UsageError(
                        "--partitions \(partitions): the cluster at \(nats) has \(count) partitions, fixed when it was created"
                    )
                }
            } else {
                count = partitions ?? Partitioning.defaultCount
                if try config.create(ClusterLayout.configKey, ClusterLayout.config(partitions: count)) == nil {
                    throw UsageError("another `daybook cluster init` created the cluster meanwhile: run this again")
                }
                created.append("\(ClusterLayout.configBucket)/\(ClusterLayout.configKey) (\(count) partitions)")
            }
            let partitioning = Partitioning(count: count)
            for p in 0..<count {
                let name = Partitioning.streamName(partition: p)
                guard try js.streamState(name) == nil else { continue }
                try js.addStream(
                    name, subjects: [Partitioning.streamSubject(partition: p)], duplicateWindow: .seconds(120),
                    replicas: replicas)
                created.append(name)
            }
            let lease = Duration.seconds(leaseSeconds)
            _ = try js.keyValue(ClusterLayout.leaseBucket, ttl: lease, replicas: replicas)
            _ = try js.keyValue(ClusterLayout.instanceBucket, ttl: lease, replicas: replicas)
            _ = try js.keyValue(ClusterLayout.catalogBucket, history: 64, replicas: replicas)
            print(
                created.isEmpty
                    ? "the cluster at \(nats) is set up already: \(count) partitions"
                    : "created \(created.count) of the cluster's parts at \(nats): \(created.prefix(3).joined(separator: ", "))"
                        + (created.count > 3 ? ", …" : ""))
            print("every nats-server of the cluster needs this in its configuration:\n\(partitioning.serverMapping)")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Each partition: its stream's messages and sequences, who holds its lease at which epoch, its stream's leader, and the owner's checkpoint and lag.",
            discussion: """
                Reads the cluster's buckets and streams (nothing is written). A partition without a holder \
                is waiting for an instance (or its last holder's lease is expiring). `leader` is the \
                nats-server (its server_name) leading the partition's stream, empty while none is elected. \
                `phase`, `checkpoint` (the stream seq the owner stored last) and `lag` (messages after it) come \
                from the owner (GET /v1/cluster/partitions), empty when it does not answer.
                """)
        @Option(help: ArgumentHelp("The NATS server URL.", valueName: "url")) var nats: String
        @OptionGroup var output: FormatOption

        func run() throws {
            let js = try NATSConnection(url: nats, name: "daybook-cluster", retryFirstConnect: false).jetStream()
            guard let config = try js.existingKeyValue(ClusterLayout.configBucket),
                let stored = try config.get(ClusterLayout.configKey),
                let leases = try js.existingKeyValue(ClusterLayout.leaseBucket)
            else {
                throw UsageError("no Daybook cluster at \(nats): run `daybook cluster init --nats \(nats)` first")
            }
            let count = try ClusterLayout.partitions(in: stored.value)
            var table = Table(columns: [
                "partition", "stream", "messages", "first_seq", "last_seq", "owner", "owner_url", "epoch", "leader",
                "phase", "checkpoint", "lag",
            ])
            var reported: [String: [Int: [String: Any]]] = [:]  // owner URL → its partitions' rows
            for p in 0..<count {
                let name = Partitioning.streamName(partition: p)
                let state = try js.streamState(name)
                let holder = try PartitionLease.holder(of: p, in: leases)
                let leader = state == nil ? nil : try js.streamCluster(name)?.leader
                // What the owner runs: its phase and checkpoint (an owner that does not answer leaves them empty).
                var run: [String: Any]?
                if let url = holder?.0.url {
                    if reported[url] == nil {
                        let rows = (try? ClusterHTTP.rows(url + "/v1/cluster/partitions")) ?? []
                        reported[url] = Dictionary(
                            rows.compactMap { row in (row["partition"] as? Int).map { ($0, row) } },
                            uniquingKeysWith: { a, _ in a })
                    }
                    run = reported[url]?[p]
                }
                let checkpoint = (run?["checkpoint"] as? Int).map(UInt64.init)
                let lag = checkpoint.flatMap { c in state.map { $0.lastSequence > c ? $0.lastSequence - c : 0 } }
                table.rows.append([
                    "\(p)", name, state.map { "\($0.messages)" } ?? "missing",
                    state.map { "\($0.firstSequence)" } ?? "",
                    state.map { "\($0.lastSequence)" } ?? "", holder?.0.instance ?? "", holder?.0.url ?? "",
                    holder.map { "\($0.epoch)" } ?? "", leader ?? "", run?["phase"] as? String ?? "",
                    checkpoint.map { "\($0)" } ?? "", lag.map { "\($0)" } ?? "",
                ])
            }
            output.emit(
                table, rightAligned: ["partition", "messages", "first_seq", "last_seq", "epoch", "checkpoint", "lag"])
        }
    }
}
