import DaybookCore
import DaybookEngine
import Foundation
import Hummingbird

/// The service's routes (SPEC §7), matched by hand so that every answer, refusals and unknown
/// paths included, is JSON, and ids may hold `/` (invoice ids do: `CONTRACT/YYYY-MM-DD`).
///
/// | route | auth | answer |
/// |---|---|---|
/// | `GET /healthz` | no | `{"status": "ok"}` |
/// | `POST /v1/ingest` | yes | see ``IngestEndpoint`` |
/// | `GET /v1/invoices[?customer=C]` | yes | `daybook invoices --format json` |
/// | `GET /v1/invoices/{id}/breakdown` | yes | `daybook breakdown --invoice ID --format json` |
/// | `GET /v1/discrepancies[?customer=C&invoice=ID&history=true]` | yes | `daybook discrepancies --format json` |
/// | `GET /v1/alerts[?within=N&customer=C]` | yes | `daybook alerts --format json` |
/// | `GET /v1/corrections[?customer=C&status=S]` | yes | `daybook corrections --format json` |
/// | `GET /v1/customers/{id}` | yes | spend per day and product, balances per day (``ReadAPI/customer(_:id:now:)``) |
/// | `GET /metrics` | yes | Prometheus text (``ServerMetrics``) |
/// | `GET`/`HEAD /`, `/customers[/{id}]`, `/invoices/{id}[/explain]`, `/discrepancies`, `/dashboard.css` | yes | the dashboard's HTML pages (``Dashboard``), error pages in HTML |
///
/// Ids in paths are percent-decoded (`acme-2026%2F2026-10-01`); an invoice id may also be
/// written with its `/` as is. The read clock is the server's (`--now`, `DAYBOOK_NOW` or the wall
/// clock), never a query parameter; unknown query parameters are refused (400), so a misspelt
/// filter never silently returns everything.
struct DaybookResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let ingest: IngestEndpoint
    let reads: ReadEngines
    let tokens: BearerTokens?
    let metrics: ServerMetrics
    let clock: @Sendable () -> Timestamp
    let writer: Writer

    func respond(to request: Request, context: Context) async throws -> Response {
        var route = "unknown"
        let response: Response
        do {
            response = try await answer(request, route: &route)
        } catch let error as APIError {
            response = error.response()
        } catch let error as EngineError {
            response = APIError(error.code == .notFound ? .notFound : .badRequest, error.message).response()
        } catch {
            response = APIError(.internalServerError, "the request failed: \(error)").response()
        }
        metrics.request(route: route, status: Int(response.status.code))
        return response
    }

    private func answer(_ request: Request, route: inout String) async throws -> Response {
        let path = request.uri.path
        let method = request.method
        if path == "/healthz" {
            route = "/healthz"
            try allow(method, [.get, .head], path)
            return jsonResponse("{\"status\": \"ok\"}\n")
        }
        try tokens?.authorize(request)
        let query = Query(request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        switch path {
        case "/v1/ingest":
            route = path
            try allow(method, [.post], path)
            try allowQuery(query, [], path)
            return try await ingest.respond(to: request)
        case "/v1/invoices":
            route = path
            try allow(method, [.get], path)
            try allowQuery(query, ["customer"], path)
            let customer = query["customer"]
            let now = clock()
            return jsonResponse(try await reads.read { try ReadAPI.invoices($0, now: now, customer: customer) })
        case "/v1/discrepancies":
            route = path
            try allow(method, [.get], path)
            try allowQuery(query, ["customer", "invoice", "history"], path)
            let customer = query["customer"]
            let invoice = query["invoice"]
            let history = try flag(query["history"], "history")
            return jsonResponse(
                try await reads.read {
                    try ReadAPI.discrepancies($0, customer: customer, invoice: invoice, history: history)
                })
        case "/v1/alerts":
            route = path
            try allow(method, [.get], path)
            try allowQuery(query, ["within", "customer"], path)
            let within = try ReadAPI.alertDays(query["within"])
            let customer = query["customer"]
            let now = clock()
            return jsonResponse(
                try await reads.read { try ReadAPI.alerts($0, now: now, within: within, customer: customer) })
        case "/v1/corrections":
            route = path
            try allow(method, [.get], path)
            try allowQuery(query, ["customer", "status"], path)
            let customer = query["customer"]
            let status = try ReadAPI.correctionStatus(query["status"])
            return jsonResponse(
                try await reads.read { try ReadAPI.corrections($0, customer: customer, status: status) })
        case "/metrics":
            route = path
            try allow(method, [.get], path)
            try allowQuery(query, [], path)
            try await refreshMetrics()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        default:
            break
        }
        if let id = try pathID(path, prefix: "/v1/invoices/", suffix: "/breakdown") {
            route = "/v1/invoices/{id}/breakdown"
            try allow(method, [.get], route)
            try allowQuery(query, [], route)
            let now = clock()
            return jsonResponse(try await reads.read { try ReadAPI.breakdown($0, invoice: id, now: now) })
        }
        if let id = try pathID(path, prefix: "/v1/customers/", suffix: "") {
            route = "/v1/customers/{id}"
            try allow(method, [.get], route)
            try allowQuery(query, [], route)
            let now = clock()
            return jsonResponse(try await reads.read { try ReadAPI.customer($0, id: id, now: now) })
        }
        if !path.hasPrefix("/v1/"), let page = try await dashboard(method, path, query, route: &route) { return page }
        throw APIError.notFound(
            "no route \(method) \(path): the routes are GET /healthz, POST /v1/ingest, GET /v1/invoices, "
                + "GET /v1/invoices/{id}/breakdown, GET /v1/discrepancies, GET /v1/alerts, GET /v1/corrections, "
                + "GET /v1/customers/{id}, GET /metrics, and the dashboard: GET /, /customers, /customers/{id}, "
                + "/invoices/{id}, /discrepancies")
    }

    /// The store's counters, the writer's and open drift caught up before a scrape.
    private func refreshMetrics() async throws {
        let now = clock()
        let (stats, drift, balances) = try await reads.read { engine in
            (try engine.stats(), try engine.openDriftCounts().count, try engine.balanceProjections(now: now))
        }
        metrics.store(counters: stats.counters, lastSeq: stats.lastSeq)
        metrics.openDriftInvoices(drift)
        metrics.balanceDaysLeft(balances)
        metrics.writer(writer.statistics)
    }

    private func allow(_ method: HTTPRequest.Method, _ allowed: [HTTPRequest.Method], _ route: String) throws(APIError)
    {
        guard !allowed.contains(method) else { return }
        let names = allowed.map(\.rawValue).joined(separator: ", ")
        throw APIError(
            .methodNotAllowed, "\(method) is not allowed on \(route): use \(names)", headers: [.allow: names])
    }

    private func allowQuery(_ query: Query, _ names: Set<String>, _ route: String)
        throws(APIError)
    {
        for (key, _) in query.pairs where !names.contains(String(key)) {
            if key == "now" {
                throw .badRequest(
                    "?now= is not a parameter: the server reads with its own clock (daybook serve --now, DAYBOOK_NOW or the wall clock)"
                )
            }
            let accepted =
                names.isEmpty
                ? "it takes no query parameters" : "its parameters are " + names.sorted().joined(separator: ", ")
            throw .badRequest("unknown query parameter \"\(key)\" on \(route): \(accepted)")
        }
    }

    private func flag(_ value: String?, _ name: String) throws(APIError) -> Bool {
        switch value {
        case nil, "false", "0": return false
        case "", "true", "1": return true
        case let other?: throw .badRequest("?\(name)=\(other): write true or false")
        }
    }

    /// The percent-decoded id between `prefix` and `suffix` of the path, nil when the path is not
    /// of that form.
    private func pathID(_ path: String, prefix: String, suffix: String) throws(APIError) -> String? {
        guard path.hasPrefix(prefix), path.hasSuffix(suffix), path.count > prefix.count + suffix.count else {
            return nil
        }
        let raw = path.dropFirst(prefix.count).dropLast(suffix.count)
        guard let id = String(raw).removingPercentEncoding, !id.isEmpty else {
            throw .badRequest("the id \"\(raw)\" in the path is not valid percent-encoding")
        }
        return id
    }
}

/// A request's query parameters, percent-decoded, in order.
struct Query {
    let pairs: [(String, String)]
    init(_ pairs: [(String, String)]) { self.pairs = pairs }
    /// The first value of `name`.
    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
}
