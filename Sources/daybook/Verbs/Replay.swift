import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the breakdown from the log and compare it with the materialized state (--verify).")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Flag(help: "Rebuild into a scratch store and report every mismatch; exit 1 on any.") var verify = false

    func run() throws {
        guard verify else { throw UsageError("replay needs --verify (replays into a directory are not built yet)") }
        let scratch = NSTemporaryDirectory() + "daybook-verify-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let mismatches = try store.engine(mustExist: true).verify(scratchDirectory: scratch)
        for m in mismatches { print(m) }
        if mismatches.isEmpty {
            print("verified: the materialized breakdown equals a rebuild from the log")
        } else {
            print("\(mismatches.count) mismatches")
            throw ExitCode(1)
        }
    }
}
