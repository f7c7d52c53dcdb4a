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
            """)
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption

    func run() throws {
        let engine = try store.engine(.read)
        let fields = try engine.statsFields()
        let sources = try engine.sourcePositions().map { ($0.source, $0.position.description, Self.lag($0.source, $0.position)) }
        switch output.resolved(summary: true) {
        case .json:
            let list = sources.map { s in
                "{\"source\": \(StrictJSON.quote(s.0)), \"position\": \(StrictJSON.quote(s.1)), \"lag\": \(s.2.map(String.init) ?? "null")}"
            }
            print("{" + (fields.map { "\"\($0.0)\": \($0.1)" } + ["\"sources\": [" + list.joined(separator: ", ") + "]"])
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
