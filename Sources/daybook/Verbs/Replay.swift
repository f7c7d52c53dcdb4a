import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

/// `daybook replay MODE`: rebuild state from the log (SPEC §6). Each mode is a subcommand;
/// `replay --verify` is the spec's spelling of `replay verify`. (The next modes, `--as-of-seq N
/// --into DIR` and `--as-of TIME --into DIR`, come as options here dispatched like `--verify`, and
/// as a subcommand of their own.)
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild state from the log: `replay verify` (or `replay --verify`) checks the materialized state.",
        subcommands: [Verify.self])
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Flag(help: "Same as `daybook replay verify`.") var verify = false

    func run() throws {
        guard verify else {
            throw UsageError("replay needs a mode: `daybook replay verify` (or `daybook replay --verify`)")
        }
        try Verify.verify(store)
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Rebuild the breakdown from the log into a scratch store and compare it with the materialized state; "
                + "report every mismatch, exit 1 on any.")
        @OptionGroup var store: StoreOption
        @OptionGroup var ignored: IgnoredClockOption

        func run() throws { try Self.verify(store) }

        static func verify(_ store: StoreOption) throws {
            let engine = try store.engine(.read)
            let scratch = try ScratchDirectory(prefix: "daybook-verify-")
            defer { scratch.remove() }
            let mismatches = try engine.verify(scratchDirectory: scratch.path)
            for m in mismatches { print(m) }
            if mismatches.isEmpty {
                print("verified: the materialized breakdown equals a rebuild from the log")
            } else {
                print("\(mismatches.count) mismatches")
                throw ExitCode(1)
            }
        }
    }
}
