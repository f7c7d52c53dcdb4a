import ArgumentParser
import DaybookCore
import DaybookEngine
import Foundation

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Manage the catalog.",
        subcommands: [Apply.self])

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate and store a new catalog version; recompute the contracts it changes.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The catalog JSON document.") var file: String

        func run() throws {
            let bytes = try readInput(file)
            let change: CatalogChange
            do {
                change = try global.engine().applyCatalog(bytes, now: try global.clock())
            } catch let error as CatalogError {
                throw UsageError("\(file): \(error)")
            }
            print(
                "catalog version \(change.version) applied: \(change.added.count) contracts added, "
                    + "\(change.changed.count) changed, \(change.removed.count) removed, \(change.eventsReread) events re-read"
            )
        }
    }
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest usage events from an NDJSON file or JSON array ('-' for standard input).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Argument(help: "The input file, or - for standard input.") var file: String
    @Option(help: "Records per durable write transaction.") var batchSize: Int = 20_000
    @Flag(help: "Report each committed batch on standard error.") var progress = false

    func report(_ batch: [IngestRecord], _ summary: IngestSummary) {
        if progress, let last = batch.last {
            FileHandle.standardError.write(Data("committed through \(last.position): \(summary.json)\n".utf8))
        }
    }

    func run() throws {
        let source = file == "-" ? "stdin" : "file:\(file)"
        let engine = try global.engine()
        let now = try global.clock()
        let size = max(1, batchSize)
        let reader = try InputReader(path: file)
        var count = 0
        let summary: IngestSummary
        if reader.startsWithArray {
            // A JSON array is split as a whole (its elements cannot be told apart before the end).
            let records = try RecordSplitter.split(try reader.readAll(), source: file == "-" ? "stdin" : file)
            count = records.count
            let batches = stride(from: 0, to: records.count, by: size).map {
                Array(records[$0..<min($0 + size, records.count)])
            }
            summary = try engine.ingest(batches: batches, source: source, now: now, committed: report)
        } else {
            // NDJSON is streamed: only the batch being written and the next one are in memory.
            var lines = LineAccumulator()
            var pending: [IngestRecord] = []
            var ended = false
            summary = try engine.ingest(
                nextBatch: {
                    while pending.count < size && !ended {
                        if let chunk = try reader.read() {
                            pending += lines.feed(chunk)
                        } else {
                            pending += lines.finish(); ended = true
                        }
                    }
                    guard !pending.isEmpty else { return nil }
                    let batch = Array(pending.prefix(size))
                    pending.removeFirst(batch.count)
                    count += batch.count
                    return batch
                }, source: source, now: now, committed: report)
        }
        switch output.resolved(summary: true) {
        case .json: print(summary.json)
        case .csv:
            print(
                "accepted,duplicates,dead_lettered,metric_rejections\n\(summary.accepted),\(summary.duplicates),\(summary.deadLettered),\(summary.metricRejections)"
            )
        case .table:
            print(
                "\(count) records: \(summary.accepted) accepted, \(summary.duplicates) duplicates, "
                    + "\(summary.deadLettered) dead-lettered; \(summary.metricRejections) metric rejections")
        }
    }
}

struct Finalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Finalize invoices due by the clock, or every invoice whose period ends on or before --through.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Also finalize every invoice whose period end is on or before this date.") var through: String?

    func run() throws {
        let through = try through.map { try parseDay($0, option: "--through") }
        let ids = try global.engine().finalize(now: try global.clock(), through: through)
        print(
            "\(ids.count) invoice\(ids.count == 1 ? "" : "s") finalized"
                + (ids.isEmpty ? "" : ": " + ids.joined(separator: ", ")))
    }
}

struct Invoices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List invoices with status and period totals.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only this customer's invoices.") var customer: String?

    func run() throws {
        let table = try global.engine(mustExist: true).invoicesTable(now: try global.clock(), customer: customer)
        output.emit(table, rightAligned: ["line_items", "subtotal", "credits_applied", "commits_applied", "total"])
    }
}

struct Breakdown: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The per-day breakdown of one invoice: a row per day and line item, plus day totals (line item '*').")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Invoice id, CONTRACT/YYYY-MM-DD.") var invoice: String

    func run() throws {
        let table = try global.engine(mustExist: true).breakdown(invoiceID: invoice, now: try global.clock())
        output.emit(
            table, rightAligned: ["quantity", "unit_price", "subtotal", "credits_applied", "commits_applied", "total"])
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the breakdown as of a date: invoices, line_items and balances tables (SPEC §5).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Export days strictly before this date.") var asOf: String
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "csv or ndjson.") var format: String = "csv"

    func run() throws {
        guard format == "csv" || format == "ndjson" else { throw UsageError("--format must be csv or ndjson") }
        let date = try parseDay(asOf, option: "--as-of")
        let export = try global.engine(mustExist: true).export(asOf: date)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for (name, table) in export.files {
            let text = format == "csv" ? TableWriter.csv(table) : TableWriter.ndjson(table)
            let path = "\(out)/\(name).\(format)"
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw UsageError("cannot write \(path)")
            }
        }
        print(
            "exported \(export.invoices.rows.count) invoice rows, \(export.lineItems.rows.count) line-item rows, "
                + "\(export.balances.rows.count) balance rows to \(out)")
    }
}

struct Unbilled: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Logged events no contract covers.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    func run() throws { output.emit(try global.engine(mustExist: true).unbilledTable()) }
}

struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Records that were not accepted, with reason and position.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    func run() throws { output.emit(try global.engine(mustExist: true).deadLettersTable()) }
}

struct Rejections: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Metric rejections: accepted events a sum/max metric could not use, with the reason.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    func run() throws { output.emit(try global.engine(mustExist: true).metricRejectionsTable()) }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log position and recompute counters.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption

    func run() throws {
        let fields = try global.engine(mustExist: true).statsFields()
        switch output.resolved(summary: true) {
        case .json: print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        case .csv:
            print(fields.map(\.0).joined(separator: ",") + "\n" + fields.map { "\($0.1)" }.joined(separator: ","))
        case .table:
            var table = Table(columns: ["counter", "value"])
            table.rows = fields.map { [$0.0, "\($0.1)"] }
            print(TableWriter.text(table, rightAligned: ["value"]), terminator: "")
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a realistic synthetic NDJSON workload (seeded, reproducible) to standard output or --out.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "First day, YYYY-MM-DD.") var start: String = "2026-10-01"
    @Option(help: "Number of days.") var days: Int = 30
    @Option(help: "Mean events per customer per weekday.") var eventsPerDay: Int = 200
    @Option(help: "Comma-separated customer ids.") var customers: String = "acme,globex,initech"
    @Option(help: "Output file (default: standard output).") var out: String?

    func run() throws {
        var g = WorkloadGenerator(start: try parseDay(start, option: "--start"))
        g.seed = seed
        g.days = days
        g.eventsPerDay = eventsPerDay
        g.customers = customers.split(separator: ",").map(String.init)
        let text = g.lines().joined(separator: "\n") + "\n"
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                throw UsageError("cannot write \(out)")
            }
        } else {
            print(text, terminator: "")
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the breakdown from the log and compare it with the materialized state (--verify).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Rebuild into a scratch store and report every mismatch; exit 1 on any.") var verify = false

    func run() throws {
        guard verify else { throw UsageError("replay needs --verify (replays into a directory are not built yet)") }
        let scratch = NSTemporaryDirectory() + "daybook-verify-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let mismatches = try global.engine(mustExist: true).verify(scratchDirectory: scratch)
        for m in mismatches { print(m) }
        if mismatches.isEmpty {
            print("verified: the materialized breakdown equals a rebuild from the log")
        } else {
            print("\(mismatches.count) mismatches")
            throw ExitCode(1)
        }
    }
}

struct Discrepancies: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open drift between finalized invoices and the live breakdown, per invoice line item.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only this customer.") var customer: String?
    @Flag(help: "Resolved drift (returned to the snapshot) instead of open drift.") var history = false

    func run() throws {
        let engine = try global.engine(mustExist: true)
        let records = try engine.discrepancies(customer: customer, history: history)
        switch output.resolved() {
        case .json: print(engine.discrepanciesJSON(records), terminator: "")
        case .csv: print(TableWriter.csv(engine.discrepanciesTable(records)), terminator: "")
        case .table:
            if records.isEmpty {
                print(
                    history ? "no resolved drift" : "no open drift: every finalized invoice matches the live breakdown")
                return
            }
            printDiscrepancyReport(engine, records, causes: true)
        }
    }
}

struct InvoiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice", abstract: "Inspect one invoice.",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The finalized snapshot beside the live values, per line item.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: FormatOption
        @Argument(help: "Invoice id, CONTRACT/YYYY-MM-DD.") var id: String

        func run() throws {
            let (snapshot, table) = try global.engine(mustExist: true).invoiceComparison(
                invoiceID: id, now: try global.clock())
            if output.resolved() == .table {
                if let snapshot {
                    print(
                        "\(id): finalized at \(snapshot.finalizedAt) (log seq \(snapshot.seq)); finalized values beside live values\n"
                    )
                } else {
                    print("\(id): draft (not finalized); live values\n")
                }
            }
            output.emit(table, rightAligned: Set(table.columns.dropFirst()))
        }
    }
}
