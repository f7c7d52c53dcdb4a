import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

/// `daybook replay`: rebuild state from the log (SPEC §6): `--verify` checks the materialized
/// state against a rebuild; `--into DIR [--as-of-seq N | --as-of TIME]` builds the state as it
/// was known then into a new store. (`replay verify` is the subcommand spelling of `--verify`.)
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild state from the log: check the materialized state, or build a past state into a new store.",
        discussion: """
            daybook replay --verify
              Rebuild the breakdown from the log into a scratch store and compare; exit 1 on any mismatch.

            daybook replay --into DIR [--as-of-seq N | --as-of TIME]
              Build in DIR (missing or empty) the store as it was known at log position N (every write before event N+1: catalog versions, finalizations, drift as they were) or at ingest time TIME; without either, the whole log. Every read verb then works with --data DIR. A replay that does not finish leaves DIR marked incomplete, and every verb refuses it.
            """,
        subcommands: [Verify.self])
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Flag(help: "Same as `daybook replay verify`.") var verify = false
    @Option(help: ArgumentHelp("Build the replayed store in this directory (missing or empty).", valueName: "dir"))
    var into: String?
    @Option(help: ArgumentHelp("Replay up to log position N.", valueName: "seq")) var asOfSeq: UInt64?
    @Option(help: ArgumentHelp("Replay the writes made at or before this ingest time (RFC 3339).", valueName: "time"))
    var asOf: Timestamp?

    static let modes =
        "`daybook replay --verify` (or `daybook replay verify`), or `daybook replay --into DIR [--as-of-seq N | --as-of TIME]`"

    func validate() throws {
        if verify && (into != nil || asOfSeq != nil || asOf != nil) {
            throw ValidationError("--verify checks the store in place: it takes no --into, --as-of-seq or --as-of")
        }
        if asOfSeq != nil && asOf != nil { throw ValidationError("give --as-of-seq N or --as-of TIME, not both") }
        if !verify && into == nil && (asOfSeq != nil || asOf != nil) {
            throw ValidationError("--as-of-seq and --as-of need --into DIR: " + Self.modes)
        }
        if let into { try requireNonEmpty(into, option: "--into") }
    }

    func run() throws {
        if verify { return try Verify.verify(store) }
        // Here, not in validate(): ArgumentParser validates this command also when `replay verify` runs.
        guard let into else { throw UsageError("replay needs a mode: " + Self.modes) }
        let point: ReplayPoint = asOfSeq.map { .seq($0) } ?? asOf.map { .time($0) } ?? .end
        let engine = try store.engine(.read)
        let line = ReplayProgressLine.onTerminal()
        let summary = try engine.replay(into: into, asOf: point, progress: line.map { l in { l.show($0) } })
        line?.end()
        print(
            "replayed \(summary.writes) writes to \(summary.point) into \(into): log at seq \(summary.lastSeq), "
                + "catalog version \(summary.catalogVersion), \(summary.finalizedInvoices) invoices finalized")
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
            let line = ReplayProgressLine.onTerminal()
            defer { line?.end() }
            // The engine makes its scratch store in a private mkdtemp directory and removes it on
            // every return and error.
            let mismatches = try engine.verify(progress: line.map { l in { l.show($0) } })
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

/// The progress line of a replay on a terminal (standard error): events replayed, share, rate.
final class ReplayProgressLine {
    private let start = ContinuousClock.now
    private var last = ContinuousClock.now - .seconds(1)

    /// A line when standard error is a terminal, else nil (pipes and files stay clean).
    static func onTerminal() -> ReplayProgressLine? { isatty(STDERR_FILENO) == 1 ? ReplayProgressLine() : nil }

    func show(_ p: ReplayProgress) {
        let now = ContinuousClock.now
        guard now - last >= .milliseconds(100) || p.events == p.totalEvents else { return }
        last = now
        let seconds = max(0.001, (now - start) / .seconds(1))
        let share = p.totalEvents > 0 ? " (\(p.events * 100 / p.totalEvents)%)" : ""
        let line =
            "\r\u{1B}[K\(p.events) of \(p.totalEvents) events\(share), \(Int(Double(p.events) / seconds)) events/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func end() { FileHandle.standardError.write(Data("\n".utf8)) }
}
