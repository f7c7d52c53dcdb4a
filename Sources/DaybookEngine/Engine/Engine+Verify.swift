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

/// Points inside a verify where a test interleaves other work.
enum VerifyPoint: Sendable, Hashable {
    /// The snapshot is open and its engine state and catalog version have been read.
    case snapshotTaken
    /// The scratch store holds the rebuild; the comparison comes next.
    case rebuilt
}

extension Engine {
    /// Rebuilds every invoice from the log and the catalog in force into a scratch store, and
    /// compares it with the materialized state (SPEC §6 `replay --verify`). Returns every mismatch.
    ///
    /// The rebuild applies the logged events in log order through the same pricing code but
    /// none of the incremental state: no early cutoff carries over, every invoice starts empty.
    ///
    /// Everything is read from ONE read transaction of the store (a consistent snapshot): the
    /// engine state, the catalog version in force in it (also when another process applied it
    /// after this engine loaded its plan), the log and the materialized invoices. Writers that
    /// commit meanwhile, in this process or another, neither wait for it nor show in it, so they
    /// never cause a mismatch. The snapshot stays open until the comparison ends: while it is,
    /// LMDB cannot reuse pages that later commits free (the file may grow during a long verify),
    /// and a writer in this process that must grow the map waits for it (up to its growth timeout).
    ///
    /// The scratch store goes into a new private directory under the system temporary directory
    /// (`$TMPDIR`, else /tmp; made by `mkdir` under a random name, mode 0700), removed before this returns or throws.
    ///
    /// The log is streamed in sequence order and parsed on every core (``LogStream``); the scratch
    /// store is written in one unsynced transaction. `progress` is called after each chunk.
    public func verify(progress: ((ReplayProgress) -> Void)? = nil) throws -> [Mismatch] {
        let scratch = try ScratchDirectory(prefix: "daybook-verify-")
        defer { scratch.remove() }
        // The scratch store is opened and released inside this call, before the directory goes.
        return try verify(scratchDirectory: scratch.path, progress: progress) { _ in }
    }

    /// ``verify()`` into `scratchDirectory`, which must be missing or empty (a store left there by
    /// an earlier run would be added to); the caller removes it afterwards.
    public func verify(scratchDirectory: String) throws -> [Mismatch] {
        try verify(scratchDirectory: scratchDirectory, progress: nil) { _ in }
    }

    /// - Parameter point: called at each ``VerifyPoint`` (tests interleave other writers there).
    func verify(
        scratchDirectory: String, progress: ((ReplayProgress) -> Void)? = nil, at point: (VerifyPoint) throws -> Void
    ) throws -> [Mismatch] {
        try ScratchDirectory.requireEmpty(scratchDirectory)
        let scratch = try Store(path: scratchDirectory, durable: false)
        let store = self.store
        // ONE read transaction of the live store: the engine state, the catalog version in force,
        // the log and the materialized invoices are all of the same snapshot, whatever other
        // threads or processes commit meanwhile (MVCC: they neither wait for it nor show in it).
        // The rebuild is written meanwhile to the scratch store, another environment: its write
        // (and its map growth, which waits only for the scratch environment's own readers) runs
        // inside this read on the same thread.
        return try store.env.read { txn in
            let state = try EngineState.load(store, txn)
            try refreshPlan(state, txn)  // another process may have applied a catalog version
            let plan = self.plan
            let horizon = state.horizon ?? Day(number: 0)
            try point(.snapshotTaken)
            try scratch.env.write { stxn in
                let ws = WorkingSet(store: scratch, plan: plan)
                for contract in plan.contracts.values { try ws.materialize(contract, through: horizon, stxn) }
                var done: UInt64 = 0
                if state.lastSeq > 0 {
                    try LogStream.forEachChunk(store, txn, seqs: 1...state.lastSeq, plan: plan) { chunk in
                        for e in chunk { try ws.apply(e.event, outcomes: e.outcomes, stxn) }
                        done += UInt64(chunk.count)
                        progress?(ReplayProgress(events: done, totalEvents: state.lastSeq))
                    }
                }
                try ws.flush(stxn, seq: state.lastSeq)
            }
            try point(.rebuilt)
            return try scratch.env.read { stxn in
                try compare(plan, txn, scratch, stxn) + proposalMismatches(plan, txn, scratch, stxn)
            }
        }
    }

    /// Every mismatch between the invoices of `plan`'s contracts in the live snapshot `txn` and
    /// in the rebuild `stxn`, by contract id, then invoice, line item and day.
    private func compare(
        _ plan: PricingPlan, _ txn: borrowing Transaction, _ scratch: Store, _ stxn: borrowing Transaction
    ) throws -> [Mismatch] {
        var mismatches: [Mismatch] = []
        for contract in plan.contracts.values.sorted(by: { $0.contract.id.utf8Precedes($1.contract.id) }) {
            let prefix = Keys.invoicePrefix(contract: contract.contract.id)
            var live: [[UInt8]: InvoiceState] = [:]
            try txn.scan(in: store.invoices, prefix: prefix) { k, v in
                live[k] = try InvoiceState(decoding: v)
                return true
            }
            try stxn.scan(in: scratch.invoices, prefix: prefix) { k, v in
                let rebuilt = try InvoiceState(decoding: v)
                let id = contract.contract.invoiceID(rebuilt.period)
                guard let materialized = live.removeValue(forKey: k) else {
                    mismatches.append(Mismatch(invoiceID: id, detail: "missing from the materialized state"))
                    return true
                }
                mismatches += Engine.compare(materialized, rebuilt, id: id)
                return true
            }
            for (_, state) in live.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                mismatches.append(
                    Mismatch(
                        invoiceID: contract.contract.invoiceID(state.period),
                        detail: "materialized but absent from the rebuild"))
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
