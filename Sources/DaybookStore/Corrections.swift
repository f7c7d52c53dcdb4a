import DaybookCore
import LMDB

/// Whether a correction gives money back or asks for more (SPEC §4 "Corrections").
public enum CorrectionKind: String, Sendable, Hashable {
    /// The invoice's live total is below what was billed.
    case creditNote = "credit_note"
    /// The live total is above what was billed: a supplementary invoice.
    case trueUp = "true_up"
}

/// Where a correction stands. Only a proposal moves; issued and rejected ones are immutable.
public enum CorrectionStatus: String, Sendable, Hashable, CaseIterable {
    case proposed, issued, rejected
}

/// One line of a correction: how a line item's billed values move.
public struct CorrectionLine: Sendable, Hashable {
    public var lineItemID: String
    /// `quantity_delta`, `subtotal_delta`, `credits_delta`, `commits_delta`; `total_delta` is
    /// `delta.total` (subtotal − credits − commits).
    public var delta: Totals

    public init(lineItemID: String, delta: Totals) {
        self.lineItemID = lineItemID
        self.delta = delta
    }
}

/// What a correction names as the reason for it: the drift causes of its invoice (SPEC §4), as
/// they were when it was last proposed (kept as they were when it was issued or rejected).
public struct CorrectionCauses: Sendable, Hashable {
    public var lateEventCount: UInt64 = 0
    /// The first ``CauseSummary/limit`` late events' transaction ids, in log order.
    public var lateTransactionIDs: [String] = []
    public var viaInvoices: [String] = []
    public var catalogVersions: [UInt32] = []
    public init() {}
}

/// A correction of one finalized invoice: proposed from its drift, then issued or rejected.
public struct Correction: Sendable, Hashable {
    /// `n` of the id `{invoice_id}/c{n}`: 1, 2, … per invoice, in the order they were acted on.
    public var number: UInt32
    public var invoiceID: String
    public var customerID: String
    public var kind: CorrectionKind
    public var status: CorrectionStatus
    /// Line items whose values moved, in UTF-8 byte order of their ids.
    public var lines: [CorrectionLine]
    /// The log seq at which the proposal first appeared, and at which its values last changed.
    public var firstProposedSeq: UInt64
    public var proposedSeq: UInt64
    public var proposedAt: Timestamp
    /// For issued and rejected ones: the log seq and clock of the action.
    public var actedSeq: UInt64?
    public var actedAt: Timestamp?
    /// `issue --note` or `reject --reason`.
    public var text: String?
    public var causes: CorrectionCauses

    /// `{invoice_id}/c{n}`.
    public var id: String { Self.id(invoice: invoiceID, number: number) }

    public static func id(invoice: String, number: UInt32) -> String { "\(invoice)/c\(number)" }

    /// The invoice id and number of a correction id, nil when it does not end in `/c{n}` (n ≥ 1).
    public static func parse(id: String) -> (invoiceID: String, number: UInt32)? {
        guard let slash = id.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let tail = id.utf8[id.utf8.index(after: slash)...]
        guard tail.first == UInt8(ascii: "c"), tail.count > 1, tail.count <= 10,
            tail.dropFirst().allSatisfy({ (48...57).contains($0) }), tail.dropFirst().first != 48,
            let n = UInt32(String(decoding: tail.dropFirst(), as: UTF8.self))
        else { return nil }
        return (String(decoding: id.utf8[..<slash], as: UTF8.self), n)
    }

    /// Summed over the lines.
    public var totals: Totals {
        var t = Totals()
        for line in lines { t += line.delta }
        return t
    }

    package init(
        number: UInt32, invoiceID: String, customerID: String, kind: CorrectionKind, lines: [CorrectionLine],
        seq: UInt64, at: Timestamp, causes: CorrectionCauses
    ) {
        self.number = number
        self.invoiceID = invoiceID
        self.customerID = customerID
        self.kind = kind
        status = .proposed
        self.lines = lines
        firstProposedSeq = seq
        proposedSeq = seq
        proposedAt = at
        self.causes = causes
    }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 96 + lines.count * 48)
        w.uvarint(1 as UInt64)
        w.uvarint(UInt64(number))
        w.string(invoiceID)
        w.string(customerID)
        w.string(kind.rawValue)
        w.string(status.rawValue)
        w.uvarint(lines.count)
        for line in lines {
            w.string(line.lineItemID)
            w.totals(line.delta)
        }
        w.uvarint(firstProposedSeq)
        w.uvarint(proposedSeq)
        w.timestamp(proposedAt)
        w.bool(actedSeq != nil)
        if let actedSeq, let actedAt {
            w.uvarint(actedSeq)
            w.timestamp(actedAt)
        }
        w.bool(text != nil)
        if let text { w.string(text) }
        w.uvarint(causes.lateEventCount)
        w.uvarint(causes.lateTransactionIDs.count)
        for s in causes.lateTransactionIDs { w.string(s) }
        w.uvarint(causes.viaInvoices.count)
        for s in causes.viaInvoices { w.string(s) }
        w.uvarint(causes.catalogVersions.count)
        for v in causes.catalogVersions { w.uvarint(UInt64(v)) }
        return w.bytes
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        try self.init(reading: &r)
        guard r.isAtEnd else { throw StoreCorruption("correction record has trailing bytes") }
    }

    init(reading r: inout ByteReader) throws(StoreCorruption) {
        guard try r.uvarint() == 1 else { throw StoreCorruption("unknown correction record version") }
        guard let n = UInt32(exactly: try r.uvarint()), n > 0 else {
            throw StoreCorruption("correction number out of range")
        }
        number = n
        invoiceID = try r.string()
        customerID = try r.string()
        guard let k = CorrectionKind(rawValue: try r.string()), let s = CorrectionStatus(rawValue: try r.string())
        else { throw StoreCorruption("correction \(invoiceID)/c\(n) has an unknown kind or status") }
        kind = k
        status = s
        lines = []
        for _ in 0..<(try r.count()) { lines.append(CorrectionLine(lineItemID: try r.string(), delta: try r.totals())) }
        firstProposedSeq = try r.uvarint()
        proposedSeq = try r.uvarint()
        proposedAt = try r.timestamp()
        if try r.bool() {
            actedSeq = try r.uvarint()
            actedAt = try r.timestamp()
        }
        if try r.bool() { text = try r.string() }
        causes = CorrectionCauses()
        causes.lateEventCount = try r.uvarint()
        for _ in 0..<(try r.count()) { causes.lateTransactionIDs.append(try r.string()) }
        for _ in 0..<(try r.count()) { causes.viaInvoices.append(try r.string()) }
        for _ in 0..<(try r.count()) {
            guard let v = UInt32(exactly: try r.uvarint()) else {
                throw StoreCorruption("catalog version out of range")
            }
            causes.catalogVersions.append(v)
        }
        guard (status == .proposed) == (actedSeq == nil) else {
            throw StoreCorruption(
                "correction \(invoiceID)/c\(n) is \(status.rawValue) but \(actedSeq == nil ? "has no" : "has an") action"
            )
        }
    }
}

/// Per finalized invoice: what corrections moved its baseline and its open proposal. Stored under
/// `corrections` at `invoice key, 0x00`, written in the transaction that changes any of it.
///
/// What was **billed** is the snapshot plus ``issued``; a proposal is measured against billed plus
/// ``rejected`` (a rejected delta is not proposed again, SPEC §4).
package struct CorrectionLedger: Sendable, Hashable {
    package var invoiceID: String
    package var customerID: String
    /// Corrections issued or rejected so far (the next one is `acted + 1`).
    package var acted: UInt32 = 0
    package var issuedCount: UInt32 = 0
    /// Summed deltas of issued corrections, per line item (byte order of ids).
    package var issued: [CorrectionLine] = []
    /// Summed deltas of rejected corrections, per line item.
    package var rejected: [CorrectionLine] = []
    /// The open proposal (number `acted + 1`), nil when there is none.
    package var proposal: Correction?

    package init(invoiceID: String, customerID: String) {
        self.invoiceID = invoiceID
        self.customerID = customerID
    }

    package static func key(invoice: [UInt8]) -> [UInt8] { invoice + [0] }

    package static func documentKey(invoice: [UInt8], number: UInt32) -> [UInt8] {
        var k = invoice + [1]
        k.appendBigEndian(number)
        return k
    }

    package static func load(invoice: [UInt8], _ store: Store, _ txn: borrowing Transaction) throws
        -> CorrectionLedger?
    {
        try txn.get(key(invoice: invoice), in: store.corrections).map { try CorrectionLedger(decoding: $0) }
    }

    package func save(invoice: [UInt8], _ store: Store, _ txn: borrowing Transaction) throws {
        try txn.put(Self.key(invoice: invoice), encoded(), in: store.corrections)
    }

    /// The summed deltas of `lines` for one line item (zeros when it has none).
    package static func sum(_ lines: [CorrectionLine], of lineItem: String) -> Totals {
        lines.first { $0.lineItemID == lineItem }?.delta ?? Totals()
    }

    /// Adds `lines` into `into`, keeping one line per line item in byte order of ids.
    package static func add(_ lines: [CorrectionLine], into: inout [CorrectionLine]) {
        for line in lines {
            if let i = into.firstIndex(where: { $0.lineItemID == line.lineItemID }) {
                into[i].delta += line.delta
            } else {
                let at = into.firstIndex { line.lineItemID.utf8Precedes($0.lineItemID) } ?? into.count
                into.insert(line, at: at)
            }
        }
    }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + (issued.count + rejected.count) * 48)
        w.uvarint(1 as UInt64)
        w.string(invoiceID)
        w.string(customerID)
        w.uvarint(UInt64(acted))
        w.uvarint(UInt64(issuedCount))
        for lines in [issued, rejected] {
            w.uvarint(lines.count)
            for line in lines {
                w.string(line.lineItemID)
                w.totals(line.delta)
            }
        }
        w.bool(proposal != nil)
        if let proposal { w.bytes.append(contentsOf: proposal.encoded()) }
        return w.bytes
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        guard try r.uvarint() == 1 else { throw StoreCorruption("unknown correction ledger version") }
        invoiceID = try r.string()
        customerID = try r.string()
        guard let a = UInt32(exactly: try r.uvarint()), let i = UInt32(exactly: try r.uvarint()), i <= a else {
            throw StoreCorruption("correction ledger of \(invoiceID) counts out of range")
        }
        acted = a
        issuedCount = i
        for which in 0..<2 {
            var lines: [CorrectionLine] = []
            for _ in 0..<(try r.count()) {
                lines.append(CorrectionLine(lineItemID: try r.string(), delta: try r.totals()))
            }
            if which == 0 { issued = lines } else { rejected = lines }
        }
        if try r.bool() {
            let p = try Correction(reading: &r)
            guard p.status == .proposed, p.number == acted + 1 else {
                throw StoreCorruption(
                    "correction ledger of \(invoiceID) holds a proposal numbered \(p.number) after \(acted)")
            }
            proposal = p
        }
        guard r.isAtEnd else { throw StoreCorruption("correction ledger has trailing bytes") }
    }
}

extension ByteWriter {
    mutating func totals(_ t: Totals) {
        decimal(t.quantity)
        decimal(t.subtotal)
        decimal(t.credits)
        decimal(t.commits)
    }
}

extension ByteReader {
    mutating func totals() throws(StoreCorruption) -> Totals {
        var t = Totals()
        t.quantity = try decimal()
        t.subtotal = try decimal()
        t.credits = try decimal()
        t.commits = try decimal()
        return t
    }
}
