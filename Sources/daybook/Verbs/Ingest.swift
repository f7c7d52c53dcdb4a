import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest usage events from an NDJSON file or JSON array ('-' for standard input).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Argument(help: "The input file, or - for standard input.") var file: String
    // `.unconditional`: `--batch-size -5` is the value -5 (rejected by the range check), not a missing value.
    @Option(parsing: .unconditional, help: "Records per durable write transaction, 1 to 1000000.")
    var batchSize: Int = 20_000
    @Flag(help: "Show a progress line on standard error when it is a terminal (quiet in pipes and with --format json).")
    var progress = false
    @Flag(
        help: "Write a line per durably committed batch to standard error: how far the input is stored (for scripts).")
    var reportCommits = false

    static let batchSizes = 1...1_000_000

    func validate() throws {
        try requireRange(batchSize, Self.batchSizes, option: "--batch-size")
    }

    func report(_ batch: IngestBatch, _ summary: IngestSummary) {
        if reportCommits, let last = batch.records.last {
            FileHandle.standardError.write(Data("committed through \(last.position): \(summary.json)\n".utf8))
        }
    }

    /// The progress line, when asked for and standard error is a terminal, and not for JSON output.
    func progressLine() -> ProgressLine? {
        guard progress, isatty(STDERR_FILENO) == 1, output.format != .json else { return nil }
        let total = file == "-" ? nil : (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        return ProgressLine(totalBytes: total ?? nil)
    }

    func run() throws {
        let now = try global.clock()
        if file != "-" { try InputFile.require(file, holding: "a file of events") }
        let result: IngestPipeline.Result
        do {
            let reader = try RecordReader(path: file)
            let writer = try global.store.writer()
            defer { writer.close() }
            let pipeline = IngestPipeline(
                source: file == "-" ? "stdin" : "file:\(file)", now: now, batchSize: batchSize)
            let line = progressLine()
            defer { line?.end() }
            result = try pipeline.run(reader, into: writer) { batch, summary in
                report(batch, summary)
                line?.add(batch, summary)
            }
        } catch let error where FileProblem(error) != nil {
            // Foundation's errors here come from reading the input (the store's are LMDB errors).
            throw FileProblem(error, subject: file == "-" ? "standard input" : file, action: "cannot read")!
        }
        Self.print(result.summary, records: result.records, output)
    }

    /// The ingest summary in the chosen format (SPEC §7); `records` in the table form when known.
    static func print(_ summary: IngestSummary, records count: Int?, _ output: FormatOption) {
        switch output.resolved(summary: true) {
        case .json: Swift.print(summary.json)
        case .csv:
            Swift.print(
                "accepted,duplicates,dead_lettered,metric_rejections\n\(summary.accepted),\(summary.duplicates),\(summary.deadLettered),\(summary.metricRejections)"
            )
        case .table:
            let records = count ?? (summary.accepted + summary.duplicates + summary.deadLettered)
            Swift.print(
                "\(records) records: \(summary.accepted) accepted, \(summary.duplicates) duplicates, "
                    + "\(summary.deadLettered) dead-lettered; \(summary.metricRejections) metric rejections")
        }
    }
}

/// `daybook ingest --progress` on a terminal: one line, rewritten after each committed batch.
final class ProgressLine {
    private let totalBytes: Int?
    private var bytes = 0
    private var summary = IngestSummary()
    private let start = ContinuousClock.now

    init(totalBytes: Int?) { self.totalBytes = totalBytes }

    func add(_ batch: IngestBatch, _ s: IngestSummary) {
        // Each record's bytes plus its newline: about the input read so far.
        bytes += batch.records.reduce(0) { $0 + $1.length + 1 }
        summary += s
        let seconds = max(0.001, (ContinuousClock.now - start) / .seconds(1))
        let records = summary.accepted + summary.duplicates + summary.deadLettered
        let share = totalBytes.map { t in t > 0 ? " \(min(100, bytes * 100 / t))%" : "" } ?? ""
        let line =
            "\r\u{1B}[K\(records) records\(share): \(summary.accepted) accepted, \(summary.duplicates) duplicates, "
            + "\(summary.deadLettered) dead-lettered, \(Int(Double(records) / seconds)) records/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func end() { FileHandle.standardError.write(Data("\n".utf8)) }
}
