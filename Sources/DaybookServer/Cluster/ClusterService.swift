import DaybookCluster
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// `daybook serve --cluster URL --instance ID`: one instance of a partitioned cluster
/// (docs/scale-out.md §3, §6). The ``ClusterNode`` owns partitions by lease and runs their writers;
/// the HTTP side answers reads for the partitions it runs and redirects (307, to the lease holder's
/// advertised URL) the others.
///
/// | route | answer |
/// |---|---|
/// | `GET /healthz` | `{"status": "ok"}` |
/// | `GET /v1/cluster/partitions` | the partitions this instance runs: epoch, phase, checkpoint, lag, exports |
/// | `GET /v1/invoices?customer=C` | `daybook invoices --format json --customer C` from C's partition, or 307 to its owner, 503 while it has none |
/// | `GET /v1/invoices` | the invoices of every customer of the partitions this instance runs (what `daybook invoices --cluster` merges) |
///
/// SIGTERM or SIGINT: every partition is handed off (its batch commits, a last export and snapshot,
/// the lease is released), then the HTTP side stops.
public final class ClusterService: Sendable {
    let node: ClusterNode
    let host: String
    let port: Int
    let clock: @Sendable () -> Timestamp

    public init(node: ClusterNode, host: String, port: Int, clock: @escaping @Sendable () -> Timestamp) {
        self.node = node
        self.host = host
        self.port = port
        self.clock = clock
    }

    /// Serves until SIGTERM/SIGINT or the node's failure; `onListening` gets `http://HOST:PORT`.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "daybook.serve", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        let listening = Mutex(false)
        let host = self.host
        let node = self.node
        let failure = Mutex<(any Error)?>(nil)
        let nodeDone = DispatchSemaphore(value: 0)
        let group = Mutex<ServiceGroup?>(nil)
        // The node joins once the port is known: its leases carry the address reads are redirected to.
        let join: @Sendable (String) -> Void = { address in
            let thread = Thread {
                defer { nodeDone.signal() }
                do { try node.run(listeningOn: address) } catch { failure.withLock { $0 = error } }
                let g = group.withLock { $0 }
                Task { await g?.triggerGracefulShutdown() }
            }
            thread.name = "daybook-cluster"
            thread.start()
        }
        let app = Application(
            responder: ClusterResponder(node: node, clock: clock),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                let address = "http://\(host.contains(":") ? "[\(host)]" : host):\(channel.localAddress?.port ?? 0)"
                let first = listening.withLock { was in
                    defer { was = true }
                    return !was
                }
                if first { join(address) }
                onListening(address)
            },
            logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let serviceGroup = ServiceGroup(configuration: configuration)
        group.withLock { $0 = serviceGroup }
        let shutdown = Shutdown { node.stop() }
        let signals = SignalThread { shutdown.begin() }
        var runError: (any Error)?
        do { try await serviceGroup.run() } catch { runError = error }
        node.stop()
        let joined = listening.withLock { $0 }
        if joined {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    nodeDone.wait()
                    done.resume()
                }
            }
        }
        signals.stop()
        if let runError {
            if !listening.withLock({ $0 }) {
                throw ServeError.cannotListen(host: host, port: port, reason: DaybookService.reason(runError))
            }
            throw runError
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// The cluster instance's routes (see ``ClusterService``).
struct ClusterResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let node: ClusterNode
    let clock: @Sendable () -> Timestamp

    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await answer(request)
        } catch let error as APIError {
            return error.response()
        } catch let error as EngineError {
            return APIError(error.code == .notFound ? .notFound : .badRequest, error.message).response()
        } catch {
            return APIError(.internalServerError, "the request failed: \(error)").response()
        }
    }

    private func answer(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let query = Query(request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        guard request.method == .get || request.method == .head else {
            throw APIError(
                .methodNotAllowed, "\(request.method) is not allowed on \(path): use GET", headers: [.allow: "GET"])
        }
        switch path {
        case "/healthz":
            return jsonResponse("{\"status\": \"ok\"}\n")
        case "/v1/cluster/partitions":
            return jsonResponse(
                TableWriter.jsonArray(Self.partitionsTable(node.partitions()), rawColumns: Self.numeric))
        case "/v1/invoices":
            for (key, _) in query.pairs where key != "customer" {
                throw APIError.badRequest(
                    "unknown query parameter \"\(key)\" on /v1/invoices: its parameter is customer")
            }
            let now = clock()
            guard let customer = query["customer"] else {
                return jsonResponse(TableWriter.jsonArray(try await ownInvoices(now: now)))
            }
            guard let count = node.cluster?.partitions else { throw unavailable("the instance is joining the cluster") }
            let p = Partitioning(count: count).partition(ofCustomer: customer)
            guard let store = node.storePath(ofRunning: p) else { return try redirect(p, request) }
            let table = try await read(store) { try $0.invoicesTable(now: now, customer: customer) }
            return jsonResponse(TableWriter.jsonArray(table))
        default:
            throw APIError.notFound(
                "no route \(path) on a cluster instance: the routes are GET /healthz, GET /v1/cluster/partitions, GET /v1/invoices[?customer=C]"
            )
        }
    }

    /// 307 to the holder of partition `p`'s lease, 503 while it has none.
    private func redirect(_ p: Int, _ request: Request) throws -> Response {
        guard let holder = try node.owner(of: p), holder.instance != node.options.instance else {
            throw unavailable("partition \(p) has no running owner yet (a lease is being taken or expiring)")
        }
        let target = holder.url + request.uri.description
        return Response(
            status: .temporaryRedirect, headers: [.location: target, .contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"redirect\": \(StrictJSON.quote(target))}\n")))
    }

    private func unavailable(_ why: String) -> APIError {
        APIError(.serviceUnavailable, "\(why); retry in a second", headers: [.retryAfter: "1"])
    }

    /// The invoices of the customers of every partition this instance runs, sorted as the CLI sorts them.
    private func ownInvoices(now: Timestamp) async throws -> Table {
        guard let count = node.cluster?.partitions else { throw unavailable("the instance is joining the cluster") }
        let partitioning = Partitioning(count: count)
        var merged: Table?
        for status in node.partitions() {
            guard let store = node.storePath(ofRunning: status.partition) else { continue }
            let table = try await read(store) { try $0.invoicesTable(now: now) }
            let c = table.columns.firstIndex(of: "customer_id")!
            let own = table.rows.filter { partitioning.partition(ofCustomer: $0[c]) == status.partition }
            if merged == nil { merged = Table(columns: table.columns) }
            merged!.rows += own
        }
        guard var table = merged else { return Table(columns: []) }
        // By invoice id (bytes): the order `daybook invoices --cluster` merges instances' answers in.
        table.rows.sort { Array($0[0].utf8).lexicographicallyPrecedes(Array($1[0].utf8)) }
        return table
    }

    private func read<R: Sendable>(_ path: String, _ body: @escaping @Sendable (Engine) throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try body(try Engine(path: path, access: .read)) })
            }
        }
    }

    static let numeric: Set<String> = ["partition", "epoch", "checkpoint", "lag", "records", "exports"]

    static func partitionsTable(_ statuses: [PartitionStatus]) -> Table {
        var table = Table(columns: ["partition", "epoch", "phase", "checkpoint", "lag", "records", "exports", "reason"])
        for s in statuses {
            table.rows.append([
                "\(s.partition)", "\(s.epoch)", s.phase.rawValue, "\(s.checkpoint)", "\(s.lag)", "\(s.records)",
                "\(s.exports)", s.reason ?? "",
            ])
        }
        return table
    }
}
