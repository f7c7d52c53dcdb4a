import ArgumentParser
import DaybookCluster
import DaybookCore
import DaybookEngine
import DaybookServer
import DaybookWarehouse
import Foundation
import Logging

/// `serve --cluster URL --instance ID [--snapshot-dir DIR] [--postgres URL] [--advertise URL]`:
/// one instance of a partitioned cluster (docs/scale-out.md). `--data` is then the directory of
/// the partitions' stores (`DIR/p07`), created when missing.
struct ClusterServeOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Join the partitioned cluster on these NATS servers (nats://HOST:PORT, several separated by commas); --data is then the directory of the partitions' stores.",
            valueName: "url"))
    var cluster: String?
    @Option(help: ArgumentHelp("With --cluster: this instance's id, unique in the cluster.", valueName: "id"))
    var instance: String?
    @Option(
        help: ArgumentHelp(
            "With --cluster: where partitions' snapshots are saved and restored from (shared by the instances).",
            valueName: "dir"))
    var snapshotDir: String?
    @Option(
        help: ArgumentHelp(
            "With --cluster: export each owned partition to this PostgreSQL warehouse after its commits (fenced by the lease's epoch).",
            valueName: "url"))
    var postgres: String?
    @Option(
        help: ArgumentHelp(
            "With --cluster: the URL other instances redirect reads to (default: the address this one listens on).",
            valueName: "url"))
    var advertise: String?
    @Option(help: ArgumentHelp("With --cluster: seconds between a partition's snapshots.", valueName: "s"))
    var snapshotSeconds = 60

    var isSet: Bool { cluster != nil }

    func validate(tailing: Bool) throws {
        guard let cluster else {
            for (value, option) in [
                (instance, "--instance"), (snapshotDir, "--snapshot-dir"), (postgres, "--postgres"),
                (advertise, "--advertise"),
            ] where value != nil {
                throw ValidationError("\(option) goes with --cluster URL")
            }
            return
        }
        try requireNonEmpty(cluster, option: "--cluster")
        guard let instance, !instance.isEmpty else { throw ValidationError("--cluster needs --instance ID") }
        if instance.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") || !$0.isASCII }) {
            throw ValidationError(
                "--instance \(instance): use letters, digits, - and _ only (it is a key in the cluster's bucket)")
        }
        if tailing {
            throw ValidationError(
                "--cluster reads the partitions' streams: --tail-file and --tail-nats do not go with it")
        }
        try requireNonEmpty(snapshotDir, option: "--snapshot-dir")
        try requireNonEmpty(postgres, option: "--postgres")
        try requireRange(snapshotSeconds, 1...86_400, option: "--snapshot-seconds")
    }

    /// The cluster instance these options describe.
    func service(data: String, host: String, port: Int, clock: @escaping @Sendable () -> Timestamp) throws
        -> ClusterService
    {
        var options = ClusterNode.Options(
            natsURL: cluster!, instance: instance!, advertise: advertise, data: data, clock: clock)
        var logger = Logger(label: "daybook.cluster", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .info
        options.logger = logger
        if let postgres {
            options.exporter = WarehousePartitionExporter(url: try WarehouseURL(parsing: postgres), logger: logger)
        }
        if let snapshotDir { options.snapshots = SnapshotStore(root: snapshotDir) }
        options.snapshotInterval = .seconds(snapshotSeconds)
        return ClusterService(node: ClusterNode(options), host: host, port: port, clock: clock)
    }
}

/// A partition's fenced export into the warehouse (``Warehouse/exportPartition``), one connection
/// per export: exports follow commits at most once a second per partition.
struct WarehousePartitionExporter: PartitionExporter {
    let url: WarehouseURL
    let logger: Logger

    func export(partition: Int, epoch: UInt64, engine: Engine, customers: [String], asOf: Day) throws {
        let export = try engine.warehouseExport(asOf: asOf)
        let drift = engine.warehouseDrift(export)
        let corrections = engine.warehouseCorrections(export)
        let url = self.url
        do {
            let report = try blocking {
                let warehouse = try await Warehouse.connect(url)
                do {
                    let report = try await warehouse.exportPartition(
                        export, drift: drift, corrections: corrections, partition: partition, epoch: epoch,
                        customers: customers)
                    await warehouse.close()
                    return report
                } catch {
                    await warehouse.close()
                    throw error
                }
            }
            if report.endedStaleSessions > 0 {
                logger.notice(
                    "partition \(partition) epoch \(epoch): ended \(report.endedStaleSessions) warehouse session(s) of an older owner"
                )
            }
        } catch WarehouseError.fenced(let partition, let epoch, let current) {
            throw PartitionFenced(partition: partition, epoch: epoch, current: current)
        }
    }
}
