import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookServer
import DaybookSources
import DaybookStore
import Dispatch
import Foundation
import NATS
import Synchronization

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API: POST /v1/ingest, the JSON read API, the dashboard, /healthz and /metrics.",
        discussion: """
            Binds 127.0.0.1 unless --host says otherwise; --port 0 picks a free port. The first line \
            on standard output is `listening on http://HOST:PORT`. With --token-file, every request \
            but GET /healthz needs `Authorization: Bearer <token>`. An ingest request is answered \
            only after the durable commit of its events. SIGTERM or SIGINT: stop accepting, answer \
            the requests in flight, finish the tails' batches, exit 0.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "The address to bind (127.0.0.1: this machine only).") var host = "127.0.0.1"
    // `.unconditional`: `--port -1` is the value -1 (rejected by the range check), not a missing value.
    @Option(parsing: .unconditional, help: "The port, 0 to 65535 (0: a free port, printed at start).")
    var port = 8080
    @Option(
        help: ArgumentHelp(
            "Bearer tokens, one per line: required on every request but GET /healthz.", valueName: "file"))
    var tokenFile: String?
    @Option(
        help: ArgumentHelp(
            "Also follow this NDJSON file (as `daybook tail --file`), in this process.", valueName: "path"))
    var tailFile: String?
    @OptionGroup var nats: NATSOptions
    @OptionGroup var cluster: ClusterServeOptions

    func validate() throws {
        try cluster.validate(tailing: tailFile != nil || nats.isSet)
        try requireRange(port, 0...65535, option: "--port")
        try requireNonEmpty(host, option: "--host")
        try requireNonEmpty(tokenFile, option: "--token-file")
        try requireNonEmpty(tailFile, option: "--tail-file")
    }

    func run() throws {
        // First, before any thread starts: SIGTERM/SIGINT are taken by the service's signal thread.
        DaybookService.prepareProcess()
        let clock = try global.clockOption.liveClock()
        var options = ServeOptions(data: global.data, clock: clock)
        options.host = host
        options.port = port
        if let tokenFile {
            do {
                options.tokens = try BearerTokens(file: tokenFile)
            } catch {
                throw UsageError("--token-file \(error)")
            }
        }
        if cluster.isSet {
            let service = try cluster.service(data: global.data, host: host, port: port, clock: clock)
            defer { NATSConnection.shutDownLibrary() }
            return try Self.run(service) { "listening on \($0)\n" }
        }
        try global.store.requireStore()
        DamagedStore.watch(global.data)
        let service = try DaybookService(options, sources: try sources(clock: clock))
        try Self.run(service) { "listening on \($0)\n" }
    }

    /// Runs `service` until SIGTERM/SIGINT (or a failure) from this synchronous verb, printing
    /// `line(address)` on standard output once it listens. Also `daybook demo --serve`'s.
    static func run(_ service: DaybookService, line: @escaping @Sendable (String) -> String) throws {
        try run(line: line) { try await service.run(onListening: $0) }
    }

    static func run(_ service: ClusterService, line: @escaping @Sendable (String) -> String) throws {
        try run(line: line) { try await service.run(onListening: $0) }
    }

    private static func run(
        line: @escaping @Sendable (String) -> String,
        _ serve: @escaping @Sendable (@escaping @Sendable (String) -> Void) async throws -> Void
    ) throws {
        let outcome = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await serve { address in
                    FileHandle.standardOutput.write(Data(line(address).utf8))
                }
            } catch {
                outcome.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.withLock({ $0 }) { throw error }
    }

    /// The tails run in this process, each on its own thread against the server's writer:
    /// `--tail-file` is `daybook tail --file`'s FileTail with its defaults, `--tail-nats` (with
    /// `--stream`, `--consumer`, …) `daybook tail --nats`'s JetStreamTail with batches of 10,000.
    func sources(clock: @escaping @Sendable () -> Timestamp) throws -> [any Source] {
        var sources: [any Source] = []
        if let tailFile { sources.append(FileTail(path: tailFile, clock: clock)) }
        if let jetStream = try nats.source(clock: clock, batchSize: 10_000) { sources.append(jetStream) }
        return sources
    }
}
