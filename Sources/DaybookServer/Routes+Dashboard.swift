import DaybookCore
import DaybookDashboard
import DaybookEngine
import Hummingbird

extension DaybookResponder {
    /// The dashboard's pages (issue 11), rendered by ``Dashboard/render(path:query:engine:now:)``
    /// in a read transaction with the server's clock; nil when no page lives at `path`. They sit
    /// behind the bearer tokens like every route but `/healthz` (a browser reaches them on a
    /// server without `--token-file`, or through a proxy that adds the header).
    func dashboard(_ method: HTTPRequest.Method, _ path: String, _ query: Query, route: inout String) async throws
        -> Response?
    {
        guard let pageRoute = Dashboard.route(path: path) else { return nil }
        route = pageRoute
        guard method == .get || method == .head else {
            throw APIError(
                .methodNotAllowed, "\(method) is not allowed on \(route): use GET, HEAD", headers: [.allow: "GET, HEAD"]
            )
        }
        let now = clock()
        let pairs = query.pairs
        guard
            let page = try await reads.read({ try Dashboard.render(path: path, query: pairs, engine: $0, now: now) })
        else { return nil }
        let bytes = Array(page.body.utf8)
        var headers: HTTPFields = [.contentType: page.contentType, .contentLength: "\(bytes.count)"]
        headers[.cacheControl] = "no-store"
        return Response(
            status: HTTPResponse.Status(code: page.status), headers: headers,
            body: method == .head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
