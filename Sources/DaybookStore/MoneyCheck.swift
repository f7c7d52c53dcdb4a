import DaybookCore
import LMDB

/// Amounts read back from the store have at most the currency's decimals (they are rounded
/// before they are stored). A damaged record whose amount has more would otherwise trap where
/// it is formatted (`FixedDecimal.formatted(decimals:)`): these checks make it damage instead.
extension FixedDecimal {
    /// Whether the value has at most `decimals` fractional digits (a multiple of 10^(scale − decimals)).
    package func fits(decimals: Int) -> Bool {
        guard decimals < Self.scale else { return true }
        let step = Self.steps[Self.scale - max(0, decimals)]
        // Most amounts fit in 64 bits, where the remainder is one machine division.
        if let small = Int64(exactly: raw) { return small % step == 0 }
        return raw % Int128(step) == 0
    }

    /// 10^k for k in 0...scale.
    private static let steps: [Int64] = (0...scale).map { k in (0..<k).reduce(1) { r, _ in r * 10 } }
}

extension Totals {
    /// Whether subtotal, credits and commits fit `decimals` fractional digits (quantity may have more).
    package func moneyFits(_ decimals: Int) -> Bool {
        subtotal.fits(decimals: decimals) && credits.fits(decimals: decimals) && commits.fits(decimals: decimals)
    }
}

extension Snapshot {
    /// The snapshot stored under invoice `key`, its amounts checked against `decimals`; nil when none.
    package static func load(_ key: [UInt8], _ store: Store, decimals: Int, _ txn: borrowing Transaction) throws
        -> Snapshot?
    {
        guard let bytes = try txn.get(key, in: store.snapshots) else { return nil }
        let snapshot = try Snapshot(decoding: bytes)
        try snapshot.checkMoney(decimals: decimals)
        return snapshot
    }

    /// Throws when an amount of the snapshot has more than `decimals` fractional digits.
    package func checkMoney(decimals: Int) throws(StoreCorruption) {
        for line in lines where !line.totals.moneyFits(decimals) {
            throw StoreCorruption("snapshot of \(invoiceID): an amount of \(line.lineItemID) has more than \(decimals) decimals")
        }
    }
}

extension DriftRecord {
    /// Throws when an amount of the record has more than `decimals` fractional digits.
    package func checkMoney(decimals: Int) throws(StoreCorruption) {
        guard finalized.moneyFits(decimals), current.moneyFits(decimals) else {
            throw StoreCorruption("drift record of \(invoiceID) \(lineItemID): an amount has more than \(decimals) decimals")
        }
    }
}

extension InvoiceState {
    /// Throws when a cumulative amount, credit, commit or closing balance has more than
    /// `decimals` fractional digits.
    package func checkMoney(decimals: Int) throws(StoreCorruption) {
        func fit(_ array: [FixedDecimal]) -> Bool { array.allSatisfy { $0.fits(decimals: decimals) } }
        for item in lineItems where !(fit(item.cumAmount) && fit(item.credits) && fit(item.commits)) {
            throw StoreCorruption(
                "invoice of \(contractID) from \(period.start): an amount of \(item.id) has more than \(decimals) decimals")
        }
        for row in closing where row.contains(where: { !$0.fits(decimals: decimals) }) {
            throw StoreCorruption(
                "invoice of \(contractID) from \(period.start): a balance has more than \(decimals) decimals")
        }
    }
}
