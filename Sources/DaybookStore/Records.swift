import DaybookCore

/// One entry of the event log: the raw event as received, when and from where.
public struct LoggedEvent: Sendable, Hashable {
    public var seq: UInt64
    /// Engine clock at ingest.
    public var ingestTime: Timestamp
    /// `file:PATH`, `stdin`, `nats:STREAM`, `http`, …
    public var source: String
    /// Position inside the source (`line 12`, `offset 4096`, `stream seq 77`).
    public var position: String
    /// The record's bytes exactly as received.
    public var raw: [UInt8]

    package func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count + source.utf8.count + 32)
        Self.encode(ingestTime: ingestTime, source: source, position: position, raw: raw, into: &bytes)
        return bytes
    }

    /// Appends the encoding of a log entry to `bytes` (what ``encoded()`` returns), without the
    /// entry or an array of its own: ingest lays a slice's entries end to end in one buffer.
    package static func encode(
        ingestTime: Timestamp, source: String, position: String, raw: [UInt8], into bytes: inout [UInt8]
    ) {
        var w = ByteWriter(capacity: 0)
        swap(&w.bytes, &bytes)
        defer { swap(&w.bytes, &bytes) }
        w.timestamp(ingestTime)
        w.string(source)
        w.string(position)
        w.blob(raw)
    }

    package init(seq: UInt64, ingestTime: Timestamp, source: String, position: String, raw: [UInt8]) {
        self.seq = seq
        self.ingestTime = ingestTime
        self.source = source
        self.position = position
        self.raw = raw
    }

    package init(seq: UInt64, decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        self.seq = seq
        ingestTime = try r.timestamp()
        source = try r.string()
        position = try r.string()
        raw = Array(try r.blob())
        guard r.isAtEnd else { throw StoreCorruption("log entry \(seq) has trailing bytes") }
    }

    /// The validated event of a stored log record, parsed from the record's bytes in place
    /// (no copy of the raw bytes, source or position): what a replay reads.
    package static func event(seq: UInt64, decoding bytes: [UInt8]) throws(StoreCorruption) -> UsageEvent {
        var r = ByteReader(bytes)
        _ = try r.timestamp()
        _ = try r.blob()  // source
        _ = try r.blob()  // position
        let raw = try r.blob()
        guard r.isAtEnd else { throw StoreCorruption("log entry \(seq) has trailing bytes") }
        switch UsageEvent.parse(raw) {
        case .success(let e): return e
        case .failure(let why): throw StoreCorruption("log entry \(seq) no longer validates: \(why)")
        }
    }

    /// The validated event (the log only holds valid events).
    package func event() throws(StoreCorruption) -> UsageEvent {
        switch UsageEvent.parse(raw[...]) {
        case .success(let e): return e
        case .failure(let why): throw StoreCorruption("log entry \(seq) no longer validates: \(why)")
        }
    }
}

/// A record that was not accepted into the log, with why, from where and when.
public struct DeadLetter: Sendable, Hashable {
    public var number: UInt64
    public var reason: DeadLetterReason
    public var field: String?
    public var message: String
    public var source: String
    public var position: String
    public var ingestTime: Timestamp
    public var raw: [UInt8]

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: raw.count + 96)
        w.string(reason.rawValue)
        w.string(field ?? "")
        w.string(message)
        w.string(source)
        w.string(position)
        w.timestamp(ingestTime)
        w.blob(raw)
        return w.bytes
    }

    package init(
        number: UInt64, reason: DeadLetterReason, field: String?, message: String, source: String,
        position: String, ingestTime: Timestamp, raw: [UInt8]
    ) {
        self.number = number
        self.reason = reason
        self.field = field
        self.message = message
        self.source = source
        self.position = position
        self.ingestTime = ingestTime
        self.raw = raw
    }

    package init(number: UInt64, decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        self.number = number
        guard let reason = DeadLetterReason(rawValue: try r.string()) else {
            throw StoreCorruption("unknown dead-letter reason")
        }
        self.reason = reason
        let f = try r.string()
        field = f.isEmpty ? nil : f
        message = try r.string()
        source = try r.string()
        position = try r.string()
        ingestTime = try r.timestamp()
        raw = Array(try r.blob())
        guard r.isAtEnd else { throw StoreCorruption("dead letter \(number) has trailing bytes") }
    }
}

/// A stored catalog version: the document and the log position from which it was in force.
package struct CatalogVersion: Sendable {
    package var version: UInt32
    package var appliedAt: Timestamp
    /// The last log sequence before this version took effect.
    package var afterSeq: UInt64
    package var document: [UInt8]

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: document.count + 32)
        w.timestamp(appliedAt)
        w.uvarint(afterSeq)
        w.blob(document)
        return w.bytes
    }

    package init(version: UInt32, appliedAt: Timestamp, afterSeq: UInt64, document: [UInt8]) {
        self.version = version
        self.appliedAt = appliedAt
        self.afterSeq = afterSeq
        self.document = document
    }

    package init(version: UInt32, decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        self.version = version
        appliedAt = try r.timestamp()
        afterSeq = try r.uvarint()
        document = Array(try r.blob())
        guard r.isAtEnd else { throw StoreCorruption("catalog version \(version) has trailing bytes") }
    }
}

/// The frozen state of a finalized invoice (SPEC §4). Never rewritten.
public struct Snapshot: Sendable, Hashable {
    public struct Line: Sendable, Hashable {
        public var lineItemID: String
        public var totals: Totals
        package init(lineItemID: String, totals: Totals) {
            self.lineItemID = lineItemID
            self.totals = totals
        }
    }
    public var invoiceID: String
    public var customerID: String
    public var contractID: String
    public var finalizedAt: Timestamp
    /// The log position the snapshot reflects.
    public var seq: UInt64
    public var lines: [Line]

    public var totals: Totals {
        var t = Totals()
        for line in lines { t += line.totals }
        return t
    }

    /// The snapshot of a line item, zeros when it had none.
    public func totals(of lineItem: String) -> Totals {
        lines.first { $0.lineItemID == lineItem }?.totals ?? Totals()
    }

    package func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + lines.count * 48)
        w.string(invoiceID)
        w.string(customerID)
        w.string(contractID)
        w.timestamp(finalizedAt)
        w.uvarint(seq)
        w.uvarint(lines.count)
        for line in lines {
            w.string(line.lineItemID)
            w.decimal(line.totals.quantity)
            w.decimal(line.totals.subtotal)
            w.decimal(line.totals.credits)
            w.decimal(line.totals.commits)
        }
        return w.bytes
    }

    package init(
        invoiceID: String, customerID: String, contractID: String, finalizedAt: Timestamp, seq: UInt64, lines: [Line]
    ) {
        self.invoiceID = invoiceID
        self.customerID = customerID
        self.contractID = contractID
        self.finalizedAt = finalizedAt
        self.seq = seq
        self.lines = lines
    }

    package init(decoding bytes: [UInt8]) throws(StoreCorruption) {
        var r = ByteReader(bytes)
        invoiceID = try r.string()
        customerID = try r.string()
        contractID = try r.string()
        finalizedAt = try r.timestamp()
        seq = try r.uvarint()
        let n = try r.count()
        lines = []
        for _ in 0..<n {
            let id = try r.string()
            var t = Totals()
            t.quantity = try r.decimal()
            t.subtotal = try r.decimal()
            t.credits = try r.decimal()
            t.commits = try r.decimal()
            lines.append(Line(lineItemID: id, totals: t))
        }
        guard r.isAtEnd else { throw StoreCorruption("snapshot of \(invoiceID) has trailing bytes") }
    }
}
