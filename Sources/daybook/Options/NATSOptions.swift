import ArgumentParser
import DaybookCore
import DaybookSources
import Foundation

/// `--nats URL --stream S --consumer C [--subject SUBJ] [--fetch-timeout MS] [--max-in-flight K]
/// [--ack-wait S]`: a NATS JetStream durable pull consumer as the source of `tail`, and of `serve`
/// (which spells it `--tail-nats URL`). The batch size is `tail`'s `--batch-size`.
struct NATSOptions: ParsableArguments {
    @Option(
        name: [.customLong("nats"), .customLong("tail-nats")],
        help: ArgumentHelp(
            "Tail a NATS JetStream stream: the server URL (nats://HOST:PORT, several separated by commas).",
            valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("With --nats: the JetStream stream.", valueName: "name"))
    var stream: String?

    @Option(
        help: ArgumentHelp(
            "With --nats: the durable pull consumer (created on the stream with explicit acks when it does not exist).",
            valueName: "name"))
    var consumer: String?

    @Option(
        help: ArgumentHelp(
            "With --nats: the filter subject of the consumer daybook creates (default: the whole stream).",
            valueName: "subject"))
    var subject: String?

    @Option(
        help: ArgumentHelp(
            "With --nats: how long a fetch waits for messages, in milliseconds, 1 to 60000.", valueName: "ms"))
    var fetchTimeout = 500

    @Option(
        help: ArgumentHelp(
            "With --nats: batches fetched and submitted before the earlier ones committed, 1 to 64.", valueName: "k"))
    var maxInFlight = 2

    @Option(
        help: ArgumentHelp(
            "With --nats: the ack wait of the consumer daybook creates, in seconds, 1 to 3600 (a delivery not acked for this long is delivered again).",
            valueName: "s"))
    var ackWait = 30

    /// The batch sizes a JetStream fetch takes.
    static let batchSizes = 1...100_000

    func validate() throws {
        guard let url else {
            for (value, option) in [(stream, "--stream"), (consumer, "--consumer"), (subject, "--subject")]
            where value != nil {
                throw ValidationError("\(option) goes with --nats URL")
            }
            return
        }
        try requireNonEmpty(url, option: "--nats")
        guard let stream, !stream.isEmpty else { throw ValidationError("--nats needs --stream NAME") }
        guard let consumer, !consumer.isEmpty else { throw ValidationError("--nats needs --consumer NAME") }
        for (value, option) in [(stream, "--stream"), (consumer, "--consumer")] {
            if value.contains(where: { " \t\r\n.*>".contains($0) }) {
                throw ValidationError("\(option) \(value): a JetStream name has no spaces, '.', '*' or '>'")
            }
        }
        try requireNonEmpty(subject, option: "--subject")
        try requireRange(fetchTimeout, 1...60_000, option: "--fetch-timeout")
        try requireRange(maxInFlight, 1...64, option: "--max-in-flight")
        try requireRange(ackWait, 1...3600, option: "--ack-wait")
    }

    /// Whether `--nats` was given.
    var isSet: Bool { url != nil }

    /// The JetStream tail `--nats` asks for, nil without `--nats`.
    func source(clock: @escaping @Sendable () -> Timestamp, batchSize: Int) throws -> JetStreamTail? {
        guard let url, let stream, let consumer else { return nil }
        guard Self.batchSizes.contains(batchSize) else {
            throw UsageError(
                "--batch-size with --nats must be from \(Self.batchSizes.lowerBound) to \(Self.batchSizes.upperBound), not \(batchSize)"
            )
        }
        let configuration = JetStreamTail.Configuration(
            url: url, stream: stream, consumer: consumer, subject: subject, batchSize: batchSize,
            fetchTimeout: .milliseconds(fetchTimeout), maxInFlight: maxInFlight, ackWait: .seconds(ackWait))
        return JetStreamTail(configuration, clock: clock)
    }
}
