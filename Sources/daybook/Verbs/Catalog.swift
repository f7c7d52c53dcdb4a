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

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Manage the catalog.",
        subcommands: [Apply.self])

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate and store a new catalog version; recompute the contracts it changes.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The catalog JSON document.") var file: String
        @Option(
            help: ArgumentHelp(
                "Publish it as the next catalog version of the partitioned cluster on these NATS servers instead (every partition applies it, in version order).",
                valueName: "url"))
        var cluster: String?

        func run() throws {
            let bytes = try readInput(file)
            if let cluster {
                do {
                    _ = try Catalog.parse(bytes)
                } catch {
                    throw UsageError("\(file): \(error)")
                }
                let js = try NATSConnection(url: cluster, name: "daybook-catalog", retryFirstConnect: false).jetStream()
                guard let kv = try js.existingKeyValue(ClusterLayout.catalogBucket) else {
                    throw UsageError(
                        "no Daybook cluster at \(cluster): run `daybook cluster init --nats \(cluster)` first")
                }
                let feed = CatalogFeed(kv)
                guard let version = try feed.publish(bytes) else {
                    print(
                        "the cluster's newest catalog version \(try feed.versions().count) is this document already: nothing published"
                    )
                    return
                }
                print(
                    "catalog version \(version) published to the cluster at \(cluster): every partition applies it before its next batch"
                )
                return
            }
            let change: CatalogChange
            do {
                change = try global.engine(.write).applyCatalog(bytes, now: try global.clock())
            } catch let error as CatalogError {
                throw UsageError("\(file): \(error)")
            }
            print(
                "catalog version \(change.version) applied: \(change.added.count) contracts added, "
                    + "\(change.changed.count) changed, \(change.removed.count) removed, \(change.eventsReread) events re-read"
            )
        }
    }
}
