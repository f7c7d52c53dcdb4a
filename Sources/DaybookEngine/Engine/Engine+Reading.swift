import DaybookCore
import DaybookOutput
import DaybookStore
import Dispatch
import LMDB
import Synchronization

extension Engine {
    // MARK: Reading

    /// Runs `body` on the live state materialized through `day`, in a transaction that is
    /// rolled back afterwards: reads never change the store, yet see every invoice that has
    /// begun by then (fixed fees and draw-down included).
    func withLiveView<R>(through day: Day, _ body: (borrowing Transaction, EngineState) throws -> R) throws -> R {
        let store = self.store
        let plan = self.plan
        return try store.env.scratchWrite { txn in
            var state = try EngineState.load(store, txn)
            let ws = WorkingSet(store: store, plan: plan)
            try advanceHorizon(ws, &state, to: day, txn)
            try ws.flush(txn, seq: state.lastSeq)
            return try body(txn, state)
        }
    }

    /// Loads every materialized invoice of the plan's contracts, ordered by invoice id.
    func loadInvoices(_ txn: borrowing Transaction) throws -> [(
        key: [UInt8], id: String, contract: ContractPlan, state: InvoiceState
    )] {
        var result: [(key: [UInt8], id: String, contract: ContractPlan, state: InvoiceState)] = []
        for contract in plan.contracts.values {
            try txn.scan(in: store.invoices, prefix: Keys.invoicePrefix(contract: contract.contract.id)) { key, value in
                let state = try InvoiceState(decoding: value)
                result.append((key, contract.contract.invoiceID(state.period), contract, state))
                return true
            }
        }
        return result.sorted { $0.id.utf8Precedes($1.id) }
    }
}

