import DaybookCore
import DaybookOutput
import DaybookStore
import Dispatch
import LMDB
import Synchronization

extension Engine {
    // MARK: Catalog

    /// Validates and stores a new catalog version, then recomputes exactly the contracts whose
    /// billing it changes (SPEC §2 "Catalog changes"): their invoices are rebuilt from the log;
    /// finalization snapshots are never touched.
    ///
    /// - Throws: ``CatalogError`` (nothing is changed) or a store error.
    @discardableResult
    public func applyCatalog(_ document: [UInt8], now: Timestamp) throws -> CatalogChange {
        let catalog = try Catalog.parse(document)
        let store = self.store
        let result: (PricingPlan, CatalogChange) = try transaction(now: now) { txn, ws, state in
            let old = ws.plan  // the version stored now, also when another process applied it
            let version = state.catalogVersion + 1
            try txn.put(
                Keys.version(version),
                CatalogVersion(version: version, appliedAt: now, afterSeq: state.lastSeq, document: document).encoded(),
                in: store.catalogs)
            let new = PricingPlan(catalog: catalog, version: version)
            var change = CatalogChange(version: version)
            var dropped: [String: [([UInt8], InvoiceState)]] = [:]
            for (id, contract) in old.contracts.sorted(by: { $0.key.utf8Precedes($1.key) })
            where new.contracts[id]?.fingerprint != contract.fingerprint {
                dropped[id] = try dropInvoices(ofContract: id, txn)
                if new.contracts[id] == nil { change.removed.append(id) }
            }
            ws.plan = new
            ws.previousPlan = old
            // Rebuilt invoices are compared with the dropped ones when they are stamped.
            for (_, invoices) in dropped { for (key, state) in invoices { ws.carryOver[key] = state } }
            ws.drift?.catalogVersion = version
            let horizon = max(state.horizon ?? now.day, now.day)
            for (id, contract) in new.contracts.sorted(by: { $0.key.utf8Precedes($1.key) }) {
                // Every contract, changed or not, gets the periods begun by the (possibly later) horizon.
                try ws.materialize(contract, through: horizon, txn)
                guard old.contracts[id]?.fingerprint != contract.fingerprint else { continue }
                if old.contracts[id] == nil { change.added.append(id) } else { change.changed.append(id) }
                try rebuild(contract, ws, txn)
            }
            if new.catalog.currency != old.catalog.currency {
                // `currency` is a column of every invoices row, and not part of any fingerprint.
                for (id, contract) in new.contracts where dropped[id] == nil {
                    try ws.loadInvoices(of: contract, txn)
                }
            }
            var tombstones = RemovedRowsWriter(store: store, position: ws.position)
            for (id, invoices) in dropped.sorted(by: { $0.key.utf8Precedes($1.key) }) {
                try tombstones.record(old: old.contracts[id]!, dropped: invoices, new: new.contracts[id], ws, txn)
            }
            // Finalized invoices whose period no longer exists (contract removed, anchor or dates
            // changed) have no live breakdown any more: they drift to zero.
            for (_, invoices) in dropped.sorted(by: { $0.key.utf8Precedes($1.key) }) {
                for (key, _) in invoices where ws.entries[key] == nil {
                    guard let snapshot = try txn.get(key, in: store.snapshots).map({ try Snapshot(decoding: $0) })
                    else { continue }
                    try ws.recordCatalogCause(invoice: key, version: version, txn)
                    try ws.updateDrift(key: key, state: nil, snapshot: snapshot, ws.drift!, txn)
                }
            }
            if new.catalog.correctionThreshold != old.catalog.correctionThreshold {
                try ws.refreshProposals(skipping: Set(dropped.keys), ws.drift!, txn)
            }
            state.horizon = horizon
            state.catalogVersion = version
            change.eventsReread = ws.counters.eventsReread
            return ((new, change), .catalog(version: version))
        }
        plan = result.0
        return result.1
    }

    /// Deletes the materialized invoices of a contract (not its snapshots).
    @discardableResult
    func dropInvoices(ofContract id: String, _ txn: borrowing Transaction) throws -> [([UInt8], InvoiceState)] {
        var keys: [([UInt8], InvoiceState)] = []
        try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: id)) { key, value in
            keys.append((key, try InvoiceState(decoding: value)))
            return true
        }
        for (key, state) in keys {
            try txn.delete(key, in: store.invoices)
            try txn.delete(Keys.changedInvoice(position: state.stamps.last, invoice: key), in: store.changedInvoices)
            try txn.delete(Keys.openInvoice(end: state.period.end, invoice: key), in: store.openInvoices)
            var distinct: [[UInt8]] = []
            try txn.scan(in: store.distinct, prefix: Keys.distinctPrefix(invoice: key)) { k, _ in
                distinct.append(k)
                return true
            }
            for k in distinct { try txn.delete(k, in: store.distinct) }
        }
        return keys
    }

    /// Re-applies the logged events of the contract's customer inside its range.
    func rebuild(_ contract: ContractPlan, _ ws: WorkingSet, _ txn: borrowing Transaction) throws {
        let c = contract.contract
        var seqs: [UInt64] = []
        let prefix = Keys.customerPrefix(c.customerID)
        try txn.scan(in: store.byDay, prefix: prefix) { key, value in
            if c.covers(try Keys.day(from: key, at: prefix.count, in: "by_day key")) {
                seqs += try Keys.daySeqs(key: key, prefixCount: prefix.count + 4, value: value)
            }
            return true
        }
        // In log order, as the events were ingested (the result does not depend on it).
        seqs.sort()
        for seq in seqs {
            guard let bytes = try txn.get(Keys.seq(seq), in: store.log) else {
                throw StoreCorruption("index names missing log entry \(seq)")
            }
            let event = try LoggedEvent(seq: seq, decoding: bytes).event()
            ws.counters.eventsReread += 1
            try ws.apply(event, outcomes: ws.plan.outcomes(for: event), txn)
        }
    }

}

extension Catalog {
    /// A catalog with nothing in it (before the first `catalog apply`).
    static let empty = Catalog(
        currency: "USD", currencyDecimals: 2, maxLatenessDays: 34, finalizationGraceHours: 24,
        metrics: [:], products: [:], rateCards: [:], customers: [])
}

/// What a catalog version changed.
public struct CatalogChange: Sendable, Hashable {
    public var version: UInt32
    public var added: [String] = []
    public var changed: [String] = []
    public var removed: [String] = []
    public var eventsReread: UInt64 = 0
}
