import DaybookCore
import DaybookEngine
import DaybookSources
import Foundation
import Logging
import NATS
import Synchronization

/// One instance of a partitioned cluster: `daybook serve --cluster URL --instance ID`
/// (docs/scale-out.md §3). It registers itself in the instance bucket, computes which partitions
/// it should own (rendezvous hashing over the live instances), takes their leases and runs one
/// ``PartitionRunner`` per lease held; it renews every lease each tick (TTL / 3) and stops a
/// partition's writer at once when its renewal fails. A partition assigned elsewhere (an instance
/// joined) is handed off: its runner stops gracefully (commit, export, snapshot), then the lease
/// is released. ``stop()`` does that for every partition, then deregisters.
///
/// The lease keeper is this node's own thread and does nothing but key-value requests, so a
/// partition busy restoring or replaying never delays the renewal of the others.
public final class ClusterNode: Sendable {
    public struct Options: Sendable {
        public var natsURL: String
        public var instance: String
        /// The URL this instance answers reads on (stored in its leases, for redirects); nil: the
        /// one ``run(listeningOn:)`` is given.
        public var advertise: String?
        /// `DIR`: partition p's store is `DIR/p07`.
        public var data: String
        public var clock: @Sendable () -> Timestamp
        public var exporter: (any PartitionExporter)?
        public var snapshots: (any PartitionSnapshots)?
        public var batchSize = 10_000
        public var exportInterval: Duration = .seconds(1)
        public var snapshotInterval: Duration = .seconds(60)
        public var logger = Logger(label: "daybook.cluster")

        public init(
            natsURL: String, instance: String, advertise: String?, data: String,
            clock: @escaping @Sendable () -> Timestamp
        ) {
            self.natsURL = natsURL
            self.instance = instance
            self.advertise = advertise
            self.data = data
            self.clock = clock
        }
    }

    public let options: Options
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let runners = Mutex<[Int: PartitionRunner]>([:])
    /// The last term of each partition that failed here, until a new term starts.
    private let failures = Mutex<[Int: PartitionStatus]>([:])
    private let layout = Mutex<(partitions: Int, ttl: Duration)?>(nil)
    private let leaseBucket = Mutex<KeyValue?>(nil)

    public init(_ options: Options) { self.options = options }

    /// Asks ``run()`` to hand every partition off and return; callable from any thread.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
    }

    private var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    /// The partitions this instance runs now.
    /// The partitions this instance runs now, and those whose last term here failed (with why).
    public func partitions() -> [PartitionStatus] {
        var all = failures.withLock { $0 }
        for status in runners.withLock({ $0.values.map(\.snapshot) }) { all[status.partition] = status }
        return all.values.sorted { $0.partition < $1.partition }
    }

    /// The partition count and lease TTL, once ``run()`` read them.
    public var cluster: (partitions: Int, ttl: Duration)? { layout.withLock { $0 } }

    /// The store of partition `p` when this instance runs it now (nil: another instance's, or
    /// still starting).
    public func storePath(ofRunning p: Int) -> String? {
        guard runners.withLock({ $0[p]?.snapshot.phase }) == .running else { return nil }
        return options.data + "/" + Partitioning.directoryName(partition: p)
    }

    /// Who holds partition `p`'s lease, from the bucket (nil: nobody, or the node has not started).
    public func owner(of p: Int) throws -> LeaseHolder? {
        guard let kv = leaseBucket.withLock({ $0 }) else { return nil }
        return try PartitionLease.holder(of: p, in: kv)?.0
    }

    /// Runs (on the calling thread) until ``stop()`` (after every partition was handed off) or a fatal error (the cluster
    /// is not set up). NATS outages are not fatal: partitions whose lease cannot be renewed in
    /// time stop writing, and are taken again once the servers answer.
    public func run(listeningOn address: String) throws {
        let o = options
        let advertise = o.advertise ?? address
        let log = o.logger
        let connection = try NATSConnection(
            url: o.natsURL, name: "daybook \(o.instance)", retryFirstConnect: true, reconnectWait: .milliseconds(250))
        defer { connection.close() }
        let js = try connection.jetStream()
        guard let config = try js.existingKeyValue(ClusterLayout.configBucket),
            let record = try config.get(ClusterLayout.configKey),
            let leases = try js.existingKeyValue(ClusterLayout.leaseBucket),
            let instances = try js.existingKeyValue(ClusterLayout.instanceBucket),
            let catalog = try js.existingKeyValue(ClusterLayout.catalogBucket)
        else { throw ClusterNodeError.notSetUp(o.natsURL) }
        let partitioning = Partitioning(count: try ClusterLayout.partitions(in: record.value))
        leaseBucket.withLock { $0 = leases }
        let ttl = try leases.ttl() ?? .seconds(10)
        layout.withLock { $0 = (partitioning.count, ttl) }
        let tick = ttl / 3
        // A renewal started at t keeps the lease at the server until at least t + TTL; writes stop
        // at t + 0.7 TTL, leaving the slack to a paused process's clock and a commit in progress.
        let validFor = ttl * 0.7
        try FileManager.default.createDirectory(atPath: o.data, withIntermediateDirectories: true)
        let feed = CatalogFeed(catalog)
        let holder = LeaseHolder(instance: o.instance, url: advertise)
        let instanceKey = "instances.\(o.instance)"
        var held: [Int: (lease: PartitionLease, runner: PartitionRunner, leaving: Bool)] = [:]
        /// Runners no longer held whose threads may still be closing their stores (a runner is
        /// `isFinished` before its writer is closed, and a lost lease drops it at once): waited for
        /// before the partition runs again here and before `run` returns, so a store is never open
        /// twice and the process never exits under a thread still closing one.
        var retired: [Int: [PartitionRunner]] = [:]
        func retire(_ p: Int) {
            if let runner = held[p]?.runner { retired[p, default: []].append(runner) }
            held[p] = nil
        }
        /// A partition whose runner failed (retention gap, damaged store, …) is tried again after a pause.
        var retryAt: [Int: ContinuousClock.Instant] = [:]
        log.info(
            "instance \(o.instance) joins the cluster at \(o.natsURL): \(partitioning.count) partitions, lease TTL \(ttl)"
        )

        func settings(_ p: Int) -> PartitionRunner.Settings {
            PartitionRunner.Settings(
                natsURL: o.natsURL, storePath: o.data + "/" + Partitioning.directoryName(partition: p), clock: o.clock,
                partitioning: partitioning, exporter: o.exporter, snapshots: o.snapshots, catalog: feed,
                batchSize: o.batchSize, exportInterval: o.exportInterval, snapshotInterval: o.snapshotInterval,
                logger: log)
        }
        func publish() { runners.withLock { r in r = held.mapValues(\.runner) } }

        while true {
            let started = ContinuousClock.now
            let leaving = isStopping
            // 1. Registration and the assignment it implies.
            var assigned: Set<Int> = []
            if !leaving {
                do {
                    try instances.put(instanceKey, Array(advertise.utf8))
                    let live = Set(
                        try instances.keys().compactMap { $0.hasPrefix("instances.") ? String($0.dropFirst(10)) : nil }
                    )
                    .union([o.instance])
                    assigned = Set(Assignment.partitions(of: o.instance, among: live, partitioning))
                } catch {
                    log.warning("instance \(o.instance): cannot read the live instances: \(error)")
                    assigned = Set(held.keys)  // keep what we have until the bucket answers
                }
            }
            // 2. Renew what is held; stop what was lost; hand off what is no longer ours.
            for (p, h) in held.sorted(by: { $0.key < $1.key }) {
                if h.runner.isFinished && !h.leaving {
                    // Fenced or failed: a fenced runner's lease is someone else's; a failed one is
                    // given up so that it can be started again (by us or another instance).
                    let last = h.runner.snapshot
                    if last.phase != .fenced { try? h.lease.release() }
                    failures.withLock { $0[p] = last }
                    retryAt[p] = started + .seconds(5)
                    retire(p)
                    continue
                }
                do {
                    if try h.lease.renew() {
                        h.runner.validity.extend(to: started + validFor)
                    } else if !LeaseValidity.ignoresLoss {
                        log.error("partition \(p): lease lost (epoch \(h.runner.validity.epoch)); stopping its writer")
                        h.runner.stop(.now)
                        retire(p)
                        continue
                    }
                } catch {
                    if !h.runner.validity.isValid {
                        log.error(
                            "partition \(p): the lease could not be renewed in time (\(error)); stopping its writer")
                        h.runner.stop(.now)
                        retire(p)
                        continue
                    }
                }
                if !assigned.contains(p) && !h.leaving {
                    log.info("partition \(p): handing off")
                    h.runner.stop(.graceful)
                    held[p]?.leaving = true
                }
                if held[p]?.leaving == true && h.runner.isFinished {
                    try? h.lease.release()
                    h.runner.validity.revoke()
                    retire(p)
                }
            }
            // 3. Take the leases of assigned partitions nobody holds.
            for (p, runners) in retired {
                let running = runners.filter { !$0.wait(timeout: .zero) }
                retired[p] = running.isEmpty ? nil : running
            }
            for p in assigned.sorted()
            where held[p] == nil && retired[p] == nil && !isStopping && retryAt[p].map({ $0 <= started }) ?? true {
                let lease = PartitionLease(leases, partition: p, holder: holder)
                let attempt = ContinuousClock.now
                guard let epoch = try? lease.acquire() else { continue }
                let validity = LeaseValidity(partition: p, epoch: epoch, until: attempt + validFor)
                let runner = PartitionRunner(partition: p, validity: validity, settings: settings(p))
                held[p] = (lease, runner, false)
                retryAt[p] = nil
                failures.withLock { $0[p] = nil }
                log.info("partition \(p): lease taken at epoch \(epoch)")
                runner.start()
            }
            publish()
            if leaving {
                for (p, h) in held where !h.leaving {
                    h.runner.stop(.graceful)
                    held[p]?.leaving = true
                }
                if held.isEmpty { break }
            }
            // While handing off, tick often: a lease is released as soon as its runner is done.
            let pause = isStopping ? min(tick, .milliseconds(200)) : tick
            _ = wake.wait(timeout: .now() + .milliseconds(pause.wholeMilliseconds))
        }
        for runner in retired.values.joined() where !runner.wait(timeout: .seconds(60)) {
            log.error("partition \(runner.partition): its runner did not end within 60 s of its stop")
        }
        try? instances.delete(instanceKey)
        leaseBucket.withLock { $0 = nil }  // the connection goes with the last bucket
        publish()
        log.info("instance \(o.instance) left the cluster")
    }
}

/// Why a cluster instance cannot run.
public enum ClusterNodeError: Error, Sendable, CustomStringConvertible {
    case notSetUp(String)
    case missingStream(String)

    public var description: String {
        switch self {
        case .notSetUp(let url):
            "no Daybook cluster at \(url) (its buckets are missing): run `daybook cluster init --nats \(url)` first"
        case .missingStream(let stream):
            "the stream \(stream) is missing: run `daybook cluster init` against the cluster again (it creates what is missing)"
        }
    }
}
