import DaybookCore
import DaybookEngine

/// A rendered dashboard page: HTML with its charts drawn on the server as inline SVG.
public struct DashboardPage: Sendable {
    /// HTTP status: 200, or 400/404 for an error page.
    public var status: Int
    public var contentType: String
    public var body: String

    public init(status: Int = 200, contentType: String = "text/html; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// The dashboard (issue 11): `/`, `/customers/{id}`, `/invoices/{id}`, `/discrepancies` and
/// their stylesheet, rendered from one read engine with the server's clock. No JavaScript
/// carries data, nothing is fetched from another host.
public enum Dashboard {
    /// The page at `path` (as in the URL, percent-encoded) with its query parameters
    /// (percent-decoded, in order), or nil when no page lives at `path`.
    public static func render(path: String, query: [(String, String)], engine: Engine, now: Timestamp) throws
        -> DashboardPage?
    {
        nil
    }
}
