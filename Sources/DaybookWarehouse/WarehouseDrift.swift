import DaybookCore
import DaybookEngine
import DaybookStore

/// The rows of `invoice_breakdown.drift`: open drift records (SPEC §4) as the `discrepancies`
/// report gives them, values formatted as there, causes as array columns.
public struct WarehouseDrift: Sendable, Hashable {
    /// One row per record, cells in ``WarehouseSchema/drift``'s column order, SQL text form.
    public var rows: [[String]]

    /// ``rows`` as ``Warehouse`` copies them (none is null).
    var cells: [[String?]] { rows.map { $0.map(Optional.some) } }

    /// No drift.
    public init() { rows = [] }

    /// The rows of `records` (sorted as `discrepancies` sorts them); amounts with at least
    /// `currencyDecimals` fractional digits, as `daybook discrepancies` prints them.
    public init(records: [DriftRecord], currencyDecimals d: Int) {
        rows = records.map { r in
            var row = [r.invoiceID, r.customerID, r.lineItemID]
            for t in [r.finalized, r.current] {
                row += [
                    t.quantity.canonical, t.subtotal.formatted(atLeast: d), t.credits.formatted(atLeast: d),
                    t.commits.formatted(atLeast: d), t.total.formatted(atLeast: d),
                ]
            }
            return row + [
                r.deltaTotal.formatted(atLeast: d), "\(r.firstDetectedSeq)", "\(r.lastChangedSeq)",
                "\(r.firstDetectedAt)", "\(r.lastChangedAt)", "\(r.lateEventCount)",
                SQLText.textArray(r.lateTransactionIDs), SQLText.textArray(r.viaInvoices),
                SQLText.integerArray(r.catalogVersions),
            ]
        }
    }
}

extension Engine {
    /// The open drift of `export` as the warehouse loads it (`invoice_breakdown.drift`).
    public func warehouseDrift(_ export: WarehouseExport) -> WarehouseDrift {
        WarehouseDrift(records: export.drift, currencyDecimals: catalog?.currencyDecimals ?? 2)
    }
}
