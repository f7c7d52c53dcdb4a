import ArgumentParser
import DaybookEngine
import DaybookStore

/// `daybook backup --data DIR --into PATH`: a compact, consistent copy of a store.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a compact, consistent copy of the store into a new directory.",
        discussion: """
            The copy is the state of one commit (LMDB copies inside a read transaction: ingest and serve go \
            on meanwhile, and nothing waits for the copy); free pages are left out. It is a store like any \
            other: point --data at it. PATH must be missing or an empty directory.
            """)
    @OptionGroup var global: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Option(help: ArgumentHelp("The new directory.", valueName: "path")) var into: String

    func run() throws {
        let engine = try global.engine(.read)
        let summary = try engine.backup(into: into)
        print(
            "copied \(global.data) into \(into) at log seq \(summary.lastSeq) (journal position "
                + "\(summary.journalPosition)), \(summary.bytes / 1024) KiB")
    }
}
