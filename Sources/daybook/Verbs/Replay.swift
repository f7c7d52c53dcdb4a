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
            // The engine makes its scratch store in a private mkdtemp directory and removes it on
            // every return and error.
            let mismatches = try engine.verify()
            for m in mismatches { print(m) }
            guard mismatches.isEmpty else {
                fflush(nil)  // all streams: the list comes before the summary, also when both go to one file
                throw VerifyFailed(count: mismatches.count)
            }
            print("verified: the materialized breakdown equals a rebuild from the log")
        }
    }
}

/// `replay verify` found mismatches: exit 1 (SPEC §6), with a summary saying what to do.
struct VerifyFailed: Error, CustomStringConvertible {
    var count: Int
    var description: String {
        "\(count) \(count == 1 ? "mismatch" : "mismatches"): the materialized breakdown differs from a rebuild "
            + "from the log (each listed above: invoice, line item, day, materialized vs rebuilt values). "
            + "The log is intact and is the source of truth (the rebuilt values are the right ones): keep this "
            + "store as it is for diagnosis and report the mismatches as a Daybook bug; do not finalize or "
            + "export from it until that is resolved"
    }
}
