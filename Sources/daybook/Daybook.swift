import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookServer
import DaybookWarehouse
import DaybookWorkload
import Foundation

/// `daybook`: the command-line front of the engine. Commands parse arguments and call
/// `DaybookEngine`; they hold no billing logic.
@main
struct Daybook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daybook",
        abstract: "Event-sourced incremental invoice breakdowns for usage-based billing.",
        subcommands: [
            CatalogCommand.self, Ingest.self, Tail.self, Finalize.self, Invoices.self, InvoiceCommand.self, Breakdown.self,
            Export.self,
            Discrepancies.self, Corrections.self, Explain.self, Alerts.self,
            Unbilled.self, DeadLetters.self, Rejections.self, Stats.self, Check.self, Replay.self, Generate.self,
            Demo.self, Serve.self, Backup.self, Publish.self, ClusterCommand.self,
        ])

    /// Runs the command and maps failures to exit codes (SPEC §7): 0 ok, 1 runtime error,
    /// 2 bad usage or invalid input.
    ///
    /// Help (`--help`, `help VERB`) is ArgumentParser's clean exit: the usage text on standard
    /// output and exit 0. Parse and `validate()` errors get ArgumentParser's message with the usage
    /// text on standard error and exit 2 (ArgumentParser's own `EX_USAGE` is 64). Errors thrown by
    /// a verb's `run()` go through `describe(_:)`.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            fail(error)
        }
    }

    static func fail(_ error: any Error) -> Never {
        switch exitCode(for: error) {
        case .success:
            exit(withError: error)
        case .validationFailure:
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        default:
            let (code, message) = describe(error)
            FileHandle.standardError.write(Data(("daybook: " + message + "\n").utf8))
            Foundation.exit(code)
        }
    }

    static func describe(_ error: any Error) -> (Int32, String) {
        switch error {
        case let e as CatalogError: return (2, "\(e)")
        case let e as InputError: return (2, "\(e)")
        case let e as UsageError: return (2, e.message)
        case let e as EngineError: return (e.code == .conflict ? 1 : 2, e.message)
        // A directory that must be empty and is not (`replay --into`) is bad usage; no scratch space is not.
        case let e as ScratchDirectoryError: return (e.code == .notEmpty ? 2 : 1, e.message)
        case let e as ServeError: return (1, "\(e)")
        case let e as WarehouseError: return (e.isUsage ? 2 : 1, "\(e)")
        // --changed-since past the end of the log: the argument is wrong.
        case let e as ExportBasisError: return (2, "\(e)")
        case let e as ExitCode: return (e.rawValue, "failed")
        // No store at --data is bad usage; one that is not Daybook's, damaged or too new is not.
        case let e as StoreError: return (e.kind == .noStore ? 2 : 1, "\(e)")
        default:
            if let damaged = DamagedStore.message(for: error) { return (1, damaged) }
            // Foundation's file errors: the path and the cause, exit 2 when the path is the problem.
            if let problem = FileProblem(error) { return (problem.exitCode, problem.description) }
            return (1, "\(error)")
        }
    }
}

/// Bad usage found after parsing (unreadable file, malformed `--now`, …): exit code 2.
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

func readInput(_ path: String, holding what: String = "a catalog file") throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    try InputFile.require(path, holding: what)
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UsageError("cannot read \(path): no such file or not readable")
    }
    return Array(data)
}
