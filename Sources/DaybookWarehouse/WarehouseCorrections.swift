import DaybookEngine
import DaybookOutput

/// The rows of `invoice_breakdown.corrections`: ``Engine/correctionsTable(_:)``'s rows (those of
/// `corrections.csv` and `daybook corrections`), cells in ``WarehouseSchema/corrections``'s column
/// order, with an empty `issued_at` (a correction not issued) loaded as null.
public struct WarehouseCorrections: Sendable, Hashable {
    /// One row per correction × line item, SQL text form; nil is null.
    public var rows: [[String?]]

    /// No corrections.
    public init() { rows = [] }

    /// The rows of `table`, which has the columns of ``Engine/correctionColumns``.
    public init(table: Table) {
        precondition(
            table.columns == WarehouseSchema.corrections.columnNames,
            "corrections table columns \(table.columns), warehouse \(WarehouseSchema.corrections.columnNames)")
        let issuedAt = table.columns.firstIndex(of: "issued_at")!
        rows = table.rows.map { row in
            row.enumerated().map { i, cell in i == issuedAt && cell.isEmpty ? nil : cell }
        }
    }
}

extension Engine {
    /// The corrections of `export` (every one, proposed, issued, rejected) as the warehouse loads
    /// them (`invoice_breakdown.corrections`).
    public func warehouseCorrections(_ export: WarehouseExport) -> WarehouseCorrections {
        WarehouseCorrections(table: correctionsTable(export.corrections))
    }
}
