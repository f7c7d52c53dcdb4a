import DaybookEngine
import Metrics

/// A source feeding the store's one ``Writer`` until stopped: a growing file, standard input, a
/// JetStream consumer. Every source is exactly-once end to end (SPEC §7): its read position is
/// committed in the same transaction as the events read up to it, and whatever it acknowledges
/// upstream is acknowledged only after that commit.
public protocol Source: AnyObject, Sendable {
    /// `file:PATH`, `stdin`, `nats:STREAM/CONSUMER`: stored with every event and dead letter, and
    /// the name its checkpoint is kept under.
    var name: String { get }
    /// Runs on the calling thread until ``stop()`` (then finishes the batch in flight: commits it,
    /// acknowledges it, returns) or a fatal error (throws).
    func run(into writer: Writer) throws
    /// Asks ``run(into:)`` to return after the batch in flight; callable from any thread, idempotent.
    func stop()
}

/// The metrics every source keeps (through the swift-metrics API; `daybook serve` exports them).
public enum SourceMetrics {
    /// `daybook_source_lag{source=NAME}`: bytes behind the end of the file, or messages pending
    /// for the JetStream consumer, set after each batch.
    public static func lag(_ source: String) -> Gauge {
        Gauge(label: "daybook_source_lag", dimensions: [("source", source)])
    }
}
