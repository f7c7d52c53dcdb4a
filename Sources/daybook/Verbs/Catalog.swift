import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Manage the catalog.",
        subcommands: [Apply.self])

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate and store a new catalog version; recompute the contracts it changes.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The catalog JSON document.") var file: String

        func run() throws {
            let bytes = try readInput(file)
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
