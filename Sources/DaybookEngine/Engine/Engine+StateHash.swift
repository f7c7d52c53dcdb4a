import DaybookCore
import DaybookStore
import LMDB

extension Engine {
    /// A digest of the store's billing state (`daybook stats --state-hash`, docs/scale-out.md §4):
    /// 32 hex digits, equal for two stores that bill the same, whoever fed them and in what batches.
    /// A partition restored from a snapshot and given the later events, and one fed from stream
    /// sequence 1, hash the same; so does a store fed in one batch or a thousand.
    ///
    /// It is SipHash-2-4-128 (fixed key, ``stateHashKey``) over, in this order and each database in
    /// key order, read in one read transaction:
    /// - `catalogs`: version, the log seq it follows, the document;
    /// - `log`: seq and the event in a canonical form (transaction id, customer, event type, UTC
    ///   time, properties sorted by key with their canonical values), so two spellings of one
    ///   event (whitespace, key order, time zone offsets) are one event;
    /// - `rejections`: seq, metric and reason;
    /// - `invoices` whose period starts on or before the last event day of the log: contract,
    ///   period, per line item and day the contribution, `Q`, `A`, credits and commits, per day
    ///   each balance's closing;
    /// - `snapshots`: invoice, customer, contract and the frozen totals per line item;
    /// - `causes` summaries: late-event count, the first late events (seq, transaction id), the
    ///   catalog versions that rebuilt the invoice;
    /// - `drift` and `drift_history`: invoice, customer, line item, finalized, billed and current
    ///   totals, `via_invoices`, and for resolved records the causes kept at resolution;
    /// - `corrections`: per ledger the counts and the summed issued and rejected deltas, and the
    ///   open proposal's number, kind and lines; per correction its number, kind, status, lines,
    ///   the log seq it was acted at, note or reason, and the causes it names.
    ///
    /// Left out, because they record when or in which batches things were written rather than
    /// what is billed:
    /// - every wall-clock time of a write: a log entry's ingest time, a catalog's applied-at, a
    ///   snapshot's `finalized_at`, drift's detected/changed/resolved times, a correction's
    ///   proposed and acted times;
    /// - log seqs that are a batch's last seq rather than an event's: a snapshot's seq (the batch
    ///   boundary the clock finalized it at), drift's first/last change and resolved seqs, an
    ///   invoice's last-changed seq, a proposal's proposed seqs, and the proposal's causes;
    /// - the databases of write positions and batching: `journal`, `by_day`, `changed_invoices`,
    ///   `removed_rows` and every invoice's row stamps (journal positions), the `meta` state
    ///   (counters, horizon), `checkpoints` (source positions and lag);
    /// - a log entry's source and position (where it came from, not what it bills);
    /// - `dead_letters` and their keys (what was refused, with its receive time: a too-late or
    ///   in-future refusal depends on the clock), and the per-transaction lists of late events
    ///   in `causes` (keyed by a batch's last seq; the summary is in);
    /// - what is derived from the above: `transactions` (from the log), `distinct` (in the
    ///   invoices' contributions), `open_invoices`;
    /// - invoices of periods starting after the last event day: they hold only what the catalog
    ///   and the clock put there (fixed fees, balances carried forward), and how far a store
    ///   materialized them depends on the clock of its writes (reads compute them in memory).
    ///
    /// Finalization itself follows the clock of the batches: a store whose clock finalized an
    /// invoice before an event and one that finalized it after bill differently, and hash so.
    public func stateHash() throws -> String {
        let store = self.store
        var hasher = SipHasher128(key: Self.stateHashKey)
        hasher.append(Array("daybook-state-hash-1".utf8))
        try store.env.read { txn in
            func feed(_ table: UInt8, _ body: (inout ByteWriter) throws -> Void) rethrows {
                var w = ByteWriter(capacity: 256)
                w.bytes.append(table)
                try body(&w)
                hasher.append(w.bytes)
            }
            try txn.scan(in: store.catalogs) { key, value in
                let version = try Keys.u32(from: key, in: "catalogs key")
                let catalog = try CatalogVersion(version: version, decoding: value)
                feed(1) { w in
                    w.uvarint(UInt64(version))
                    w.uvarint(catalog.afterSeq)
                    w.blob(catalog.document)
                }
                return true
            }
            var lastEventDay: Day?
            try txn.scan(in: store.log) { key, value in
                let seq = try Keys.seq(from: key, in: "log key")
                let event = try LoggedEvent.event(seq: seq, decoding: value)
                lastEventDay = max(lastEventDay ?? event.day, event.day)
                feed(2) { w in
                    w.uvarint(seq)
                    w.canonical(event)
                }
                return true
            }
            try txn.scan(in: store.rejections) { key, value in
                feed(3) { w in
                    w.blob(key)
                    w.blob(value)
                }
                return true
            }
            try txn.scan(in: store.invoices) { _, value in
                let invoice = try InvoiceState(decoding: value)
                guard let lastEventDay, invoice.period.start <= lastEventDay else { return true }
                feed(4) { w in w.canonical(invoice) }
                return true
            }
            try txn.scan(in: store.snapshots) { _, value in
                let snapshot = try Snapshot(decoding: value)
                feed(5) { w in
                    for s in [snapshot.invoiceID, snapshot.customerID, snapshot.contractID] { w.string(s) }
                    w.uvarint(snapshot.lines.count)
                    for line in snapshot.lines {
                        w.string(line.lineItemID)
                        w.canonical(line.totals)
                    }
                }
                return true
            }
            try txn.scan(in: store.causes) { key, value in
                // `invoice key ‖ 0x00` is the summary; `invoice key ‖ 0x01 ‖ last seq` a batch's list.
                let invoiceLength = 4 + Int(try Keys.u32(from: key, in: "causes key")) + 4
                guard key.count == invoiceLength + 1, key[invoiceLength] == 0 else { return true }
                let summary = try CauseSummary(decoding: value)
                feed(6) { w in
                    w.blob(key)
                    w.uvarint(summary.lateEventCount)
                    w.uvarint(summary.firstLateEvents.count)
                    for (seq, id) in summary.firstLateEvents {
                        w.uvarint(seq)
                        w.string(id)
                    }
                    w.uvarint(summary.catalogVersions.count)
                    for v in summary.catalogVersions { w.uvarint(UInt64(v)) }
                }
                return true
            }
            for (table, db) in [(UInt8(7), store.drift), (8, store.driftHistory)] {
                try txn.scan(in: db) { _, value in
                    let record = try DriftRecord(decoding: value)
                    feed(table) { w in w.canonical(record) }
                    return true
                }
            }
            try txn.scan(in: store.corrections) { key, value in
                // `invoice key ‖ 0x00` is the ledger; `invoice key ‖ 0x01 ‖ n` correction n.
                let invoiceLength = 4 + Int(try Keys.u32(from: key, in: "corrections key")) + 4
                guard key.count > invoiceLength else {
                    throw StoreCorruption("corrections key of \(key.count) bytes has no kind")
                }
                if key[invoiceLength] == 0 {
                    let ledger = try CorrectionLedger(decoding: value)
                    feed(9) { w in w.canonical(ledger) }
                } else {
                    let correction = try Correction(decoding: value)
                    feed(10) { w in w.canonical(correction, acted: true) }
                }
                return true
            }
        }
        return hasher.finish().map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
        }.joined()
    }

    /// The SipHash key of ``stateHash()``: fixed, so that hashes compare across processes and
    /// hosts. The input starts with `daybook-state-hash-1`: a change of what is hashed changes it.
    static let stateHashKey: (UInt64, UInt64) = (0x6f62_7961_6420_6b6f, 0x6873_6168_2065_7461)
}

// The canonical forms hashed: explicit fields only, lengths before every variable part, so no two
// different states feed the same bytes.
extension ByteWriter {
    fileprivate mutating func canonical(_ event: UsageEvent) {
        string(event.transactionID)
        string(event.customerID)
        string(event.eventType)
        timestamp(event.timestamp)
        let keys = event.properties.keys.sorted { $0.utf8Precedes($1) }
        uvarint(keys.count)
        for key in keys {
            string(key)
            switch event.properties[key]! {
            case .string(let s):
                bytes.append(UInt8(ascii: "s"))
                string(s)
            case .number(let d):
                bytes.append(UInt8(ascii: "n"))
                string(d.canonical)
            case .bool(let b):
                bytes.append(UInt8(ascii: "b"))
                bool(b)
            }
        }
    }

    fileprivate mutating func canonical(_ t: Totals) {
        decimal(t.quantity)
        decimal(t.subtotal)
        decimal(t.credits)
        decimal(t.commits)
    }

    fileprivate mutating func canonical(_ invoice: InvoiceState) {
        string(invoice.contractID)
        day(invoice.period.start)
        day(invoice.period.end)
        uvarint(invoice.lineItems.count)
        for item in invoice.lineItems {
            string(item.id)
            string(item.productID)
            string(item.group)
            for array in [item.daily, item.cumQuantity, item.cumAmount, item.credits, item.commits] {
                uvarint(array.count)
                for v in array { decimal(v) }
            }
        }
        uvarint(invoice.closing.count)
        for day in invoice.closing {
            uvarint(day.count)
            for v in day { decimal(v) }
        }
    }

    fileprivate mutating func canonical(_ r: DriftRecord) {
        for s in [r.invoiceID, r.customerID, r.lineItemID] { string(s) }
        for t in [r.finalized, r.billed, r.current] { canonical(t) }
        uvarint(r.viaInvoices.count)
        for s in r.viaInvoices { string(s) }
        bool(r.resolvedSeq != nil)
        if r.resolvedSeq != nil {
            uvarint(r.lateEventCount)
            uvarint(r.lateTransactionIDs.count)
            for s in r.lateTransactionIDs { string(s) }
            uvarint(r.catalogVersions.count)
            for v in r.catalogVersions { uvarint(UInt64(v)) }
        }
    }

    fileprivate mutating func canonical(_ lines: [CorrectionLine]) {
        uvarint(lines.count)
        for line in lines {
            string(line.lineItemID)
            canonical(line.delta)
        }
    }

    fileprivate mutating func canonical(_ ledger: CorrectionLedger) {
        string(ledger.invoiceID)
        string(ledger.customerID)
        uvarint(UInt64(ledger.acted))
        uvarint(UInt64(ledger.issuedCount))
        canonical(ledger.issued)
        canonical(ledger.rejected)
        bool(ledger.proposal != nil)
        if let proposal = ledger.proposal { canonical(proposal, acted: false) }
    }

    /// `acted`: an issued or rejected correction (its action's seq, text and causes are in); an
    /// open proposal is only its number, kind and lines (the rest follows the batches).
    fileprivate mutating func canonical(_ c: Correction, acted: Bool) {
        uvarint(UInt64(c.number))
        string(c.invoiceID)
        string(c.customerID)
        string(c.kind.rawValue)
        string(c.status.rawValue)
        canonical(c.lines)
        guard acted else { return }
        bool(c.actedSeq != nil)
        if let seq = c.actedSeq { uvarint(seq) }
        bool(c.text != nil)
        if let text = c.text { string(text) }
        uvarint(c.causes.lateEventCount)
        uvarint(c.causes.lateTransactionIDs.count)
        for s in c.causes.lateTransactionIDs { string(s) }
        uvarint(c.causes.viaInvoices.count)
        for s in c.causes.viaInvoices { string(s) }
        uvarint(c.causes.catalogVersions.count)
        for v in c.causes.catalogVersions { uvarint(UInt64(v)) }
    }
}
