import DaybookCore
import DaybookEngine
import DaybookSources
import DaybookStore
import Foundation
import Logging
import NATS
import Synchronization

/// Exports one partition's rows to the warehouse, fenced by the lease's epoch
/// (docs/scale-out.md §5). The `daybook` executable implements it with `DaybookWarehouse`, which
/// this module does not depend on.
public protocol PartitionExporter: Sendable {
    /// Replaces the rows of `customers` (the partition's) with those of `engine`, a read engine
    /// over the partition's store, as of `asOf`, if `epoch` is not below the warehouse's record of
    /// the partition. Throws ``PartitionFenced`` when it is.
    func export(partition: Int, epoch: UInt64, engine: Engine, customers: [String], asOf: Day) throws
}

/// A partition export refused because a newer owner (higher epoch) exported the partition.
public struct PartitionFenced: Error, Sendable, CustomStringConvertible {
    public var partition: Int
    public var epoch: UInt64
    public var current: UInt64
    public init(partition: Int, epoch: UInt64, current: UInt64) {
        self.partition = partition
        self.epoch = epoch
        self.current = current
    }
    public var description: String {
        "fenced: partition \(partition) is owned at epoch \(current), this instance holds \(epoch); it stopped writing the partition"
    }
}

/// Where partitions' snapshots live (`--snapshot-dir`): what a new owner restores from and what an
/// owner saves to (docs/scale-out.md §4).
public protocol PartitionSnapshots: Sendable {
    /// Brings the store at `path` to the newest snapshot of `partition` when that is newer than
    /// the store (or there is no store); says what it did. The store must not be open.
    func restore(partition: Int, into path: String, source: String) throws -> RestoreOutcome
    /// Saves a compact copy of `engine`'s store, named by the copy's checkpoint of `source`.
    func save(_ engine: Engine, partition: Int, source: String) throws -> PartitionSnapshot
}

/// What a partition runner is doing, for `cluster status`-like reports and the HTTP API.
public struct PartitionStatus: Sendable, Hashable {
    public enum Phase: String, Sendable {
        case starting, running, stopping, stopped, fenced, failed
    }
    public var partition: Int
    public var epoch: UInt64
    public var phase: Phase
    /// The stream sequence committed last.
    public var checkpoint: UInt64
    /// The consumer's pending messages at the last commit.
    public var lag: UInt64
    /// Records ingested by this term.
    public var records: Int
    /// Exports done by this term.
    public var exports: Int
    /// Why it stopped, when it failed or was fenced.
    public var reason: String?
}

/// One owned partition: its store `DIR/p07`, its writer and JetStream tail on stream
/// `DAYBOOK_P07`, and its exports and snapshots, for one lease term (docs/scale-out.md §2–5).
///
/// Started once and stopped once: gracefully (handoff or shutdown: the batch in flight commits,
/// a last export and snapshot follow) or at once (the lease is lost: nothing more is committed,
/// acknowledged or exported).
final class PartitionRunner: Sendable {
    struct Settings: Sendable {
        var natsURL: String
        var storePath: String
        var clock: @Sendable () -> Timestamp
        var partitioning: Partitioning
        var exporter: (any PartitionExporter)?
        var snapshots: (any PartitionSnapshots)?
        var catalog: CatalogFeed
        var batchSize: Int
        var exportInterval: Duration
        var snapshotInterval: Duration
        var logger: Logger
    }

    let partition: Int
    let validity: LeaseValidity
    private let settings: Settings
    private let status: Mutex<PartitionStatus>
    private let tail = Mutex<JetStreamTail?>(nil)
    private let stopRequest = Mutex<Stop?>(nil)
    private let finished = DispatchSemaphore(value: 0)
    private let wake = DispatchSemaphore(value: 0)
    /// Commits since the last export (set by the writer's observer).
    private let dirty = Atomic<Bool>(true)

    enum Stop: Sendable { case graceful, now }

    var stream: String { Partitioning.streamName(partition: partition) }
    var source: String { "nats:\(stream)/\(Self.consumer)" }
    /// The durable consumer every owner of the partition uses in turn.
    static let consumer = "daybook"

    init(partition: Int, validity: LeaseValidity, settings: Settings) {
        self.partition = partition
        self.validity = validity
        self.settings = settings
        status = Mutex(
            PartitionStatus(
                partition: partition, epoch: validity.epoch, phase: .starting, checkpoint: 0, lag: 0, records: 0,
                exports: 0))
    }

    var snapshot: PartitionStatus {
        var s = status.withLock { $0 }
        if let stats = tail.withLock({ $0 })?.statistics, s.phase == .running || s.phase == .stopping {
            s.checkpoint = max(s.checkpoint, stats.checkpoint)
            s.lag = stats.lag
            s.records = stats.records
        }
        return s
    }
    var isFinished: Bool { [.stopped, .fenced, .failed].contains(snapshot.phase) }

    func start() {
        let thread = Thread { [self] in
            defer { finished.signal() }
            run()
        }
        thread.name = "daybook-p\(partition)"
        thread.start()
    }

    /// Asks the runner to stop; `.now` also revokes the lease validity so no batch commits after it.
    func stop(_ how: Stop) {
        if how == .now { validity.revoke() }
        stopRequest.withLock { $0 = $0 == .now ? .now : how }
        tail.withLock { $0 }?.stop()
        wake.signal()
    }

    /// Waits until the runner ended (true) or `timeout` passed.
    func wait(timeout: Duration) -> Bool {
        guard finished.wait(timeout: .now() + .milliseconds(timeout.wholeMilliseconds)) == .success else {
            return false
        }
        finished.signal()  // for the next waiter
        return true
    }

    private var stopping: Stop? { stopRequest.withLock { $0 } }

    private func set(_ body: (inout PartitionStatus) -> Void) { status.withLock { body(&$0) } }

    private func end(_ phase: PartitionStatus.Phase, _ reason: String?) {
        set {
            $0.phase = phase
            $0.reason = reason
        }
        let log = settings.logger
        switch phase {
        case .stopped: log.info("partition \(partition) epoch \(validity.epoch): stopped")
        default: log.error("partition \(partition) epoch \(validity.epoch): \(phase.rawValue): \(reason ?? "")")
        }
    }

    // MARK: Run

    private func run() {
        let s = settings
        let log = s.logger
        do {
            if let snapshots = s.snapshots {
                let what = try snapshots.restore(partition: partition, into: s.storePath, source: source)
                log.info("partition \(partition): \(what)")
            }
            let writer = try Writer(path: s.storePath)
            defer { writer.close() }
            writer.observe { [self] _ in dirty.store(true, ordering: .relaxed) }
            try syncCatalog(writer)
            let checkpoint = try checkpoint(writer)
            try checkHorizon(checkpoint: checkpoint)
            set { $0.checkpoint = checkpoint }
            let validity = self.validity
            let config = JetStreamTail.Configuration(
                url: s.natsURL, stream: stream, consumer: Self.consumer,
                subject: Partitioning.streamSubject(partition: partition), batchSize: s.batchSize, maxInFlight: 2)
            let tail = JetStreamTail(config, clock: s.clock, logger: log, fence: { try validity.check() })
            self.tail.withLock { $0 = tail }
            if stopping != nil { tail.stop() }
            set { $0.phase = .running }
            log.info(
                "partition \(partition) epoch \(validity.epoch): running from stream seq \(checkpoint + 1) of \(stream)"
            )

            let maintenance = Maintenance(runner: self, writer: writer)
            let maintained = DispatchSemaphore(value: 0)
            let maintenanceThread = Thread {
                defer { maintained.signal() }
                maintenance.loop()
            }
            maintenanceThread.name = "daybook-p\(partition)-export"
            maintenanceThread.start()

            var tailError: (any Error)?
            do { try tail.run(into: writer) } catch { tailError = error }
            maintenance.finish()
            maintained.wait()
            let stats = tail.statistics
            set {
                $0.checkpoint = stats.checkpoint
                $0.records = stats.records
            }
            if let fenced = maintenance.fenced { return end(.fenced, "\(fenced)") }
            if let tailError {
                if tailError is LeaseLost || !validity.isValid {
                    return end(.fenced, "\(LeaseLost(partition: partition, epoch: validity.epoch))")
                }
                return end(.failed, "\(tailError)")
            }
            if stopping == .graceful && validity.isValid {
                // Handoff or shutdown: the last export and snapshot, so the next owner starts from here.
                set { $0.phase = .stopping }
                do {
                    let reader = try Engine(path: s.storePath, access: .read)
                    try maintenance.export(reader, force: true)
                    if let snapshots = s.snapshots {
                        let at = try snapshots.save(reader, partition: partition, source: source)
                        log.info("partition \(partition): snapshot at stream seq \(at.checkpoint)")
                    }
                } catch let fenced as PartitionFenced {
                    return end(.fenced, "\(fenced)")
                }
            }
            end(.stopped, nil)
        } catch {
            end(error is LeaseLost ? .fenced : .failed, "\(error)")
        }
    }

    /// Applies the catalog versions of the cluster's bucket this store has not applied yet, in order.
    fileprivate func syncCatalog(_ writer: Writer) throws {
        let versions = try settings.catalog.versions()
        let now = settings.clock()
        let applied = try writer.perform { engine -> Int in
            var applied = 0
            let have = Int(try engine.stats().catalogVersion)
            for document in versions.dropFirst(have) {
                try engine.applyCatalog(document, now: now)
                applied += 1
            }
            return applied
        }
        if applied > 0 {
            dirty.store(true, ordering: .relaxed)
            settings.logger.info("partition \(partition): applied \(applied) catalog version(s), now \(versions.count)")
        }
    }

    private func checkpoint(_ writer: Writer) throws -> UInt64 {
        let source = self.source
        guard let stored = try writer.perform({ try $0.sourcePosition(source: source) }) else { return 0 }
        guard case .stream(let sequence) = stored.place else {
            throw JetStreamTailError.notAStreamCheckpoint(source: source, found: stored.description)
        }
        return sequence
    }

    /// Refuses to start when the stream no longer holds checkpoint + 1 (docs/scale-out.md §4).
    private func checkHorizon(checkpoint: UInt64) throws {
        let connection = try NATSConnection(
            url: settings.natsURL, name: "daybook p\(partition)", retryFirstConnect: true)
        defer { connection.close() }
        guard let state = try connection.jetStream().streamState(stream) else {
            throw ClusterNodeError.missingStream(stream)
        }
        try ReplayHorizon.check(
            partition: partition, checkpoint: checkpoint, firstSequence: state.firstSequence,
            lastSequence: state.lastSequence)
    }

    // MARK: Exports and snapshots

    /// The runner's second thread: catalog versions, exports after commits, periodic snapshots.
    private final class Maintenance: @unchecked Sendable {
        // @unchecked: `fenced` and the timers are used from the maintenance thread only, read by
        // the runner's thread after `finish()` and the thread's end.
        let runner: PartitionRunner
        let writer: Writer
        private let done = Atomic<Bool>(false)
        var fenced: PartitionFenced?
        private var lastSnapshot = ContinuousClock.now

        init(runner: PartitionRunner, writer: Writer) {
            self.runner = runner
            self.writer = writer
        }

        func finish() {
            done.store(true, ordering: .sequentiallyConsistent)
            runner.wake.signal()
        }

        func loop() {
            let s = runner.settings
            var reader: Engine?
            while !done.load(ordering: .sequentiallyConsistent) {
                _ = runner.wake.wait(timeout: .now() + .milliseconds(max(10, s.exportInterval.wholeMilliseconds)))
                if done.load(ordering: .sequentiallyConsistent) { break }
                do {
                    if reader == nil { reader = try Engine(path: s.storePath, access: .read) }
                    let reader = reader!
                    try runner.syncCatalog(writer)
                    try export(reader, force: false)
                    if let snapshots = s.snapshots, ContinuousClock.now - lastSnapshot >= s.snapshotInterval {
                        lastSnapshot = .now
                        _ = try snapshots.save(reader, partition: runner.partition, source: runner.source)
                    }
                } catch let error as PartitionFenced {
                    fenced = error
                    runner.stop(.now)
                    return
                } catch {
                    // The warehouse or the bucket is away: the next round tries again.
                    s.logger.warning("partition \(runner.partition): \(error); retrying")
                }
            }
        }

        /// Exports when something was committed since the last export (or `force`), under a valid lease.
        func export(_ reader: Engine, force: Bool) throws {
            guard let exporter = runner.settings.exporter else { return }
            guard force || runner.dirty.exchange(false, ordering: .relaxed) || LeaseValidity.ignoresLoss else {
                return
            }
            let r = runner
            guard r.validity.isValid else {
                throw PartitionFenced(partition: r.partition, epoch: r.validity.epoch, current: 0)
            }
            let customers = (reader.catalog?.customers ?? []).map(\.id)
                .filter { r.settings.partitioning.partition(ofCustomer: $0) == r.partition }
            do {
                try exporter.export(
                    partition: r.partition, epoch: r.validity.epoch, engine: reader, customers: customers,
                    asOf: r.settings.clock().day)
            } catch {
                if !(error is PartitionFenced) { r.dirty.store(true, ordering: .relaxed) }
                throw error
            }
            r.set { $0.exports += 1 }
        }
    }
}

extension Duration {
    /// Whole milliseconds, for Dispatch timeouts.
    var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
