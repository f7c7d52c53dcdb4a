import DaybookCore
import DaybookStore
import LMDB

/// What `daybook check` found: per database the entries walked and the B-tree figures, the page
/// accounting, and the problems (what, where), the first ``StoreCheck/maxListed`` of them.
public struct StoreCheckReport: Sendable {
    public struct DatabaseFigures: Sendable, Hashable {
        public var name: String
        /// Entries walked with a cursor (and decoded).
        public var entries: Int
        /// Pages of its B-tree (branch, leaf, overflow) and its depth, as LMDB records them.
        public var pages: Int
        public var depth: Int
        /// Problems found in it.
        public var problems: Int
    }

    /// The store directory.
    public var path: String
    public var databases: [DatabaseFigures] = []
    /// Pages in use (last page + 1) and free pages, when the check saw the latest commit.
    public var pages: Int?
    public var freePages: Int?
    /// The first problems, one line each: `database: what (where)`.
    public var problems: [String] = []
    /// How many problems there are in all.
    public var problemCount = 0
    /// Named databases that are not Daybook's (another program's; not checked, not a problem).
    public var otherDatabases: [String] = []

    public var isIntact: Bool { problemCount == 0 }
    /// Records walked and decoded, over every database.
    public var records: Int { databases.reduce(0) { $0 + $1.entries } }
}

/// `daybook check`: an integrity pass over a whole store, on demand. Opens the store read-only
/// (the open check runs first: file size against the meta page, Daybook's databases, format
/// marker), then in read transactions walks every database with a cursor, decodes every record
/// with its codec, checks the cheap cross-references (every `transactions`, `by_customer` and
/// `rejections` entry points at a logged event and every logged event is indexed; log seqs and
/// dead-letter numbers run 1…n; catalog versions 1…n parse; invoices are stored under their own
/// key; drift has a snapshot; the counts in the engine state match the entries) and the page
/// accounting of the B-trees. Cost: one walk of every database plus three lookups per event.
///
/// LMDB keeps no checksums: a flipped bit in a value that still decodes (a digit of an
/// amount) is not found here; `daybook replay verify` compares the breakdown with the log.
public enum StoreCheck {
    /// Problems listed in the report (all are counted).
    public static let maxListed = 50

    /// Checks the store at `path`. Throws what opening it throws (``StoreError``, `LMDBError`)
    /// when it cannot even be opened; every other damage is a problem in the report.
    public static func run(path: String) throws -> StoreCheckReport {
        let store = try Store(path: path, access: .read)
        let checker = Checker(store)
        checker.run()
        return checker.report
    }
}

private final class Checker {
    let store: Store
    var report: StoreCheckReport
    var state: EngineState?
    /// Entries walked per database name.
    var walked: [String: Int] = [:]
    var lastLogSeq: UInt64 = 0
    var lastDeadLetter: UInt64 = 0
    var catalogVersions = 0
    /// The currency decimals of the last catalog version that parsed (invoice amounts are
    /// checked against them: a change of decimals rebuilds every invoice), and the most of any
    /// version (snapshots and drift keep the decimals of the version they were made under).
    var decimals: Int?
    var maxDecimals: Int?
    /// Invoice key → day count (or nil when it does not decode), for the `distinct` check.
    var invoiceDays: [[UInt8]: Int?] = [:]

    init(_ store: Store) {
        self.store = store
        report = StoreCheckReport(path: store.env.path)
    }

    func problem(_ database: String, _ text: String) {
        report.problemCount += 1
        if let i = report.databases.firstIndex(where: { $0.name == database }) { report.databases[i].problems += 1 }
        if report.problems.count < StoreCheck.maxListed { report.problems.append("\(database): \(text)") }
    }

    func run() {
        for db in store.all {
            report.databases.append(.init(name: db.name, entries: 0, pages: 0, depth: 0, problems: 0))
        }
        walk(store.meta, key: text) { txn, key, value in try self.meta(key, value, txn) }
        walk(store.log, key: number) { txn, key, value in try self.logEntry(key, value, txn) }
        walk(store.transactions, key: text) { txn, key, value in try self.transaction(key, value, txn) }
        walk(store.byCustomer, key: hex) { _, _, _ in
            // Format 4 keeps no `by_customer` (a format-3 store's is emptied by its next write).
            if self.state?.loadedFormat ?? EngineState.formatVersion >= 4 {
                throw StoreCorruption("an entry in a format-4 store, which keeps none")
            }
        }
        walk(store.byDay, key: hex) { _, key, value in try self.dayEntry(key, value) }
        compareDays()
        walk(store.journal, key: number) { txn, key, value in try self.journalEntry(key, value, txn) }
        walk(store.changedInvoices, key: hex) { txn, key, value in try self.changedInvoice(key, value, txn) }
        walk(store.removedRows, key: hex) { _, _, value in _ = try RemovedRows(decoding: value) }
        walk(store.corrections, key: hex) { txn, key, value in try self.correction(key, value, txn) }
        walk(store.deadLetters, key: number) { _, key, value in try self.deadLetter(key, value) }
        walk(store.rejections, key: hex) { txn, key, value in try self.rejection(key, value, txn) }
        walk(store.catalogs, key: hex) { _, key, value in try self.catalog(key, value) }
        walk(store.invoices, key: hex) { _, key, value in try self.invoice(key, value) }
        walk(store.distinct, key: hex) { txn, key, value in try self.distinctValue(key, value, txn) }
        walk(store.openInvoices, key: hex) { txn, key, value in try self.openInvoice(key, value, txn) }
        walk(store.snapshots, key: hex) { _, _, value in
            let snapshot = try Snapshot(decoding: value)
            if let decimals = self.maxDecimals { try snapshot.checkMoney(decimals: decimals) }
        }
        walk(store.checkpoints, key: text) { _, _, _ in }
        walk(store.causes, key: hex) { txn, key, value in try self.cause(key, value, txn) }
        walk(store.drift, key: hex) { txn, key, value in try self.drift(key, value, txn) }
        walk(store.driftHistory, key: hex) { _, key, value in try self.resolvedDrift(key, value) }
        walk(store.deadLetterKeys, key: hex) { txn, key, value in
            // digest ‖ dead letter number → empty: the letter must exist.
            guard key.count == KeyDigest.size + 8, value.isEmpty else {
                throw StoreCorruption(
                    "dead_letter_keys entry of a \(key.count)-byte key and a \(value.count)-byte value")
            }
            let number = try Keys.seq(from: key, at: KeyDigest.size, in: "dead_letter_keys key")
            guard try txn.contains(Keys.seq(number), in: self.store.deadLetters) else {
                throw StoreCorruption("names dead letter \(number), which is not stored")
            }
        }
        counts()
        pageAccounting()
        let known = Set(store.all.map(\.name))
        report.otherDatabases = ((try? store.env.read { txn in try txn.databaseNames() }) ?? []).filter {
            !known.contains($0)
        }
    }

    // MARK: Walking

    /// Walks `db` in one read transaction, calling `body` for every entry. A record that does not
    /// decode is a problem of that entry; an LMDB error (a damaged page) ends the walk of `db`.
    func walk(
        _ db: Database, key describe: ([UInt8]) -> String,
        _ body: (borrowing Transaction, [UInt8], [UInt8]) throws -> Void
    ) {
        var entries = 0
        var last: [UInt8]?
        do {
            try store.env.read { txn in
                let figures = try txn.statistics(of: db)
                if let i = report.databases.firstIndex(where: { $0.name == db.name }) {
                    report.databases[i].pages = figures.pages
                    report.databases[i].depth = figures.depth
                }
                try txn.scan(in: db) { key, value in
                    entries += 1
                    last = key
                    do {
                        try body(txn, key, value)
                    } catch let error as StoreCorruption {
                        problem(db.name, "\(error.message) (key \(describe(key)))")
                    }
                    return true
                }
                if entries != figures.entries {
                    problem(db.name, "walked \(entries) entries, but its B-tree records \(figures.entries)")
                }
            }
        } catch {
            let place = last.map { "after key \(describe($0))" } ?? "at its first entry"
            problem(db.name, "the B-tree cannot be walked \(place), \(entries) entries in: \(Self.describe(error))")
        }
        walked[db.name] = entries
        if let i = report.databases.firstIndex(where: { $0.name == db.name }) { report.databases[i].entries = entries }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as LMDBError: return "\(e.reason) (\(e.operation))"
        case let e as StoreCorruption: return e.message
        default: return "\(error)"
        }
    }

    func text(_ key: [UInt8]) -> String {
        let printable = key.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        return printable ? "\"\(String(decoding: key.prefix(64), as: UTF8.self))\"" : hex(key)
    }

    func number(_ key: [UInt8]) -> String {
        key.count == 8 ? "\([UInt8].readBigEndianUInt64(key, at: 0))" : hex(key)
    }

    func hex(_ key: [UInt8]) -> String {
        let digits = "0123456789abcdef".map { $0 }
        var s = "0x"
        for b in key.prefix(40) { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return key.count > 40 ? s + "…" : s
    }

    /// Whether the log holds `seq` (a damaged lookup is a problem of `database`).
    func logged(_ seq: UInt64, _ txn: borrowing Transaction) throws -> Bool {
        try txn.contains(Keys.seq(seq), in: store.log)
    }

    // MARK: Records

    func meta(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        switch key {
        case StoreFormat.key:
            guard value == StoreFormat.marker else {
                throw StoreCorruption("the format marker is not Daybook's version \(StoreFormat.version) marker")
            }
        case EngineState.key:
            state = try EngineState.load(store, txn)
        default:
            throw StoreCorruption("unknown meta record")
        }
    }

    func logEntry(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        let seq = try Keys.seq(from: key, in: "log key")
        guard key.count == 8 else { throw StoreCorruption("log key of \(key.count) bytes") }
        if seq != lastLogSeq + 1 {
            problem("log", "seq \(seq) follows seq \(lastLogSeq): the log has a gap or is out of order")
        }
        lastLogSeq = seq
        let event = try LoggedEvent(seq: seq, decoding: value).event()
        let indexed = try txn.get(Array(event.transactionID.utf8), in: store.transactions)
        if indexed != Keys.seq(seq) {
            problem(
                "transactions",
                "transaction id \"\(event.transactionID)\" of log seq \(seq) "
                    + (indexed == nil ? "is missing" : "points at another seq"))
        }
        loggedDays[DayKey(customer: event.customerID, day: event.day), default: DaySeqs()].add(seq)
    }

    func transaction(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        guard value.count == 8 else { throw StoreCorruption("a \(value.count)-byte seq") }
        let seq = try Keys.seq(from: value, in: "transactions value")
        guard try logged(seq, txn) else { throw StoreCorruption("points at log seq \(seq), which is not logged") }
    }

    /// A customer day's seqs, summarised: how many, and a sum of their mixed bits (equal sets
    /// of seqs give equal sums; a seq missing, extra or moved changes the sum but for chance).
    struct DaySeqs: Equatable {
        var count = 0
        var mix: UInt64 = 0
        mutating func add(_ seq: UInt64) {
            count += 1
            // SplitMix64's finalizer: every bit of the seq moves every bit of the sum.
            var z = seq &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            mix = mix &+ (z ^ (z >> 31))
        }
    }
    struct DayKey: Hashable {
        var customer: String
        var day: Day
    }
    /// Per customer day: the log's events (from the log walk) and what `by_day` lists.
    var loggedDays: [DayKey: DaySeqs] = [:]
    var indexedDays: [DayKey: DaySeqs] = [:]
    /// The last seq `by_day` listed for the customer day walked last: seqs ascend within a day.
    var lastIndexed: (key: DayKey, seq: UInt64)?

    /// `by_day`: customer, day, seq → the gaps to the entry's further seqs (ascending).
    func dayEntry(_ key: [UInt8], _ value: [UInt8]) throws {
        let (customer, next) = try Keys.string(from: key, in: "by_day key")
        guard key.count == next + 12 else { throw StoreCorruption("by_day key of \(key.count) bytes") }
        let day = try Keys.day(from: key, at: next, in: "by_day key")
        let seqs = try Keys.daySeqs(key: key, prefixCount: next + 4, value: value)
        let dayKey = DayKey(customer: customer, day: day)
        if let last = lastIndexed, last.key == dayKey, seqs[0] <= last.seq {
            throw StoreCorruption("lists seq \(seqs[0]) of \"\(customer)\" on \(day) again, or out of order")
        }
        lastIndexed = (dayKey, seqs.last!)
        for seq in seqs { indexedDays[dayKey, default: DaySeqs()].add(seq) }
    }

    /// Every logged event is listed in `by_day` under its customer and day, exactly once.
    func compareDays() {
        var listed = 0
        for (key, logged) in loggedDays.sorted(by: { ($0.key.customer, $0.key.day) < ($1.key.customer, $1.key.day) })
        where indexedDays[key] != logged {
            listed += 1
            guard listed <= StoreCheck.maxListed else { continue }
            let indexed = indexedDays[key]?.count ?? 0
            problem(
                "by_day",
                "\"\(key.customer)\" on \(key.day): the log has \(logged.count) events, by_day lists "
                    + (indexed == logged.count ? "as many but other seqs" : "\(indexed)"))
        }
        for key in indexedDays.keys where loggedDays[key] == nil {
            problem(
                "by_day", "\"\(key.customer)\" on \(key.day): by_day lists events the log does not have on that day")
        }
    }

    /// Journal positions are dense; each ingest write's seqs follow the previous write's last seq.
    var lastJournal: (position: UInt64, lastSeq: UInt64) = (0, 0)

    func journalEntry(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        guard key.count == 8 else { throw StoreCorruption("journal key of \(key.count) bytes") }
        let position = try Keys.seq(from: key, in: "journal key")
        let entry = try JournalEntry(position: position, decoding: value)
        defer { lastJournal = (position, entry.lastSeq) }
        if position != lastJournal.position + 1 {
            problem("journal", "position \(position) follows position \(lastJournal.position)")
        }
        switch entry.kind {
        case .ingest(let first, let batches):
            let events = batches.reduce(0) { $0 + $1.events }
            if first != lastJournal.lastSeq + 1 || entry.lastSeq != lastJournal.lastSeq + events {
                problem(
                    "journal",
                    "position \(position) appends seqs \(first)… (\(events) events, last \(entry.lastSeq)) after seq \(lastJournal.lastSeq)"
                )
            }
        case .catalog(let version):
            if try !txn.contains(Keys.version(version), in: store.catalogs) {
                problem("journal", "position \(position) applies catalog version \(version), which is not stored")
            }
            fallthrough
        case .finalize, .correction:
            if entry.lastSeq != lastJournal.lastSeq {
                problem(
                    "journal",
                    "position \(position) moves the log from seq \(lastJournal.lastSeq) to \(entry.lastSeq) without events"
                )
            }
        }
    }

    /// A ledger must belong to a finalized invoice and sum its stored corrections; a correction
    /// must be counted by its invoice's ledger.
    func correction(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        let tag = try Engine.correctionTag(key)
        let invoice = Array(key[..<(key.count - (tag == 0 ? 1 : 5))])
        guard try txn.contains(invoice, in: store.snapshots) else {
            problem("corrections", "a correction record of an invoice without a snapshot")
            return
        }
        guard tag == 0 else {
            let c = try Correction(decoding: value)
            let ledger = try CorrectionLedger.load(invoice: invoice, store, txn)
            let keyed = key.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if c.status == .proposed || c.number > ledger?.acted ?? 0 || c.number != keyed {
                problem("corrections", "correction \(c.id) is not one its invoice's ledger counts")
            }
            return
        }
        let ledger = try CorrectionLedger(decoding: value)
        var issued: [CorrectionLine] = [], rejected: [CorrectionLine] = [], issuedCount: UInt32 = 0
        for n in UInt32(1)...max(ledger.acted, 1) where ledger.acted > 0 {
            guard
                let bytes = try txn.get(
                    CorrectionLedger.documentKey(invoice: invoice, number: n), in: store.corrections)
            else {
                problem("corrections", "correction \(Correction.id(invoice: ledger.invoiceID, number: n)) is missing")
                return
            }
            let c = try Correction(decoding: bytes)
            if c.status == .issued { issuedCount += 1 }
            if c.status == .issued {
                CorrectionLedger.add(c.lines, into: &issued)
            } else {
                CorrectionLedger.add(c.lines, into: &rejected)
            }
        }
        if issuedCount != ledger.issuedCount || issued != ledger.issued || rejected != ledger.rejected {
            problem("corrections", "the ledger of \(ledger.invoiceID) does not sum its issued and rejected corrections")
        }
    }

    func deadLetter(_ key: [UInt8], _ value: [UInt8]) throws {
        let number = try Keys.seq(from: key, in: "dead_letters key")
        guard key.count == 8 else { throw StoreCorruption("dead_letters key of \(key.count) bytes") }
        if number != lastDeadLetter + 1 {
            problem("dead_letters", "number \(number) follows number \(lastDeadLetter)")
        }
        lastDeadLetter = number
        _ = try DeadLetter(number: number, decoding: value)
    }

    func rejection(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        let seq = try Keys.seq(from: key, in: "rejections key")
        guard key.count > 8 else { throw StoreCorruption("rejections key without a metric id") }
        guard ValueRejection(rawValue: String(decoding: value, as: UTF8.self)) != nil else {
            throw StoreCorruption("unknown rejection reason")
        }
        guard try logged(seq, txn) else { throw StoreCorruption("names log seq \(seq), which is not logged") }
    }

    func catalog(_ key: [UInt8], _ value: [UInt8]) throws {
        let version = try Keys.u32(from: key, in: "catalogs key")
        guard key.count == 4 else { throw StoreCorruption("catalogs key of \(key.count) bytes") }
        catalogVersions += 1
        if version != UInt32(catalogVersions) {
            problem("catalogs", "version \(version) where version \(catalogVersions) was expected")
        }
        let stored = try CatalogVersion(version: version, decoding: value)
        do {
            let parsed = try Catalog.parse(stored.document).currencyDecimals
            decimals = parsed
            maxDecimals = max(maxDecimals ?? parsed, parsed)
        } catch {
            throw StoreCorruption("catalog version \(version) no longer validates: \(error)")
        }
    }

    func invoice(_ key: [UInt8], _ value: [UInt8]) throws {
        invoiceDays[key] = .some(nil)
        let state = try InvoiceState(decoding: value)
        guard key == Keys.invoice(contract: state.contractID, start: state.period.start) else {
            throw StoreCorruption(
                "the invoice of \(state.contractID) from \(state.period.start) is stored under another key")
        }
        invoiceDays[key] = state.dayCount
        if let decimals { try state.checkMoney(decimals: decimals) }
    }

    /// The day count of the stored invoice `key` (nil when there is none or it does not decode).
    func days(ofInvoice key: [UInt8], _ txn: borrowing Transaction) throws -> Int? {
        if let known = invoiceDays[key] { return known }
        let days = try txn.get(key, in: store.invoices).flatMap { try? InvoiceState(decoding: $0).dayCount }
        invoiceDays[key] = days
        return days
    }

    /// A digest-chain key: `u32 length + invoice key ‖ digest(part) ‖ suffix ‖ n (u16)`, whose
    /// digest must be the store's digest of the `part` the record holds.
    func chainKey(_ key: [UInt8], suffix: Int, part: [UInt8], _ what: String) throws -> [UInt8] {
        let invoice = Array(key[try Keys.lengthPrefixed(key, in: what)])
        let digestAt = 4 + invoice.count
        guard key.count == digestAt + KeyDigest.size + suffix + 2 else {
            throw StoreCorruption("\(what) of \(key.count) bytes")
        }
        guard key[digestAt..<(digestAt + KeyDigest.size)].elementsEqual(store.digest(part)) else {
            throw StoreCorruption("\(what) does not hold the digest of its record's value")
        }
        return invoice
    }

    func distinctValue(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        guard value.count >= 8 else { throw StoreCorruption("a \(value.count)-byte distinct value") }
        let first = Int(try Keys.u32(from: value, in: "distinct value"))
        let part = Array(value[4...])
        _ = try Keys.string(from: part, at: 0, in: "distinct value's line item")
        let invoice = try chainKey(key, suffix: 0, part: part, "distinct key")
        guard let days = try days(ofInvoice: invoice, txn) else {
            throw StoreCorruption("names an invoice that is not stored")
        }
        guard first < days else { throw StoreCorruption("first-day index \(first) in a period of \(days) days") }
    }

    func openInvoice(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        let end = try Keys.day(from: key, at: 0, in: "open_invoices key")
        guard key.count > 4, value.isEmpty else {
            throw StoreCorruption("open_invoices entry of a \(key.count)-byte key and a \(value.count)-byte value")
        }
        let invoice = Array(key.dropFirst(4))
        // Its invoice may be gone (contract removed); when stored, it must end that day.
        if let bytes = try txn.get(invoice, in: store.invoices), let state = try? InvoiceState(decoding: bytes),
            state.period.end != end
        {
            throw StoreCorruption("lists an invoice ending \(end), but the invoice ends \(state.period.end)")
        }
    }

    /// A `changed_invoices` entry: its invoice, when stored, was last stamped at its position.
    func changedInvoice(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        guard key.count > 8, value.isEmpty else {
            throw StoreCorruption("changed_invoices entry of a \(key.count)-byte key and a \(value.count)-byte value")
        }
        let position = Keys.readSeq(key)
        if let bytes = try txn.get(Array(key.dropFirst(8)), in: store.invoices),
            let state = try? InvoiceState(decoding: bytes), state.stamps.last != position
        {
            throw StoreCorruption(
                "lists its invoice at position \(position), but it was last stamped at \(state.stamps.last)")
        }
    }

    /// The invoice key at the start of a `causes` key and the offset after it.
    func invoicePrefix(_ key: [UInt8], _ what: String) throws -> [UInt8] {
        let contract = try Keys.lengthPrefixed(key, in: what)
        _ = try Keys.day(from: key, at: contract.upperBound, in: what)
        return Array(key[..<(contract.upperBound + 4)])
    }

    func cause(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        let invoice = try invoicePrefix(key, "causes key")
        switch key.count - invoice.count {
        case 1 where key[invoice.count] == 0:
            _ = try CauseSummary(decoding: value)
        case 9 where key[invoice.count] == 1:
            var r = ByteReader(value)
            for _ in 0..<(try r.count()) {
                let seq = try r.uvarint()
                _ = try r.string()
                guard try logged(seq, txn) else { throw StoreCorruption("names log seq \(seq), which is not logged") }
            }
            guard r.isAtEnd else { throw StoreCorruption("late-event list has trailing bytes") }
        default:
            throw StoreCorruption("causes key of unknown kind")
        }
    }

    func drift(_ key: [UInt8], _ value: [UInt8], _ txn: borrowing Transaction) throws {
        let record = try DriftRecord(decoding: value)
        let invoice = try chainKey(key, suffix: 0, part: Array(record.lineItemID.utf8), "drift key")
        if let maxDecimals { try record.checkMoney(decimals: maxDecimals) }
        guard record.resolvedSeq == nil else {
            throw StoreCorruption("the open drift of line item \"\(record.lineItemID)\" is marked resolved")
        }
        guard try txn.contains(invoice, in: store.snapshots) else {
            throw StoreCorruption("drift of an invoice without a snapshot")
        }
    }

    func resolvedDrift(_ key: [UInt8], _ value: [UInt8]) throws {
        let record = try DriftRecord(decoding: value)
        _ = try chainKey(key, suffix: 8, part: Array(record.lineItemID.utf8), "drift_history key")
        let seq = try Keys.seq(from: key, at: key.count - 10, in: "drift_history key")
        if let maxDecimals { try record.checkMoney(decimals: maxDecimals) }
        guard record.resolvedSeq == seq else { throw StoreCorruption("record resolved at another seq than its key's") }
    }

    // MARK: Totals

    func counts() {
        guard let state else {
            if walked["meta", default: 0] > 0 || walked["log", default: 0] > 0 {
                problem("meta", "the engine state is missing")
            }
            return
        }
        let log = walked["log", default: 0]
        func expect(_ database: String, _ what: String, _ found: Int, _ stated: UInt64) {
            if UInt64(found) != stated {
                problem(database, "\(found) \(what), but the engine state counts \(stated)")
            }
        }
        expect("log", "entries", log, state.lastSeq)
        expect("log", "entries", log, state.counters.events)
        expect("transactions", "entries", walked["transactions", default: 0], UInt64(log))
        // `by_customer` (format 3 only) is checked by its walk, `by_day` by ``compareDays()``.
        expect("journal", "entries", walked["journal", default: 0], state.journalPosition)
        if lastJournal.lastSeq != state.lastSeq {
            problem(
                "journal", "the last write ends at seq \(lastJournal.lastSeq), the engine state at \(state.lastSeq)")
        }
        expect("dead_letters", "entries", walked["dead_letters", default: 0], state.lastDeadLetter)
        // The counter counts outcomes: a record dead-lettered again is counted, not stored again.
        if UInt64(walked["dead_letters", default: 0]) > state.counters.deadLetters {
            problem(
                "dead_letters",
                "\(walked["dead_letters", default: 0]) entries, but the engine state counts \(state.counters.deadLetters) dead-lettered records"
            )
        }
        expect("rejections", "entries", walked["rejections", default: 0], state.counters.metricRejections)
        expect("catalogs", "versions", walked["catalogs", default: 0], UInt64(state.catalogVersion))
    }

    func pageAccounting() {
        do {
            try store.env.read { txn in
                report.pages = try txn.snapshotPageCount()
                report.freePages = try txn.freePageCount()
                if let problem = try store.pageAccountingProblem(txn) { self.problem("pages", problem) }
            }
        } catch {
            problem("pages", "the free-page list cannot be walked: \(Self.describe(error))")
        }
    }
}
