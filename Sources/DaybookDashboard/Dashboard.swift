import DaybookCore
import DaybookEngine
import Foundation

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
///
/// | path | page | query |
/// |---|---|---|
/// | `/` | revenue by product per day, change against the previous period | `from`, `to` (YYYY-MM-DD), `metric=subtotal\|quantity` |
/// | `/customers` | every customer with its current invoice | — |
/// | `/customers/{id}` | daily spend by product over the balances' burn-down, projections | `from`, `to` |
/// | `/invoices/{id}` | status, breakdown as a heat map, drift against the snapshot | — |
/// | `/invoices/{id}/explain` | one breakdown row's events and arithmetic | `line_item`, `day` |
/// | `/discrepancies` | open drift across customers | `sort=total_delta\|invoice\|customer` |
/// | `/dashboard.css` | the stylesheet | — |
///
/// Ids in paths are percent-encoded (`%2F` for the `/` of an invoice id, which may also be
/// written as is). Bad parameters give a 400 page, unknown customers and invoices a 404 page,
/// each saying what to write instead.
public enum Dashboard {
    /// The page at `path` (as in the URL, percent-encoded) with its query parameters
    /// (percent-decoded, in order), or nil when no page lives at `path`.
    ///
    /// - Throws: what the engine's reads throw, but for the user's mistakes (unknown ids, bad
    ///   parameters), which are answered as error pages.
    public static func render(path: String, query: [(String, String)], engine: Engine, now: Timestamp) throws
        -> DashboardPage?
    {
        let q = Parameters(query)
        do {
            switch route(path: path) {
            case "/":
                try q.allow(["from", "to", "metric"], path: "/")
                return try RevenuePage.render(engine: engine, now: now, q)
            case "/customers":
                try q.allow([], path: "/customers")
                return try CustomersPage.render(engine: engine, now: now)
            case "/discrepancies":
                try q.allow(["sort"], path: path)
                return try DiscrepanciesPage.render(engine: engine, now: now, q)
            case "/dashboard.css":
                return DashboardPage(contentType: "text/css; charset=utf-8", body: Style.css)
            case "/customers/{id}":
                try q.allow(["from", "to"], path: "/customers/{id}")
                return try CustomerPage.render(id: try decode(path.dropPrefix("/customers/")!), engine: engine, now: now, q)
            case "/invoices/{id}/explain":
                // An invoice id ends with its period's date, so a trailing `/explain` is never part of it.
                try q.allow(["line_item", "day"], path: "/invoices/{id}/explain")
                let id = path.dropPrefix("/invoices/")!.dropSuffix("/explain")!
                return try ExplainPage.render(invoice: try decode(id), engine: engine, q)
            case "/invoices/{id}":
                try q.allow([], path: "/invoices/{id}")
                return try InvoicePage.render(id: try decode(path.dropPrefix("/invoices/")!), engine: engine, now: now)
            default:
                return nil
            }
        } catch let error as PageError {
            return HTML.error(status: error.status, error.message)
        } catch let error as EngineError where error.code == .notFound {
            return HTML.error(status: 404, error.message)
        } catch let error as EngineError where error.code == .noCatalog {
            return HTML.error(status: 404, "\(error.message) (apply one with `daybook catalog apply FILE`)")
        }
    }

    /// The route of the page at `path` (ids folded: `/customers/{id}`, `/invoices/{id}`,
    /// `/invoices/{id}/explain`), nil when no page lives there: known from the path alone, before
    /// anything is read, and the same dispatch as ``render(path:query:engine:now:)``.
    public static func route(path: String) -> String? {
        switch path {
        case "/", "": return "/"
        case "/customers", "/customers/": return "/customers"
        case "/discrepancies", "/dashboard.css": return path
        default: break
        }
        if path.dropPrefix("/customers/") != nil { return "/customers/{id}" }
        if let raw = path.dropPrefix("/invoices/") {
            return raw.dropSuffix("/explain") != nil ? "/invoices/{id}/explain" : "/invoices/{id}"
        }
        return nil
    }

    static func decode(_ raw: String) throws(PageError) -> String {
        guard let id = raw.removingPercentEncoding, !id.isEmpty else {
            throw PageError(status: 400, "the id \"\(raw)\" in the path is not valid percent-encoding")
        }
        return id
    }
}

/// A request the user can fix: the page says what to write instead.
struct PageError: Error {
    var status: Int
    var message: String
    init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// A page's query parameters, percent-decoded, in order.
struct Parameters {
    let pairs: [(String, String)]
    init(_ pairs: [(String, String)]) { self.pairs = pairs }
    /// The first value of `name`; an empty value (an empty form field) counts as absent.
    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }.map(\.1).flatMap { $0.isEmpty ? nil : $0 } }

    /// Unknown parameters are refused, so a misspelt one never silently shows something else.
    func allow(_ names: Set<String>, path: String) throws(PageError) {
        for (key, _) in pairs where !names.contains(key) {
            let accepted =
                names.isEmpty
                ? "it takes no parameters" : "its parameters are " + names.sorted().joined(separator: ", ")
            throw PageError(status: 400, "unknown parameter \"\(key)\" on \(path): \(accepted)")
        }
    }

    /// The longest range a page draws: what the engine reads at once.
    static let maxDays = Engine.dashboardRangeLimit

    /// `?from=&to=` (both included): by default the 60 days ending `today`; `from` alone runs to
    /// `today` (or 59 days on when `today` is before it), `to` alone starts 59 days before it.
    func range(today: Day) throws(PageError) -> (from: Day, to: Day) {
        func day(_ name: String) throws(PageError) -> Day? {
            guard let text = self[name] else { return nil }
            guard let d = Day(parsing: text) else {
                throw PageError(status: 400, "?\(name)=\(text) is not a date: write YYYY-MM-DD, e.g. \(name)=\(today)")
            }
            return d
        }
        let from = try day("from"), to = try day("to")
        let range: (from: Day, to: Day)
        switch (from, to) {
        case (nil, nil): range = (today.adding(days: -59), today)
        case (let f?, nil): range = (f, f > today ? f.adding(days: 59) : today)
        case (nil, let t?): range = (t.adding(days: -59), t)
        case (let f?, let t?): range = (f, t)
        }
        guard range.from <= range.to else {
            throw PageError(
                status: 400, "?from=\(range.from) is after ?to=\(range.to): write a from on or before the to")
        }
        let days = range.from.distance(to: range.to) + 1
        guard days <= Self.maxDays else {
            throw PageError(
                status: 400,
                "the range \(range.from) to \(range.to) is \(days) days: at most \(Self.maxDays) days are drawn, narrow ?from= and ?to="
            )
        }
        return range
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) && count > prefix.count ? String(dropFirst(prefix.count)) : nil
    }
    func dropSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) && count > suffix.count ? String(dropLast(suffix.count)) : nil
    }
}
