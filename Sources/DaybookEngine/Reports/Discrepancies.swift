import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

extension Engine {
    /// Drift records, sorted by invoice id then line-item id (SPEC §4): open ones, or with
    /// `history` the resolved ones.
    public func discrepancies(customer: String? = nil, history: Bool = false) throws -> [DriftRecord] {
        let store = self.store
        return try store.env.read { txn in
            var records: [DriftRecord] = []
            var causes: [[UInt8]: (late: [(UInt64, String)], versions: [UInt32])] = [:]
            try txn.scan(in: history ? store.driftHistory : store.drift) { key, value in
                var record = try DriftRecord(decoding: value)
                guard customer == nil || record.customerID == customer else { return true }
                // The key starts with the length-prefixed invoice key.
                let n = Int([UInt8].readBigEndianUInt32(key, at: 0))
                let invoice = Array(key[4..<(4 + n)])
                if causes[invoice] == nil { causes[invoice] = try Engine.causes(of: invoice, store, txn) }
                let found = causes[invoice]!
                let through = record.resolvedSeq ?? .max
                record.lateTransactionIDs = found.late.filter { $0.0 <= through }.map(\.1)
                record.catalogVersions = found.versions
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
    }

    /// The late events (seq, transaction id) and catalog versions recorded against an invoice.
    static func causes(of invoice: [UInt8], _ store: Store, _ txn: borrowing Transaction) throws
        -> (late: [(UInt64, String)], versions: [UInt32])
    {
        var late: [(UInt64, String)] = []
        var versions: [UInt32] = []
        try txn.scan(in: store.causes, prefix: invoice) { k, v in
            if k[invoice.count] == 1 {
                var r = ByteReader(v)
                for _ in 0..<(try r.int()) { late.append((try r.uvarint(), try r.string())) }
            } else {
                versions.append([UInt8].readBigEndianUInt32(k, at: invoice.count + 1))
            }
            return true
        }
        return (late, versions)
    }

    /// The discrepancy report as a JSON array with the keys of SPEC §4 (plus `catalog_versions`
    /// in `causes`, and the resolution for history records).
    public func discrepanciesJSON(_ records: [DriftRecord]) -> String {
        let d = plan.currencyDecimals
        var out = "["
        for (i, r) in records.enumerated() {
            var fields: [(String, String)] = [
                ("invoice_id", StrictJSON.quote(r.invoiceID)), ("customer_id", StrictJSON.quote(r.customerID)),
                ("line_item_id", StrictJSON.quote(r.lineItemID)),
            ]
            for (prefix, t) in [("finalized", r.finalized), ("current", r.current)] {
                fields += [
                    ("\(prefix)_quantity", StrictJSON.quote(t.quantity.canonical)),
                    ("\(prefix)_subtotal", StrictJSON.quote(t.subtotal.formatted(decimals: d))),
                    ("\(prefix)_credits_applied", StrictJSON.quote(t.credits.formatted(decimals: d))),
                    ("\(prefix)_commits_applied", StrictJSON.quote(t.commits.formatted(decimals: d))),
                    ("\(prefix)_total", StrictJSON.quote(t.total.formatted(decimals: d))),
                ]
            }
            fields += [
                ("delta_total", StrictJSON.quote(r.deltaTotal.formatted(decimals: d))),
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
                    "{\"late_transaction_ids\": \(list(r.lateTransactionIDs)), \"via_invoices\": \(list(r.viaInvoices)), "
                        + "\"catalog_versions\": \(list(r.catalogVersions.map { "\($0)" }))}"
                ))
            out +=
                (i == 0 ? "\n  {" : ",\n  {")
                + fields.map { "\(StrictJSON.quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        return out + (records.isEmpty ? "]\n" : "\n]\n")
    }

    /// The discrepancy report as a table (CSV columns; causes joined with spaces).
    public func discrepanciesTable(_ records: [DriftRecord]) -> Table {
        let d = plan.currencyDecimals
        var table = Table(columns: [
            "invoice_id", "customer_id", "line_item_id", "finalized_quantity", "finalized_subtotal",
            "finalized_credits_applied", "finalized_commits_applied", "finalized_total",
            "current_quantity", "current_subtotal", "current_credits_applied", "current_commits_applied",
            "current_total", "delta_total", "first_detected_seq", "last_changed_seq",
            "late_transaction_ids", "via_invoices", "catalog_versions",
        ])
        for r in records {
            var row = [r.invoiceID, r.customerID, r.lineItemID]
            for t in [r.finalized, r.current] {
                row += [
                    t.quantity.canonical, t.subtotal.formatted(decimals: d), t.credits.formatted(decimals: d),
                    t.commits.formatted(decimals: d), t.total.formatted(decimals: d),
                ]
            }
            row += [
                r.deltaTotal.formatted(decimals: d), "\(r.firstDetectedSeq)", "\(r.lastChangedSeq)",
                r.lateTransactionIDs.joined(separator: " "), r.viaInvoices.joined(separator: " "),
                r.catalogVersions.map { "\($0)" }.joined(separator: " "),
            ]
            table.rows.append(row)
        }
        return table
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
                customer, "\(e.invoices.count)", "\(e.lines)", e.delta.formatted(decimals: plan.currencyDecimals),
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
                    snapshot == nil ? "" : f.total.formatted(decimals: d),
                    c.quantity.canonical, c.subtotal.formatted(decimals: d), c.credits.formatted(decimals: d),
                    c.commits.formatted(decimals: d), c.total.formatted(decimals: d),
                    snapshot == nil ? "" : (c.total - f.total).formatted(decimals: d),
                ])
            }
            table.rows.append([
                "*", "", snapshot == nil ? "" : fTotal.total.formatted(decimals: d), "",
                cTotal.subtotal.formatted(decimals: d),
                cTotal.credits.formatted(decimals: d), cTotal.commits.formatted(decimals: d),
                cTotal.total.formatted(decimals: d),
                snapshot == nil ? "" : (cTotal.total - fTotal.total).formatted(decimals: d),
            ])
            return (snapshot, table)
        }
    }
}
