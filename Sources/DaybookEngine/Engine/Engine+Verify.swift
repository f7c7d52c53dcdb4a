import DaybookCore
import DaybookOutput
import DaybookStore
import LMDB

/// One difference between the materialized breakdown and a rebuild from the log.
public struct Mismatch: Sendable, Hashable, CustomStringConvertible {
    public var invoiceID: String
    /// The line item, or nil when the whole invoice is missing on one side.
    public var lineItemID: String?
    public var day: Day?
    public var detail: String
    public var description: String {
        "\(invoiceID)" + (lineItemID.map { " \($0)" } ?? "") + (day.map { " \($0)" } ?? "") + ": \(detail)"
    }
}

extension Engine {
    /// Rebuilds every invoice from the log and the catalog in force into a scratch store, and
    /// compares it with the materialized state (SPEC §6 `replay --verify`). Returns every mismatch.
    ///
    /// The rebuild applies the logged events in log order through the same pricing code but
    /// none of the incremental state: no early cutoff carries over, every invoice starts empty.
    public func verify(scratchDirectory: String) throws -> [Mismatch] {
        let scratch = try Store(path: scratchDirectory, durable: false)
        let store = self.store
        let plan = self.plan
        let state = try store.env.read { txn in try EngineState.load(store, txn) }
        let horizon = state.horizon ?? Day(number: 0)
        try scratch.env.write { stxn in
            let ws = WorkingSet(store: scratch, plan: plan)
            for contract in plan.contracts.values { try ws.materialize(contract, through: horizon, stxn) }
            try store.env.read { txn in
                try txn.scan(in: store.log) { key, value in
                    let event = try LoggedEvent(seq: Keys.seq(from: key, in: "log key"), decoding: value).event()
                    try ws.apply(event, outcomes: plan.outcomes(for: event), stxn)
                    return true
                }
            }
            try ws.flush(stxn, seq: state.lastSeq)
        }
        var mismatches: [Mismatch] = []
        try store.env.read { txn in
            try scratch.env.read { stxn in
                for contract in plan.contracts.values.sorted(by: { $0.contract.id.utf8Precedes($1.contract.id) }) {
                    var live: [[UInt8]: InvoiceState] = [:]
                    try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: contract.contract.id)) {
                        k, v in
                        live[k] = try InvoiceState(decoding: v)
                        return true
                    }
                    try stxn.scan(in: scratch.invoices, prefix: Keys.invoicePrefix(contract: contract.contract.id)) {
                        k, v in
                        let rebuilt = try InvoiceState(decoding: v)
                        let id = contract.contract.invoiceID(rebuilt.period)
                        guard let materialized = live.removeValue(forKey: k) else {
                            mismatches.append(Mismatch(invoiceID: id, detail: "missing from the materialized state"))
                            return true
                        }
                        mismatches += Engine.compare(materialized, rebuilt, id: id)
                        return true
                    }
                    for state in live.values {
                        mismatches.append(
                            Mismatch(
                                invoiceID: contract.contract.invoiceID(state.period),
                                detail: "materialized but absent from the rebuild"))
                    }
                }
            }
        }
        return mismatches
    }

    static func compare(_ a: InvoiceState, _ b: InvoiceState, id: String) -> [Mismatch] {
        var out: [Mismatch] = []
        if a.period != b.period {
            out.append(Mismatch(invoiceID: id, detail: "materialized period \(a.period) vs rebuilt \(b.period)"))
        }
        let ids = Set(a.lineItems.map(\.id)).union(b.lineItems.map(\.id)).sorted { $0.utf8Precedes($1) }
        for item in ids {
            guard let i = a.index(ofLineItem: item), let j = b.index(ofLineItem: item) else {
                out.append(
                    Mismatch(
                        invoiceID: id, lineItemID: item,
                        detail: a.index(ofLineItem: item) == nil
                            ? "line item missing from the materialized state" : "line item absent from the rebuild"))
                continue
            }
            let x = a.lineItems[i], y = b.lineItems[j]
            for k in 0..<min(a.dayCount, b.dayCount)
            where x.daily[k] != y.daily[k] || x.cumQuantity[k] != y.cumQuantity[k]
                || x.cumAmount[k] != y.cumAmount[k] || x.credits[k] != y.credits[k] || x.commits[k] != y.commits[k]
            {
                out.append(
                    Mismatch(
                        invoiceID: id, lineItemID: item, day: a.period.start.adding(days: k),
                        detail:
                            "materialized Q=\(x.cumQuantity[k]) A=\(x.cumAmount[k]) credits=\(x.credits[k]) commits=\(x.commits[k]); "
                            + "rebuilt Q=\(y.cumQuantity[k]) A=\(y.cumAmount[k]) credits=\(y.credits[k]) commits=\(y.commits[k])"
                    ))
            }
        }
        for k in 0..<min(a.dayCount, b.dayCount) where a.closing[k] != b.closing[k] {
            out.append(
                Mismatch(
                    invoiceID: id, day: a.period.start.adding(days: k),
                    detail: "balance closing \(a.closing[k]) vs rebuilt \(b.closing[k])"))
        }
        return out
    }

    /// Whether an event with this `transaction_id` is in the log.
    public func isLogged(transactionID: String) throws -> Bool {
        let store = self.store
        return try store.env.read { txn in try txn.contains(Array(transactionID.utf8), in: store.transactions) }
    }
}
