import DaybookCore
import DaybookStore
import LMDB

extension Engine {
    // MARK: Inspection (tests)

    /// Every materialized invoice as stored (the committed state, nothing materialized for the
    /// read), ordered by contract id then period start. For invariant checks in tests.
    package func materializedInvoices() throws -> [InvoiceState] {
        let store = self.store
        var result: [InvoiceState] = []
        try store.env.read { txn in
            try txn.scan(in: store.invoices) { _, value in
                result.append(try InvoiceState(decoding: value))
                return true
            }
        }
        return result.sorted {
            $0.contractID != $1.contractID
                ? $0.contractID.utf8Precedes($1.contractID) : $0.period.start < $1.period.start
        }
    }
}
