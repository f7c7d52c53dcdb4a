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
    @Flag(help: "Report each committed batch on standard error.") var progress = false

    static let batchSizes = 1...1_000_000

    func validate() throws {
        try requireRange(batchSize, Self.batchSizes, option: "--batch-size")
    }

    func report(_ batch: IngestBatch, _ summary: IngestSummary) {
        if progress, let last = batch.records.last {
            FileHandle.standardError.write(Data("committed through \(last.position): \(summary.json)\n".utf8))
        }
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
            result = try pipeline.run(reader, into: writer, committed: report)
        } catch let error where FileProblem(error) != nil {
            // Foundation's errors here come from reading the input (the store's are LMDB errors).
            throw FileProblem(error, subject: file == "-" ? "standard input" : file, action: "cannot read")!
        }
        let (count, summary) = (result.records, result.summary)
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
