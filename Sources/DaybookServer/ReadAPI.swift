import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import Dispatch
import Synchronization

/// Read-only engines on the store, reused from request to request: each read runs in its own
/// LMDB read transaction (MVCC), on a thread of Dispatch's pool, so reads never wait for the
/// writer and never block the event loops. An engine is used by one read at a time; a new
/// catalog version applied by any process is picked up by its next read.
final class ReadEngines: Sendable {
    private let path: String
    private let idle = Mutex<[Box]>([])

    /// An engine handed from one read to the next, never used by two at once.
    private final class Box: @unchecked Sendable {
        let engine: Engine
        init(_ engine: Engine) { self.engine = engine }
    }

    init(path: String) { self.path = path }

    /// Runs `body` with an idle read engine (a new one when all are busy) off the event loop.
    func read<R: Sendable>(_ body: @escaping @Sendable (Engine) throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { [self] in
                continuation.resume(with: Result { try readNow(body) })
            }
        }
    }

    /// Runs `body` on the calling thread.
    func readNow<R>(_ body: (Engine) throws -> R) throws -> R {
        let box = try idle.withLock { $0.popLast() } ?? Box(Engine(path: path, access: .read))
        defer { idle.withLock { $0.append(box) } }
        return try body(box.engine)
    }
}

/// The JSON of the read API: byte for byte what the matching CLI verb prints with `--format json`.
enum ReadAPI {
    /// `daybook invoices --format json [--customer C]`.
    static func invoices(_ engine: Engine, now: Timestamp, customer: String?) throws -> String {
        TableWriter.jsonArray(try engine.invoicesTable(now: now, customer: customer))
    }

    /// `daybook breakdown --invoice ID --format json`.
    static func breakdown(_ engine: Engine, invoice: String, now: Timestamp) throws -> String {
        TableWriter.jsonArray(try engine.breakdown(invoiceID: invoice, now: now))
    }

    /// `daybook discrepancies --format json [--customer C] [--invoice ID] [--history]`.
    static func discrepancies(_ engine: Engine, customer: String?, invoice: String?, history: Bool) throws -> String {
        engine.discrepanciesJSON(try engine.discrepancies(customer: customer, invoice: invoice, history: history))
    }

    /// `daybook alerts --format json [--within N] [--customer C]`.
    static func alerts(_ engine: Engine, now: Timestamp, within: Int?, customer: String?) throws -> String {
        TableWriter.jsonArray(try engine.balanceAlertsTable(now: now, withinDays: within, customer: customer))
    }

    /// `?within=N`: an integer in `Catalog.balanceAlertDayRange` (nil when absent), as `--within` takes it.
    static func alertDays(_ text: String?) throws(APIError) -> Int? {
        guard let text else { return nil }
        let range = Catalog.balanceAlertDayRange
        guard let n = Int(text), range.contains(n) else {
            throw .badRequest("?within=\(text): write a number of days from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// `daybook corrections --format json [--customer C] [--status S]`: one object per correction ×
    /// line item (the columns of SPEC §4 "Corrections"), `[]` while there are none.
    static func corrections(_ engine: Engine, customer: String?, status: CorrectionStatus?) throws -> String {
        TableWriter.jsonArray(engine.correctionsTable(try engine.corrections(customer: customer, status: status)))
    }

    /// `?status=S`: `proposed`, `issued` or `rejected` (nil when absent), as `--status` takes it.
    static func correctionStatus(_ text: String?) throws(APIError) -> CorrectionStatus? {
        guard let text else { return nil }
        guard let status = CorrectionStatus(rawValue: text) else {
            let names = CorrectionStatus.allCases.map(\.rawValue)
            throw .badRequest(
                "?status=\(text): write \(names.dropLast().joined(separator: ", ")) or \(names.last!)")
        }
        return status
    }

    /// One customer's spend per day and product and its balances per day, through `now`'s day,
    /// built from the rows `daybook export --as-of (now + 1 day)` writes for the customer:
    ///
    /// ```json
    /// {"customer_id": "acme", "currency": "USD", "through": "2026-10-21",
    ///  "spend": [{"day": "2026-10-01", "product_id": "p", "product_name": "P", "quantity": "1830",
    ///             "subtotal": "1.00", "credits_applied": "0.00", "commits_applied": "0.00", "total": "1.00"}, …],
    ///  "balances": [{"day": "2026-10-01", "balance_id": "b", "contract_id": "c", "type": "prepaid_commit",
    ///                "opening": "…", "drawn": "…", "closing": "…"}, …]}
    /// ```
    ///
    /// `spend` has one row per day and product of every invoice of the customer begun by then
    /// (dense: days without usage have zero rows), the line items of a product (its groups, and
    /// several contracts on one day) summed, ordered by day then product id; `balances` one row
    /// per balance and active day, ordered by day then balance id. Amounts carry the currency's
    /// decimals, quantities the canonical number form, like the export.
    ///
    /// - Throws: ``APIError`` 404 when the catalog has no such customer.
    static func customer(_ engine: Engine, id: String, now: Timestamp) throws -> String {
        guard let catalog = engine.catalog, catalog.customer(id) != nil else {
            throw APIError.notFound(
                "no customer \"\(id)\" in the catalog in force (see GET /v1/invoices for customer ids)")
        }
        let through = now.day
        let export = try engine.export(asOf: through.adding(days: 1), customer: id)
        let decimals = catalog.currencyDecimals

        struct Spend {
            var productName: String
            var quantity = FixedDecimal.zero
            var subtotal = FixedDecimal.zero
            var credits = FixedDecimal.zero
            var commits = FixedDecimal.zero
            var total = FixedDecimal.zero
        }
        let columns = Dictionary(uniqueKeysWithValues: BreakdownExport.lineItemColumns.enumerated().map { ($1, $0) })
        func value(_ row: [String], _ column: String) -> FixedDecimal {
            FixedDecimal(row[columns[column]!]) ?? .zero
        }
        var spend: [String: [String: Spend]] = [:]  // day → product → spend
        for row in export.lineItems.rows {  // the customer's rows only
            let day = row[columns["day"]!]
            let product = row[columns["product_id"]!]
            var s = spend[day, default: [:]][product] ?? Spend(productName: row[columns["product_name"]!])
            s.quantity = s.quantity + value(row, "quantity")
            s.subtotal = s.subtotal + value(row, "subtotal")
            s.credits = s.credits + value(row, "credits_applied")
            s.commits = s.commits + value(row, "commits_applied")
            s.total = s.total + value(row, "total")
            spend[day, default: [:]][product] = s
        }
        var out = "{\"customer_id\": \(StrictJSON.quote(id)), \"currency\": \(StrictJSON.quote(catalog.currency)), "
        out += "\"through\": \"\(through)\",\n \"spend\": ["
        var first = true
        for day in spend.keys.sorted() {
            for (product, s) in spend[day]!.sorted(by: { $0.key.utf8Precedes($1.key) }) {
                out += first ? "\n  {" : ",\n  {"
                first = false
                out += "\"day\": \"\(day)\", \"product_id\": \(StrictJSON.quote(product)), "
                out +=
                    "\"product_name\": \(StrictJSON.quote(s.productName)), \"quantity\": \"\(s.quantity.canonical)\", "
                out += "\"subtotal\": \"\(s.subtotal.formatted(decimals: decimals))\", "
                out += "\"credits_applied\": \"\(s.credits.formatted(decimals: decimals))\", "
                out += "\"commits_applied\": \"\(s.commits.formatted(decimals: decimals))\", "
                out += "\"total\": \"\(s.total.formatted(decimals: decimals))\"}"
            }
        }
        out += first ? "],\n \"balances\": [" : "\n ],\n \"balances\": ["
        let b = Dictionary(uniqueKeysWithValues: BreakdownExport.balanceColumns.enumerated().map { ($1, $0) })
        let balances = export.balances.rows.sorted {
            $0[b["day"]!] != $1[b["day"]!]
                ? $0[b["day"]!] < $1[b["day"]!] : $0[b["balance_id"]!].utf8Precedes($1[b["balance_id"]!])
        }
        first = true
        for row in balances {
            out += first ? "\n  {" : ",\n  {"
            first = false
            out += ["day", "balance_id", "contract_id", "type", "opening", "drawn", "closing"].map {
                "\(StrictJSON.quote($0)): \(StrictJSON.quote(row[b[$0]!]))"
            }.joined(separator: ", ")
            out += "}"
        }
        out += first ? "]}\n" : "\n ]}\n"
        return out
    }
}
