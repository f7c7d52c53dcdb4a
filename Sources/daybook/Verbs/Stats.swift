import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log position, recompute counters, and each tail's checkpoint and lag.",
        discussion: """
            Lag: for a file tail, the bytes of the file beyond its checkpoint now (when the file at the path \
            is still the one checkpointed; otherwise as of its last commit); for a JetStream tail, the \
            consumer's pending messages at its last commit. Sources are listed in the table and JSON forms.

            --state-hash prints instead one line, `state_hash <32 hex digits>`: a digest of the billing \
            state (catalog versions, the events, rejections, invoices, finalization snapshots, drift, \
            corrections), equal for two stores that bill the same however their events were batched (no \
            ingest times, batch positions, counters, dead letters or checkpoints go into it; an invoice the \
            clock finalized before an event bills differently from one finalized after, and hashes so). It \
            compares a partition restored from a snapshot with one rebuilt from the first event. \
            With --format json: {"state_hash": "..."}; with --format csv: a header and the value.
            """)
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption
    @Flag(name: .customLong("state-hash"), help: "Print only the digest of the billing state (see below).")
    var stateHash = false

    func run() throws {
        let engine = try store.engine(.read)
        if stateHash {
            let hash = try engine.stateHash()
            switch output.format {
            case .json: print("{\"state_hash\": \"\(hash)\"}")
            case .csv: print("state_hash\n\(hash)")
            case .table, nil: print("state_hash \(hash)")
            }
            return
        }
        let fields = try engine.statsFields()
        let sources = try engine.sourcePositions().map {
            ($0.source, $0.position.description, Self.lag($0.source, $0.position))
        }
        switch output.resolved(summary: true) {
        case .json:
            let list = sources.map { s in
                "{\"source\": \(StrictJSON.quote(s.0)), \"position\": \(StrictJSON.quote(s.1)), \"lag\": \(s.2.map(String.init) ?? "null")}"
            }
            print(
                "{"
                    + (fields.map { "\"\($0.0)\": \($0.1)" } + ["\"sources\": [" + list.joined(separator: ", ") + "]"])
                    .joined(separator: ", ") + "}")
        case .csv:
            print(fields.map(\.0).joined(separator: ",") + "\n" + fields.map { "\($0.1)" }.joined(separator: ","))
        case .table:
            var table = Table(columns: ["counter", "value"])
            table.rows = fields.map { [$0.0, "\($0.1)"] }
            print(TableWriter.text(table, rightAligned: ["value"]), terminator: "")
            guard !sources.isEmpty else { return }
            var positions = Table(columns: ["source", "position", "lag"])
            positions.rows = sources.map { [$0.0, $0.1, $0.2.map(String.init) ?? ""] }
            print("")
            print(TableWriter.text(positions, rightAligned: ["lag"]), terminator: "")
        }
    }

    /// A file tail's lag now, when its file is still at the path; otherwise the lag stored at its last commit.
    static func lag(_ source: String, _ position: SourcePosition) -> UInt64? {
        guard source.hasPrefix("file:"), case .file(let device, let inode, let offset, _) = position.place else {
            return position.lag
        }
        var st = stat()
        guard stat(String(source.dropFirst(5)), &st) == 0, UInt64(st.st_dev) == device, UInt64(st.st_ino) == inode
        else { return position.lag }
        let size = UInt64(max(0, st.st_size))
        return size > offset ? size - offset : 0
    }
}
