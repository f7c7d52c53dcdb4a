import ArgumentParser
import DaybookOutput
import Foundation

/// Output format of report verbs.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json
}

/// `--format table|csv|json`, on every verb that prints a report.
struct FormatOption: ParsableArguments {
    @Option(name: .long, help: "table, csv or json (default: table on a terminal, otherwise csv; json for summaries).")
    var format: OutputFormat?

    var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    func resolved(summary: Bool = false) -> OutputFormat {
        format ?? (isTerminal ? .table : (summary ? .json : .csv))
    }

    /// Prints a table in the chosen format.
    func emit(
        _ table: Table, rawJSON: Set<String> = [], rightAligned: Set<String> = [], maxWidths: [String: Int] = [:]
    ) {
        switch resolved() {
        case .table: print(TableWriter.text(table, rightAligned: rightAligned, maxWidths: maxWidths), terminator: "")
        case .csv: print(TableWriter.csv(table), terminator: "")
        case .json: print(TableWriter.jsonArray(table, rawColumns: rawJSON), terminator: "")
        }
    }
}
