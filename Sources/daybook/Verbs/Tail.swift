import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookSources
import DaybookStore
import Foundation

/// `daybook tail`: ingest continuously from a growing file, standard input or a JetStream
/// consumer (SPEC §7), exactly once, until SIGTERM/SIGINT (then the batch in flight is committed
/// and acknowledged, the summary printed, exit 0).
struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Follow a growing NDJSON file (like tail -F), standard input, or a NATS JetStream stream, and ingest what arrives.",
        discussion: """
            --file PATH: the file's identity (device, inode), byte offset and line count are committed in the \
            same transaction as the events read up to them, so a restart resumes exactly where the last commit \
            stopped; rotation by rename, truncation and a file that appears later are followed; a partial last \
            line waits for its newline.
            --stdin: reads standard input until it ends. A pipe has no position to resume from: NO checkpoint is \
            stored, and input sent again after a restart counts as duplicates.
            --nats URL --stream S --consumer C: a JetStream durable pull consumer (created with explicit acks when \
            missing). Each fetch is one batch; the stream sequence of its last message is committed in the same \
            transaction as its events, and its messages are acknowledged only after that commit. Messages at or \
            below the committed sequence (redeliveries, a restart) are acknowledged and skipped, not counted again. \
            See docs/operations.md, "NATS JetStream", for the stream setup.
            Stops on SIGTERM or SIGINT after committing the batch in flight, then prints what it ingested.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOption
    @Option(help: ArgumentHelp("The NDJSON file to follow.", valueName: "path")) var file: String?
    @Flag(help: "Read standard input until it ends (no checkpoint: see above).") var stdin = false
    @OptionGroup var nats: NATSOptions
    @Option(help: "Records per batch at most, 1 to 1000000 (with --nats 1 to 100000: one fetch).") var batchSize =
        10_000
    @Option(help: "Submit a batch at the latest this many milliseconds after its first line, 1 to 60000.")
    var windowMs = 50

    func validate() throws {
        try requireRange(batchSize, Ingest.batchSizes, option: "--batch-size")
        try requireRange(windowMs, 1...60_000, option: "--window-ms")
        let chosen = [file != nil, stdin, nats.isSet].filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError("tail needs exactly one source: --file PATH, --stdin or --nats URL")
        }
    }

    func source() throws -> any Source {
        var settings = FileTail.Settings()
        settings.batchSize = batchSize
        settings.window = .milliseconds(windowMs)
        let clock = try global.clockOption.liveClock()
        if let jetStream = try nats.source(clock: clock, batchSize: batchSize) { return jetStream }
        if let file { return FileTail(path: file, settings: settings, clock: clock) }
        return StandardInputTail(settings: settings, clock: clock)
    }

    func run() throws {
        let source = try source()
        ShutdownSignals.install { _ in source.stop() }
        let writer = try global.store.writer()
        defer { writer.close() }
        let before = try writer.perform { engine in try engine.stats().counters }
        try source.run(into: writer)
        let after = try writer.perform { engine in try engine.stats().counters }
        if let jetStream = source as? JetStreamTail {
            let s = jetStream.statistics
            FileHandle.standardError.write(
                Data(
                    ("\(jetStream.name): checkpoint stream seq \(s.checkpoint), lag \(s.lag); \(s.records) messages ingested "
                        + "(\(s.reread) read again from the stream), \(s.skipped) redeliveries at or below the checkpoint "
                        + "acknowledged and skipped; \(s.reconnects) reconnects\n").utf8))
        }
        var summary = IngestSummary()
        summary.accepted = Int(after.events - before.events)
        summary.duplicates = Int(after.duplicates - before.duplicates)
        summary.deadLettered = Int(after.deadLetters - before.deadLetters)
        summary.metricRejections = Int(after.metricRejections - before.metricRejections)
        Ingest.print(summary, records: nil, output)
    }
}
