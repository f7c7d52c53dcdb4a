import DaybookCore
import DaybookEngine
import DaybookSources
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// How `daybook serve` runs.
public struct ServeOptions: Sendable {
    /// The store directory.
    public var data: String
    /// The address to bind: 127.0.0.1 unless told otherwise (SPEC §7).
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one (the address is reported to `onListening`).
    public var port: Int = 8080
    /// Bearer tokens every request but `GET /healthz` must carry; nil: no authentication.
    public var tokens: BearerTokens?
    /// The engine clock: the wall clock, or a fixed time (`--now`, `DAYBOOK_NOW`).
    public var clock: @Sendable () -> Timestamp
    /// Events per `POST /v1/ingest` at most (SPEC §7: 100).
    public var maxEventsPerRequest = 100
    /// Bytes of a request body at most, raw and after decompression (SPEC §7: 1 MiB).
    public var maxBodyBytes = 1 << 20

    public init(data: String, clock: @escaping @Sendable () -> Timestamp) {
        self.data = data
        self.clock = clock
    }
}

/// Why `daybook serve` stopped with an error.
public enum ServeError: Error, Sendable, CustomStringConvertible {
    /// The address could not be bound (in use, not local, no permission).
    case cannotListen(host: String, port: Int, reason: String)
    /// A source run in the process failed; the server was shut down gracefully after it.
    case sourceFailed(source: String, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let host, let port, let reason):
            let hint =
                reason.contains("in use")
                ? "another process listens there: stop it, or choose another --port (0 picks a free one)"
                : "check --host and --port"
            return "cannot listen on \(host):\(port): \(reason); \(hint)"
        case .sourceFailed(let source, let reason):
            return
                "the source \(source) failed: \(reason); the server stopped after answering the requests in flight (everything acknowledged is stored; restart to resume)"
        }
    }
}

/// `daybook serve`: the HTTP service of SPEC §7 (Hummingbird 2 under a swift-service-lifecycle
/// `ServiceGroup`) on the store's one ``Writer``, with the read API, `/metrics` and, in the same
/// process, any tail sources (each on a thread of its own, feeding the same writer).
///
/// Shutdown on SIGTERM or SIGINT is graceful: the listening socket closes, the requests in
/// flight are answered after their commit, sources finish and commit their batch in flight,
/// then the writer closes and ``run(onListening:)`` returns (the process exits 0). A second
/// signal during that exits at once with status 1 (nothing acknowledged is lost either way).
///
/// ```swift
/// DaybookService.prepareProcess()          // first thing in main, before any thread starts
/// let service = try DaybookService(options, sources: [])
/// try await service.run { print("listening on \($0)") }
/// ```
public final class DaybookService: Sendable {
    let options: ServeOptions
    let writer: Writer
    let metrics: ServerMetrics
    let reads: ReadEngines
    let sources: [any Source]

    /// Blocks SIGTERM and SIGINT on the calling thread (threads started after it inherit the
    /// mask) and bootstraps the metrics system. Call it first, before anything starts a thread
    /// or creates a metric: the service then takes the signals with `sigwait` on a thread of its
    /// own, whether the parent left them blocked or not (a signal handler would never run in a
    /// process that inherited them blocked; a thread that has them unblocked would die of them).
    public static func prepareProcess() {
        ShutdownSignals.block()
        _ = ServerMetrics.registry
    }

    /// Opens the store's writer (and reads the store's counters for the metrics).
    ///
    /// - Throws: what opening the store throws (missing, damaged, locked by nothing: LMDB allows
    ///   writers of several processes, one transaction at a time).
    public init(_ options: ServeOptions, sources: [any Source] = []) throws {
        self.options = options
        self.sources = sources
        metrics = ServerMetrics()
        writer = try Writer(path: options.data)
        reads = ReadEngines(path: options.data)
        let stats = try reads.readNow { try $0.stats() }
        metrics.store(counters: stats.counters, lastSeq: stats.lastSeq)
        metrics.openDriftInvoices(try reads.readNow { try $0.openDriftCounts().count })
        let metrics = self.metrics
        writer.observe { report in metrics.committed(report) }
    }

    /// Serves until SIGTERM/SIGINT (or a source's failure), then shuts down gracefully.
    ///
    /// - Parameter onListening: called once the socket listens, with `http://HOST:PORT` (the
    ///   bound port, also when the options asked for port 0).
    /// - Throws: ``ServeError`` when the address cannot be bound or a source failed.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "daybook.serve", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        let responder = DaybookResponder(
            ingest: IngestEndpoint(
                writer: writer, clock: options.clock, metrics: metrics, maxEvents: options.maxEventsPerRequest,
                body: BodyReader(limit: options.maxBodyBytes)),
            reads: reads, tokens: options.tokens, metrics: metrics, clock: options.clock, writer: writer)
        let listening = Mutex(false)
        let host = options.host
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port)),
            onServerRunning: { channel in
                listening.withLock { $0 = true }
                let port = channel.localAddress?.port ?? 0
                onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            },
            logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        // A client that never finishes its request does not hold the shutdown forever: after
        // this, connections are cancelled (batches already handed to the writer still commit).
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: groupConfiguration)

        let failure = Mutex<ServeError?>(nil)
        let shutdown = Shutdown { [sources] in
            for source in sources { source.stop() }
            Task { await group.triggerGracefulShutdown() }
        }
        let signals = SignalThread { shutdown.begin() }

        // Each source on a thread of its own, against the one writer.
        var finished: [DispatchSemaphore] = []
        for source in sources {
            let done = DispatchSemaphore(value: 0)
            finished.append(done)
            let writer = self.writer
            let thread = Thread {
                defer { done.signal() }
                do {
                    try source.run(into: writer)
                } catch {
                    failure.withLock { $0 = $0 ?? .sourceFailed(source: source.name, reason: "\(error)") }
                    shutdown.begin()
                }
            }
            thread.name = "daybook-source"
            thread.start()
        }

        var runError: (any Error)?
        do {
            try await group.run()
        } catch {
            runError = error
        }
        // The HTTP side has answered everything in flight; the sources finish their batch.
        for source in sources { source.stop() }
        for done in finished { done.wait() }
        writer.close()
        signals.stop()
        if let runError {
            if !listening.withLock({ $0 }) {
                throw ServeError.cannotListen(host: options.host, port: options.port, reason: Self.reason(runError))
            }
            throw runError
        }
        if let failure = failure.withLock({ $0 }) { throw failure }
    }

    /// A bind error's cause in words (NIO's `IOError`: "bind(…): Address already in use (errno: 98)").
    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if let colon = text.range(of: "): ") { return String(text[colon.upperBound...]) }
        return text
    }
}
