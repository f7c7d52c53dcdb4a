import DaybookCore
import DaybookOutput
import DaybookStore
import Dispatch
import LMDB
import Synchronization

extension Engine {
    // MARK: Reading

    /// Runs `body` on the live state materialized through `day`, in an LMDB read transaction
    /// (MVCC): it sees the last committed state and never waits for, or blocks, a writer in this
    /// process or another. Periods no write has materialized yet (fixed fees, draw-down into
    /// periods after the last write) are computed in memory over the read snapshot and never
    /// written. A catalog version applied by another process since this engine loaded its plan
    /// is picked up first.
    func withLiveView<R>(through day: Day, _ body: (borrowing Transaction, LiveView) throws -> R) throws -> R {
        let store = self.store
        return try store.env.read { txn in
            var state = try EngineState.load(store, txn)
            try refreshPlan(state, txn)
            let ws = WorkingSet(store: store, plan: plan, overlay: true)
            try advanceHorizon(ws, &state, to: day, txn)
            try ws.settle(txn)
            return try body(txn, LiveView(ws: ws, state: state))
        }
    }

    /// Every invoice of the plan's contracts in the view (stored or computed in memory), or of one
    /// customer's contracts, ordered by invoice id.
    func loadInvoices(_ txn: borrowing Transaction, _ view: LiveView, customer: String? = nil) throws -> [(
        key: [UInt8], id: String, contract: ContractPlan, state: InvoiceState
    )] {
        var result: [(key: [UInt8], id: String, contract: ContractPlan, state: InvoiceState)] = []
        for contract in customer.map({ view.plan.byCustomer[$0] ?? [] }) ?? Array(view.plan.contracts.values) {
            var seen = Set<[UInt8]>()
            try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: contract.contract.id)) { key, value in
                let state: InvoiceState
                if let entry = view.ws.entries[key] {
                    state = entry.state
                } else {
                    state = try InvoiceState(decoding: value)
                    try contract.checkStored(state, key: key, decimals: view.plan.currencyDecimals)
                }
                seen.insert(key)
                result.append((key, contract.contract.invoiceID(state.period), contract, state))
                return true
            }
            // Periods begun after the last write: only in the view.
            for entry in view.ws.entries.values
            where entry.original == nil && entry.state.contractID == contract.contract.id && !seen.contains(entry.key) {
                result.append((entry.key, contract.contract.invoiceID(entry.state.period), contract, entry.state))
            }
        }
        return result.sorted { $0.id.utf8Precedes($1.id) }
    }
}

/// A read transaction's view of the live state: the stored invoices, plus those computed in
/// memory for periods no write has materialized yet.
final class LiveView {
    let ws: WorkingSet
    let state: EngineState
    var plan: PricingPlan { ws.plan }

    init(ws: WorkingSet, state: EngineState) {
        self.ws = ws
        self.state = state
    }

    /// Whether the invoice under `key` exists only in this view (a period no write has
    /// materialized): its rows carry no stamps and count as changed at the view's position.
    func isComputed(_ key: [UInt8]) -> Bool { ws.entries[key].map { $0.original == nil } ?? false }

    /// The invoice stored under `key`, as the view sees it; its amounts checked, and the whole
    /// record checked against `contract` (when the caller indexes it by the contract's days and
    /// balances). A stored one is decoded for `parts` only (``InvoiceState/init(decoding:parts:)``:
    /// fewer than `.all` is for reading only).
    func invoice(
        _ key: [UInt8], parts: InvoiceState.Parts = .all, contract: ContractPlan? = nil, _ txn: borrowing Transaction
    ) throws -> InvoiceState? {
        if let entry = ws.entries[key] { return entry.state }
        guard let bytes = try txn.get(key, in: ws.store.invoices) else { return nil }
        let state = try InvoiceState(decoding: bytes, parts: parts)
        if let contract {
            try contract.checkStored(state, key: key, decimals: plan.currencyDecimals)  // checks the money too
        } else {
            try state.checkMoney(decimals: plan.currencyDecimals)
        }
        return state
    }
}
