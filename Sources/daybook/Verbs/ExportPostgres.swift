import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookWarehouse
import Dispatch
import Foundation
import Synchronization

/// `export --postgres URL [--incremental | --changed-since SEQ]`: the warehouse export (SPEC §5).
struct WarehouseOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Load the tables into PostgreSQL schema invoice_breakdown instead of files "
                + "(postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full]).",
            valueName: "url"))
    var postgres: String?
    @Flag(help: "With --postgres: write only what changed since the last export in invoice_breakdown.exports.")
    var incremental = false

    /// One of `--out` and `--postgres`; `--incremental` and `--changed-since` exclusive, with `--postgres`.
    func validate(out: String?, changedSince: UInt64?) throws {
        try requireNonEmpty(postgres, option: "--postgres")
        if out != nil && postgres != nil { throw ValidationError("--out and --postgres are exclusive: give one") }
        if out == nil && postgres == nil {
            throw ValidationError("give --out DIR (files) or --postgres URL (PostgreSQL)")
        }
        if incremental && changedSince != nil {
            throw ValidationError("--incremental and --changed-since are exclusive: give one")
        }
        if postgres == nil && incremental { throw ValidationError("--incremental goes with --postgres") }
    }

    /// Runs the export into the warehouse and prints what it did.
    func run(url text: String, store: StoreOption, asOf: Day, changedSince: UInt64?) throws {
        let url = try WarehouseURL(parsing: text)
        let engine = try store.engine(.read)
        let warehouse = try blocking { try await Warehouse.connect(url) }
        defer { try? blocking { await warehouse.close() } }
        let report: WarehouseReport
        if incremental || changedSince != nil {
            guard let last = try blocking({ try await warehouse.lastExport() }) else {
                throw WarehouseError.noPreviousExport
            }
            // --incremental: from where the last export stood; --changed-since: from the write that
            // appended SEQ. Either way the tables hold the last export's as-of date.
            let position = try changedSince.map { try engine.journalPosition(appendingSeq: $0) } ?? last.position
            let export = try engine.warehouseExport(asOf: asOf, since: ExportBasis(position: position, asOf: last.asOf))
            let drift = engine.warehouseDrift(export)
            let corrections = engine.warehouseCorrections(export)
            report = try blocking {
                try await warehouse.exportIncremental(export, drift: drift, corrections: corrections, basedOn: last)
            }
        } else {
            let export = try engine.warehouseExport(asOf: asOf)
            let drift = engine.warehouseDrift(export)
            let corrections = engine.warehouseCorrections(export)
            report = try blocking { try await warehouse.exportFull(export, drift: drift, corrections: corrections) }
        }
        print(Self.describe(report, url: url))
    }

    static func describe(_ report: WarehouseReport, url: WarehouseURL) -> String {
        let r = report.record
        let ms =
            report.duration.components.seconds * 1000 + report.duration.components.attoseconds / 1_000_000_000_000_000
        var lines = [
            "exported to \(url) schema invoice_breakdown: \(r.kind) export \(r.id), as of \(r.asOf), "
                + "log seq \(r.logSeq), journal position \(r.position)"
                + (r.changedSincePosition.map { ", changes after position \($0)" } ?? "") + ", \(ms) ms"
        ]
        for table in ["invoices", "line_items", "balances", "drift", "corrections"] {
            lines.append(
                "  \(table): \(report.written[table] ?? 0) rows written, \(report.deleted[table] ?? 0) deleted, "
                    + "\(r.rowCounts[table] ?? 0) in the table")
        }
        return lines.joined(separator: "\n")
    }
}

/// Runs `body` on the concurrency pool and waits for it: the verbs are synchronous, postgres-nio is async.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            let value = try await body()
            outcome.withLock { $0 = .success(value) }
        } catch {
            outcome.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    return try outcome.withLock { $0! }.get()
}
