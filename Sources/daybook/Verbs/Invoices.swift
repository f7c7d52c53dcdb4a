import ArgumentParser
import DaybookCluster
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookSources
import DaybookStore
import DaybookWorkload
import Foundation
import NATS

struct Invoices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List invoices with status and period totals.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only this customer's invoices.") var customer: String?
    @Option(
        help: ArgumentHelp(
            "Ask the instances of the partitioned cluster on these NATS servers instead of a store: every partition's owner answers for its customers (sorted by invoice id).",
            valueName: "url"))
    var cluster: String?

    func run() throws {
        let table =
            try cluster.map { try ClusterInvoices(nats: $0).table(customer: customer) }
            ?? global.engine(.read).invoicesTable(now: try global.clock(), customer: customer)
        output.emit(table, rightAligned: ["line_items", "subtotal", "credits_applied", "commits_applied", "total"])
    }
}

/// `daybook invoices --cluster URL`: `GET /v1/invoices` of every partition owner (from the lease
/// bucket), merged. The instances read with their own clocks.
struct ClusterInvoices {
    let nats: String

    static let columns = [
        "invoice_id", "customer_id", "period_start", "period_end", "status", "finalized_at", "open_drift", "line_items",
        "subtotal", "credits_applied", "commits_applied", "total",
    ]

    func table(customer: String?) throws -> Table {
        let js = try NATSConnection(url: nats, name: "daybook-invoices", retryFirstConnect: false).jetStream()
        guard let config = try js.existingKeyValue(ClusterLayout.configBucket),
            let record = try config.get(ClusterLayout.configKey),
            let leases = try js.existingKeyValue(ClusterLayout.leaseBucket)
        else { throw UsageError("no Daybook cluster at \(nats): run `daybook cluster init --nats \(nats)` first") }
        let partitioning = Partitioning(count: try ClusterLayout.partitions(in: record.value))
        var owners: [String: [Int]] = [:]
        let wanted = customer.map { [partitioning.partition(ofCustomer: $0)] } ?? Array(0..<partitioning.count)
        for p in wanted {
            guard let (holder, _) = try PartitionLease.holder(of: p, in: leases) else {
                throw ClusterReadError(
                    message:
                        "partition \(p) has no owner now (an instance is taking it over): its customers' invoices cannot be read; retry in a few seconds"
                )
            }
            owners[holder.url, default: []].append(p)
        }
        var table = Table(columns: Self.columns)
        let query =
            customer.map { "?customer=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) }
            ?? ""
        for url in owners.keys.sorted() {
            for row in try ClusterHTTP.rows(url + "/v1/invoices" + query) {
                table.rows.append(Self.columns.map { row[$0] as? String ?? "" })
            }
        }
        table.rows.sort { Array($0[0].utf8).lexicographicallyPrecedes(Array($1[0].utf8)) }
        return table
    }
}
