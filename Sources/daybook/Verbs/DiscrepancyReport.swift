import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload

/// Prints open drift for people: a summary per customer, then one row per drifted line item
/// (long cause lists cut to 40 characters; `--invoice ID --causes` lists them all).
func printDiscrepancyReport(_ engine: Engine, _ records: [DriftRecord], causes: Bool) {
    print(
        TableWriter.text(
            engine.discrepancySummary(records), rightAligned: ["drifted_invoices", "drifted_line_items", "delta_total"])
    )
    // After an issued correction, what was billed (drift is measured against it) beside the snapshot.
    let billed = Engine.showsBilled(records) ? ["billed_total"] : []
    let numbers =
        ["finalized_quantity", "current_quantity", "finalized_total"] + billed + ["current_total", "delta_total"]
    let causeColumns = ["late_event_count", "late_transaction_ids", "via_invoices"]
    let columns = ["invoice_id", "line_item_id"] + numbers + (causes ? causeColumns : [])
    let table = engine.discrepanciesTable(records).projected(columns, maxCellWidth: 40)
    print(TableWriter.text(table, rightAligned: Set(numbers + ["late_event_count"])), terminator: "")
}
