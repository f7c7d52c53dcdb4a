import DaybookCore
import DaybookEngine
import DaybookSources
import DaybookStore
import Metrics
import Prometheus
import Synchronization

/// The metrics of `GET /metrics` (SPEC §7), kept through the swift-metrics API and exported by a
/// process-local Prometheus registry.
///
/// The store's counters are cumulative and the same as `daybook stats`: at start they are read
/// from the store, then moved by what each commit of the writer reports, and at every scrape
/// caught up with the store (another process may have written to it: `daybook ingest`,
/// `catalog apply`). A counter only ever moves by the store's increase.
///
/// | metric | type | what |
/// |---|---|---|
/// | `daybook_events_total{outcome}` | counter | records by outcome: `accepted`, `duplicate`, `dead_lettered` (`stats` events, duplicates, dead_letters) |
/// | `daybook_metric_rejections_total` | counter | metric rejections (`stats` metric_rejections; an accepted event can have several) |
/// | `daybook_batch_commit_seconds` | histogram | each write transaction of this process's writer, its durable sync included |
/// | `daybook_log_last_seq` | gauge | the log's last seq |
/// | `daybook_recompute_line_item_days_total` | counter | line-item days evaluated by recompute |
/// | `daybook_recompute_line_item_days_changed_total`, `daybook_recompute_draw_down_days_total`, `daybook_recompute_events_reread_total` | counter | the other recompute counters of `stats` |
/// | `daybook_source_lag{source}` | gauge | per source: file bytes behind the end, JetStream messages pending; `http`: events received and not yet committed |
/// | `daybook_open_drift_invoices` | gauge | finalized invoices with open drift |
/// | `daybook_balance_days_left{balance_id}` | gauge | per active commit or credit, from `balanceProjections` at each scrape: days to its projected exhaustion, 0 when exhausted, `+Inf` when not projected to run out before it ends; no sample for balances not started or ended |
/// | `daybook_writer_transactions_total`, `daybook_writer_batches_total` | counter | this process's write transactions and the batches they held (group commit: fewer transactions than batches) |
/// | `daybook_http_requests_total{route, status}` | counter | answered requests |
final class ServerMetrics: Sendable {
    /// The registry every metric of this process is kept in; the first use bootstraps the
    /// swift-metrics system with it (once per process).
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["daybook_batch_commit_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    private let accepted: Metrics.Counter
    private let duplicates: Metrics.Counter
    private let deadLetters: Metrics.Counter
    private let metricRejections: Metrics.Counter
    private let lineItemDays: Metrics.Counter
    private let lineItemDaysChanged: Metrics.Counter
    private let drawDownDays: Metrics.Counter
    private let eventsReread: Metrics.Counter
    private let transactions: Metrics.Counter
    private let batches: Metrics.Counter
    private let lastSeq: Metrics.Gauge
    private let openDrift: Metrics.Gauge
    private let commitSeconds: Metrics.Timer
    private let httpLag: Metrics.Gauge

    /// What the counters have been moved to so far.
    private struct Seen {
        var counters = EngineCounters()
        var transactions: UInt64 = 0
        var batches: UInt64 = 0
        var lastSeq: UInt64 = 0
        var httpInFlight = 0
    }
    private let seen = Mutex(Seen())
    /// `daybook_balance_days_left` samples of the last scrape, (balance id, value text).
    private let daysLeft = Mutex<[(String, String)]>([])

    init() {
        _ = Self.registry
        func events(_ outcome: String) -> Metrics.Counter {
            Metrics.Counter(label: "daybook_events_total", dimensions: [("outcome", outcome)])
        }
        accepted = events("accepted")
        duplicates = events("duplicate")
        deadLetters = events("dead_lettered")
        metricRejections = Metrics.Counter(label: "daybook_metric_rejections_total")
        lineItemDays = Metrics.Counter(label: "daybook_recompute_line_item_days_total")
        lineItemDaysChanged = Metrics.Counter(label: "daybook_recompute_line_item_days_changed_total")
        drawDownDays = Metrics.Counter(label: "daybook_recompute_draw_down_days_total")
        eventsReread = Metrics.Counter(label: "daybook_recompute_events_reread_total")
        transactions = Metrics.Counter(label: "daybook_writer_transactions_total")
        batches = Metrics.Counter(label: "daybook_writer_batches_total")
        lastSeq = Metrics.Gauge(label: "daybook_log_last_seq")
        openDrift = Metrics.Gauge(label: "daybook_open_drift_invoices")
        commitSeconds = Metrics.Timer(label: "daybook_batch_commit_seconds")
        httpLag = SourceMetrics.lag("http")
        httpLag.record(0)
        lastSeq.record(0)
        openDrift.record(0)
    }

    /// Moves the store's counters up to `counters` and the last seq to `lastSeq` (never back:
    /// a report older than one already seen changes nothing).
    func store(counters c: EngineCounters, lastSeq seq: UInt64) {
        seen.withLock { s in
            func move(_ counter: Metrics.Counter, _ old: UInt64, _ new: UInt64) {
                if new > old { counter.increment(by: new - old) }
            }
            let o = s.counters
            move(accepted, o.events, c.events)
            move(duplicates, o.duplicates, c.duplicates)
            move(deadLetters, o.deadLetters, c.deadLetters)
            move(metricRejections, o.metricRejections, c.metricRejections)
            move(lineItemDays, o.recompute.lineItemDaysEvaluated, c.recompute.lineItemDaysEvaluated)
            move(lineItemDaysChanged, o.recompute.lineItemDaysChanged, c.recompute.lineItemDaysChanged)
            move(drawDownDays, o.recompute.drawDownDaysEvaluated, c.recompute.drawDownDaysEvaluated)
            move(eventsReread, o.recompute.eventsReread, c.recompute.eventsReread)
            s.counters.events = max(o.events, c.events)
            s.counters.duplicates = max(o.duplicates, c.duplicates)
            s.counters.deadLetters = max(o.deadLetters, c.deadLetters)
            s.counters.metricRejections = max(o.metricRejections, c.metricRejections)
            s.counters.recompute.lineItemDaysEvaluated = max(
                o.recompute.lineItemDaysEvaluated, c.recompute.lineItemDaysEvaluated)
            s.counters.recompute.lineItemDaysChanged = max(
                o.recompute.lineItemDaysChanged, c.recompute.lineItemDaysChanged)
            s.counters.recompute.drawDownDaysEvaluated = max(
                o.recompute.drawDownDaysEvaluated, c.recompute.drawDownDaysEvaluated)
            s.counters.recompute.eventsReread = max(o.recompute.eventsReread, c.recompute.eventsReread)
            if seq > s.lastSeq {
                s.lastSeq = seq
                lastSeq.record(Int64(clamping: seq))
            }
        }
    }

    /// Moves the writer's transaction and batch counters up to `counters`.
    func writer(_ counters: WriterCounters) {
        seen.withLock { s in
            if counters.transactions > s.transactions {
                transactions.increment(by: counters.transactions - s.transactions)
                s.transactions = counters.transactions
            }
            if counters.batches > s.batches {
                batches.increment(by: counters.batches - s.batches)
                s.batches = counters.batches
            }
        }
    }

    /// One committed write transaction of this process's writer (on the writer thread).
    func committed(_ report: CommitReport) {
        let (seconds, attoseconds) = report.duration.components
        commitSeconds.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        store(counters: report.counters, lastSeq: report.lastSeq)
    }

    func openDriftInvoices(_ count: Int) { openDrift.record(count) }

    /// Replaces the `daybook_balance_days_left` samples with those of `projections`: so a balance
    /// that ended, or left the catalog, loses its sample at the next scrape.
    func balanceDaysLeft(_ projections: [BalanceProjection]) {
        let samples = projections.compactMap { p in Self.daysLeftValue(p).map { (p.balanceID, $0) } }
        daysLeft.withLock { $0 = samples }
    }

    /// The sample value of one balance: `+Inf` for an active balance not projected to run out (it
    /// is that far from running out; 0 or a large number would read as an alarm or a date),
    /// nil (no sample) for one not started or ended, which cannot run out.
    static func daysLeftValue(_ p: BalanceProjection) -> String? {
        switch p.status {
        case .exhausted: return "0"
        case .runningOut: return p.daysLeft.map { "\($0)" }
        case .ok: return "+Inf"
        case .notStarted, .ended: return nil
        }
    }

    /// Events received over HTTP and handed to the writer, not yet committed (`delta` ± events).
    func httpInFlight(_ delta: Int) {
        seen.withLock { s in
            s.httpInFlight += delta
            httpLag.record(s.httpInFlight)
        }
    }

    /// One answered request (`route` is the route's pattern, never the raw path).
    func request(route: String, status: Int) {
        Metrics.Counter(label: "daybook_http_requests_total", dimensions: [("route", route), ("status", "\(status)")])
            .increment()
    }

    /// The Prometheus text exposition of every metric of the process.
    ///
    /// `daybook_balance_days_left` is written here rather than kept in the registry: its label set
    /// is replaced whole at every scrape, and swift-prometheus writes an infinite gauge as `inf`,
    /// not the exposition format's `+Inf`.
    func exposition() -> [UInt8] {
        var out = Self.registry.emitToBuffer()
        let samples = daysLeft.withLock { $0 }
        guard !samples.isEmpty else { return out }
        out += Array("# TYPE daybook_balance_days_left gauge\n".utf8)
        for (id, value) in samples {
            out += Array("daybook_balance_days_left{balance_id=\"\(Self.labelValue(id))\"} \(value)\n".utf8)
        }
        return out
    }

    /// A label value escaped for the text format: backslash, double quote and line feed.
    static func labelValue(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
