import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// One late event of an invoice: an accepted event billed to it after it was finalized
/// (`daybook discrepancies --invoice ID --causes`).
public struct LateEvent: Sendable, Hashable {
    public var transactionID: String
    public var seq: UInt64
    /// The event time (UTC).
    public var timestamp: Timestamp
    /// The engine clock when it was ingested.
    public var ingestTime: Timestamp

    public init(transactionID: String, seq: UInt64, timestamp: Timestamp, ingestTime: Timestamp) {
        self.transactionID = transactionID
        self.seq = seq
        self.timestamp = timestamp
        self.ingestTime = ingestTime
    }
}

extension Engine {
    /// Drift records, sorted by invoice id then line-item id (SPEC §4): open ones, or with
    /// `history` the resolved ones; `invoice` keeps one invoice's records.
    ///
    /// Causes come from each invoice's ``CauseSummary`` (open records) or from the record itself
    /// (history, as of its resolution): at most ``CauseSummary/limit`` late transaction ids per
    /// record, whatever the number of late events.
    ///
    /// With `causes: false` open records are returned without their causes (no ``CauseSummary``
    /// is read: `lateEventCount` 0, no ids, no versions), for a reader that ranks many records and
    /// shows the causes of a few (the dashboard's `/discrepancies`).
    ///
    /// - Throws: ``EngineError`` `.notFound` for an unknown invoice id.
    public func discrepancies(
        customer: String? = nil, invoice: String? = nil, history: Bool = false, causes: Bool = true
    ) throws -> [DriftRecord] {
        try store.env.read { txn in
            try discrepancies(customer: customer, invoice: invoice, history: history, causes: causes, txn)
        }
    }

    /// ``discrepancies(customer:invoice:history:causes:)`` inside the read transaction `txn`.
    func discrepancies(
        customer: String? = nil, invoice: String? = nil, history: Bool = false, causes: Bool = true,
        _ txn: borrowing Transaction
    ) throws -> [DriftRecord] {
        // Drift keys start with the length-prefixed invoice key: one invoice is a prefix scan.
        let prefix = try invoice.map { Keys.distinctPrefix(invoice: try invoiceKey($0, txn)) } ?? []
        var records: [DriftRecord] = []
        var summaries: [[UInt8]: CauseSummary] = [:]
        try txn.scan(in: history ? store.driftHistory : store.drift, prefix: prefix) { key, value in
            var record = try DriftRecord(decoding: value)
            guard customer == nil || record.customerID == customer else { return true }
            guard !history else {
                records.append(record)  // keeps its causes as of the resolution
                return true
            }
            guard causes else {
                record.lateEventCount = 0
                record.lateTransactionIDs = []
                record.catalogVersions = []
                records.append(record)
                return true
            }
            let invoiceKey = Array(key[try Keys.lengthPrefixed(key, in: "drift key")])
            if summaries[invoiceKey] == nil {
                summaries[invoiceKey] = try CauseSummary.load(invoice: invoiceKey, store, txn)
            }
            let summary = summaries[invoiceKey]!
            record.lateEventCount = summary.lateEventCount
            record.lateTransactionIDs = summary.firstLateTransactionIDs
            record.catalogVersions = summary.catalogVersions
            records.append(record)
            return true
        }
        return records.sorted {
            $0.invoiceID != $1.invoiceID
                ? $0.invoiceID.utf8Precedes($1.invoiceID)
                : $0.lineItemID != $1.lineItemID
                    ? $0.lineItemID.utf8Precedes($1.lineItemID)
                    : ($0.resolvedSeq ?? 0) < ($1.resolvedSeq ?? 0)
        }
    }

    /// The number of open drift records (drifted line items) per invoice id, counted from the
    /// drift keys: no record is decoded, no cause read. With `customer`, only the invoices of
    /// that customer's contracts in the catalog in force.
    public func openDriftCounts(customer: String? = nil) throws -> [String: Int] {
        let store = self.store
        // Drift key: u32 length + invoice key (u32 length + contract id + day), line item.
        let prefixes: [[UInt8]] =
            customer.map { customer in
                plan.contracts.values.filter { $0.contract.customerID == customer }.map { c in
                    var prefix: [UInt8] = []
                    let contract = Keys.invoicePrefix(contract: c.contract.id)
                    prefix.appendBigEndian(UInt32(contract.count + 4))
                    return prefix + contract
                }
            } ?? [[]]
        return try store.env.read { txn in
            var counts: [String: Int] = [:]
            for prefix in prefixes {
                var last: (key: ArraySlice<UInt8>, id: String)?
                try txn.scan(in: store.drift, prefix: prefix) { key, _ in
                    let invoiceKey = key[try Keys.lengthPrefixed(key, in: "drift key")]
                    if last?.key != invoiceKey {
                        let (contract, next) = try Keys.string(from: key, at: 4, in: "drift key")
                        last = (invoiceKey, "\(contract)/\(try Keys.day(from: key, at: next, in: "drift key"))")
                    }
                    counts[last!.id, default: 0] += 1
                    return true
                }
            }
            return counts
        }
    }

    /// Every late event of one invoice, in log order, passed to `body` as it is read (SPEC §4:
    /// `discrepancies --invoice ID --causes`). Reads the invoice's `causes` records and, for
    /// each event, its log entry (event time, ingest time). Nothing is collected: memory does
    /// not grow with the number of late events.
    ///
    /// - Throws: ``EngineError`` `.notFound` for an unknown invoice id.
    public func lateEvents(invoice: String, _ body: (LateEvent) throws -> Void) throws {
        let store = self.store
        try store.env.read { txn in
            let key = try invoiceKey(invoice, txn)
            try txn.scan(in: store.causes, prefix: Keys.lateEventsPrefix(invoice: key)) { _, value in
                var r = ByteReader(value)
                for _ in 0..<(try r.count()) {
                    let seq = try r.uvarint()
                    let transactionID = try r.string()
                    guard let bytes = try txn.get(Keys.seq(seq), in: store.log) else {
                        throw StoreCorruption("late event \(transactionID) names missing log entry \(seq)")
                    }
                    let logged = try LoggedEvent(seq: seq, decoding: bytes)
                    try body(
                        LateEvent(
                            transactionID: transactionID, seq: seq, timestamp: try logged.event().timestamp,
                            ingestTime: logged.ingestTime))
                }
                return true
            }
        }
    }

    /// How many late events an invoice has and the widest transaction id and seq among them,
    /// from its `causes` records alone (no log read): lets a text table align before it streams.
    public func lateEventExtent(invoice: String) throws -> (count: UInt64, widestID: Int, lastSeq: UInt64) {
        let store = self.store
        return try store.env.read { txn in
            let key = try invoiceKey(invoice, txn)
            var extent: (count: UInt64, widestID: Int, lastSeq: UInt64) = (0, 0, 0)
            try txn.scan(in: store.causes, prefix: Keys.lateEventsPrefix(invoice: key)) { _, value in
                var r = ByteReader(value)
                for _ in 0..<(try r.count()) {
                    extent.lastSeq = max(extent.lastSeq, try r.uvarint())
                    extent.widestID = max(extent.widestID, try r.string().count)
                    extent.count += 1
                }
                return true
            }
            return extent
        }
    }

    /// The store key of invoice `id` (`CONTRACT/YYYY-MM-DD`): one that is finalized or
    /// materialized, or a period of a contract in the catalog in force.
    func invoiceKey(_ id: String, _ txn: borrowing Transaction) throws -> [UInt8] {
        guard let slash = id.lastIndex(of: "/"), let start = Day(parsing: String(id[id.index(after: slash)...]))
        else {
            throw EngineError(code: .notFound, message: "no invoice \"\(id)\"; ids look like CONTRACT/YYYY-MM-DD")
        }
        let contract = String(id[..<slash])
        let key = Keys.invoice(contract: contract, start: start)
        if try txn.contains(key, in: store.snapshots) || txn.contains(key, in: store.invoices) { return key }
        if let c = plan.contracts[contract]?.contract, c.period(containing: start)?.start == start { return key }
        throw EngineError(code: .notFound, message: "no invoice \"\(id)\" (see `daybook invoices`)")
    }

    /// The discrepancy report as a JSON array with the keys of SPEC §4 (plus the first-detected
    /// and last-changed times, and the resolution for history records); `billed_*` keys after
    /// the `finalized_*` ones when ``showsBilled(_:)``. Its size does not grow
    /// with the number of late events: `causes` holds their count and the first 100 ids.
    public func discrepanciesJSON(_ records: [DriftRecord]) -> String {
        let d = plan.currencyDecimals
        let billed = Self.showsBilled(records)
        var out = "["
        for (i, r) in records.enumerated() {
            var fields: [(String, String)] = [
                ("invoice_id", StrictJSON.quote(r.invoiceID)), ("customer_id", StrictJSON.quote(r.customerID)),
                ("line_item_id", StrictJSON.quote(r.lineItemID)),
            ]
            for (prefix, values) in Self.valueGroups(billed: billed) {
                let t = r[keyPath: values]
                fields += [
                    ("\(prefix)_quantity", StrictJSON.quote(t.quantity.canonical)),
                    ("\(prefix)_subtotal", StrictJSON.quote(t.subtotal.formatted(atLeast: d))),
                    ("\(prefix)_credits_applied", StrictJSON.quote(t.credits.formatted(atLeast: d))),
                    ("\(prefix)_commits_applied", StrictJSON.quote(t.commits.formatted(atLeast: d))),
                    ("\(prefix)_total", StrictJSON.quote(t.total.formatted(atLeast: d))),
                ]
            }
            fields += [
                ("delta_total", StrictJSON.quote(r.deltaTotal.formatted(atLeast: d))),
                ("first_detected_seq", "\(r.firstDetectedSeq)"), ("last_changed_seq", "\(r.lastChangedSeq)"),
                ("first_detected_at", StrictJSON.quote("\(r.firstDetectedAt)")),
                ("last_changed_at", StrictJSON.quote("\(r.lastChangedAt)")),
            ]
            if let seq = r.resolvedSeq, let at = r.resolvedAt {
                fields += [("resolved_seq", "\(seq)"), ("resolved_at", StrictJSON.quote("\(at)"))]
            }
            let list = { (items: [String]) in "[" + items.map(StrictJSON.quote).joined(separator: ", ") + "]" }
            fields.append(
                (
                    "causes",
                    "{\"late_event_count\": \(r.lateEventCount), \"late_transaction_ids\": \(list(r.lateTransactionIDs)), "
                        + "\"via_invoices\": \(list(r.viaInvoices)), "
                        + "\"catalog_versions\": [\(r.catalogVersions.map { "\($0)" }.joined(separator: ", "))]}"
                ))
            out +=
                (i == 0 ? "\n  {" : ",\n  {")
                + fields.map { "\(StrictJSON.quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        return out + (records.isEmpty ? "]\n" : "\n]\n")
    }

    /// The discrepancy report as a table (CSV columns; causes joined with spaces); `billed_*`
    /// columns after the `finalized_*` ones when ``showsBilled(_:)``.
    public func discrepanciesTable(_ records: [DriftRecord]) -> Table {
        let d = plan.currencyDecimals
        let billed = Self.showsBilled(records)
        var columns = ["invoice_id", "customer_id", "line_item_id"]
        for (prefix, _) in Self.valueGroups(billed: billed) {
            columns += ["quantity", "subtotal", "credits_applied", "commits_applied", "total"].map { "\(prefix)_\($0)" }
        }
        var table = Table(
            columns: columns + [
                "delta_total", "first_detected_seq", "last_changed_seq", "late_event_count", "late_transaction_ids",
                "via_invoices", "catalog_versions",
            ])
        for r in records {
            var row = [r.invoiceID, r.customerID, r.lineItemID]
            for (_, values) in Self.valueGroups(billed: billed) {
                let t = r[keyPath: values]
                row += [
                    t.quantity.canonical, t.subtotal.formatted(atLeast: d), t.credits.formatted(atLeast: d),
                    t.commits.formatted(atLeast: d), t.total.formatted(atLeast: d),
                ]
            }
            row += [
                r.deltaTotal.formatted(atLeast: d), "\(r.firstDetectedSeq)", "\(r.lastChangedSeq)",
                "\(r.lateEventCount)", r.lateTransactionIDs.joined(separator: " "),
                r.viaInvoices.joined(separator: " "),
                r.catalogVersions.map { "\($0)" }.joined(separator: " "),
            ]
            table.rows.append(row)
        }
        return table
    }

    /// Whether a report of `records` shows what was billed: only when a correction was issued for
    /// one of them (billed ≠ finalized), so a store without issued corrections reports exactly the
    /// columns it always did (SPEC §4).
    public static func showsBilled(_ records: [DriftRecord]) -> Bool {
        records.contains { $0.billed != $0.finalized }
    }

    /// The value groups of a record, by column prefix: finalized, billed (with `billed`), current.
    private static func valueGroups(billed: Bool) -> [(prefix: String, values: KeyPath<DriftRecord, Totals>)] {
        [("finalized", \.finalized)] + (billed ? [("billed", \.billed)] : []) + [("current", \.current)]
    }

    /// Per customer: drifted invoices, drifted line items and the total delta (for people).
    public func discrepancySummary(_ records: [DriftRecord]) -> Table {
        var table = Table(columns: ["customer_id", "drifted_invoices", "drifted_line_items", "delta_total"])
        var byCustomer: [String: (invoices: Set<String>, lines: Int, delta: FixedDecimal)] = [:]
        for r in records {
            var entry = byCustomer[r.customerID] ?? ([], 0, .zero)
            entry.invoices.insert(r.invoiceID)
            entry.lines += 1
            entry.delta = entry.delta + r.deltaTotal
            byCustomer[r.customerID] = entry
        }
        for (customer, e) in byCustomer.sorted(by: { $0.key.utf8Precedes($1.key) }) {
            table.rows.append([
                customer, "\(e.invoices.count)", "\(e.lines)", e.delta.formatted(atLeast: plan.currencyDecimals),
            ])
        }
        return table
    }

    /// An invoice's frozen snapshot beside its live values, per line item (`daybook invoice show`).
    public func invoiceComparison(invoiceID: String, now: Timestamp) throws -> (snapshot: Snapshot?, table: Table) {
        guard let slash = invoiceID.lastIndex(of: "/"),
            let start = Day(parsing: String(invoiceID[invoiceID.index(after: slash)...]))
        else {
            throw EngineError(
                code: .notFound, message: "no invoice \"\(invoiceID)\"; ids look like CONTRACT/YYYY-MM-DD")
        }
        let contractID = String(invoiceID[..<slash])
        let key = Keys.invoice(contract: contractID, start: start)
        let d = plan.currencyDecimals
        return try withLiveView(through: max(now.day, start)) { txn, view in
            let live = try view.invoice(key, txn)
            let snapshot = try txn.get(key, in: store.snapshots).map { try Snapshot(decoding: $0) }
            guard live != nil || snapshot != nil else {
                throw EngineError(code: .notFound, message: "no invoice \"\(invoiceID)\" (see `daybook invoices`)")
            }
            var ids = snapshot?.lines.map(\.lineItemID) ?? []
            for item in live?.lineItems ?? [] where !ids.contains(item.id) { ids.append(item.id) }
            ids.sort { $0.utf8Precedes($1) }
            var table = Table(columns: [
                "line_item_id", "finalized_quantity", "finalized_total", "current_quantity", "current_subtotal",
                "current_credits_applied", "current_commits_applied", "current_total", "delta_total",
            ])
            var fTotal = Totals(), cTotal = Totals()
            for id in ids {
                let f = snapshot?.totals(of: id) ?? Totals()
                let c = live.flatMap { s in s.index(ofLineItem: id).map { s.lineItems[$0].periodTotals } } ?? Totals()
                fTotal += f
                cTotal += c
                table.rows.append([
                    id, snapshot == nil ? "" : f.quantity.canonical,
                    snapshot == nil ? "" : f.total.formatted(atLeast: d),
                    c.quantity.canonical, c.subtotal.formatted(atLeast: d), c.credits.formatted(atLeast: d),
                    c.commits.formatted(atLeast: d), c.total.formatted(atLeast: d),
                    snapshot == nil ? "" : (c.total - f.total).formatted(atLeast: d),
                ])
            }
            table.rows.append([
                "*", "", snapshot == nil ? "" : fTotal.total.formatted(atLeast: d), "",
                cTotal.subtotal.formatted(atLeast: d),
                cTotal.credits.formatted(atLeast: d), cTotal.commits.formatted(atLeast: d),
                cTotal.total.formatted(atLeast: d),
                snapshot == nil ? "" : (cTotal.total - fTotal.total).formatted(atLeast: d),
            ])
            return (snapshot, table)
        }
    }
}
