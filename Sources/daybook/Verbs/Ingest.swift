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
    @Option(help: "Records per durable write transaction, 1 to 1000000.") var batchSize: Int = 20_000
    @Flag(help: "Report each committed batch on standard error.") var progress = false

    static let batchSizes = 1...1_000_000

    func validate() throws {
        try requireRange(batchSize, Self.batchSizes, option: "--batch-size")
    }

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
