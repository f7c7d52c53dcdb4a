import DaybookEngine
import Foundation

/// The tables of schema `invoice_breakdown` (SPEC §5 `--postgres`): their columns, SQL types and
/// keys, and the DDL that makes them.
///
/// Text columns collate `"C"`, so `ORDER BY` and the primary-key indexes order strings as UTF-8
/// bytes, as the CSV export does. Numerics are unconstrained `numeric`: a value keeps the scale it
/// was loaded with (`'1.50'` reads back `1.50`), so amounts print with the currency's decimals.
public enum WarehouseSchema {
    /// The schema the readers query.
    public static let name = "invoice_breakdown"
    /// The schema a full export loads into, inside its transaction (never visible to others).
    static let loadName = "invoice_breakdown_load"
    /// Written as the schema's comment; a schema with another comment is not ours to replace.
    static let marker = "daybook warehouse schema 1"
    /// `pg_advisory_xact_lock` key held by every export: one export at a time per database.
    static let lockKey: Int64 = 0x6461_7962_6f6f_6b31  // "daybook1"

    /// A column's SQL type.
    public enum ColumnType: Sendable {
        case text, date, numeric, bigint, timestamptz, textArray, integerArray
        var sql: String {
            switch self {
            case .text: "text COLLATE \"C\""
            case .date: "date"
            case .numeric: "numeric"
            case .bigint: "bigint"
            case .timestamptz: "timestamptz"
            case .textArray: "text[] COLLATE \"C\""
            case .integerArray: "integer[]"
            }
        }
    }

    /// One table: its columns in order, the primary key, and which columns may be null.
    public struct TableDefinition: Sendable {
        public var name: String
        public var columns: [(name: String, type: ColumnType)]
        public var key: [String]
        public var nullable: Set<String> = []

        /// `CREATE TABLE schema.name (…)` without the primary key (added after the bulk load).
        func create(in schema: String, temporary: Bool = false) -> String {
            let cols = columns.map { c in
                "\(quoted(c.name)) \(c.type.sql)\(nullable.contains(c.name) ? "" : " NOT NULL")"
            }
            let target = temporary ? quoted(name) : "\(quoted(schema)).\(quoted(name))"
            return "CREATE \(temporary ? "TEMP " : "")TABLE \(target) (\(cols.joined(separator: ", ")))"
                + (temporary ? " ON COMMIT DROP" : "")
        }

        func addPrimaryKey(in schema: String) -> String {
            "ALTER TABLE \(quoted(schema)).\(quoted(name)) ADD CONSTRAINT \(quoted(name + "_pkey")) PRIMARY KEY ("
                + key.map(quoted).joined(separator: ", ") + ")"
        }

        public var columnNames: [String] { columns.map(\.name) }
    }

    static func breakdown(_ name: String, _ columns: [String], key: [String]) -> TableDefinition {
        let dates: Set = ["period_start", "period_end", "day"]
        let numerics: Set = [
            "subtotal", "credits_applied", "commits_applied", "total", "quantity", "unit_price", "opening", "drawn",
            "closing",
        ]
        return TableDefinition(
            name: name,
            columns: columns.map { ($0, dates.contains($0) ? .date : numerics.contains($0) ? .numeric : .text) }
                + [("changed_seq", .bigint)],
            key: key)
    }

    public static let invoices = breakdown("invoices", BreakdownExport.invoiceColumns, key: ["invoice_id", "day"])
    public static let lineItems = breakdown(
        "line_items", BreakdownExport.lineItemColumns, key: ["invoice_id", "line_item_id", "day"])
    public static let balances = breakdown("balances", BreakdownExport.balanceColumns, key: ["balance_id", "day"])

    /// Open drift (SPEC §4 keys): values as in `discrepancies`, causes as columns.
    public static let drift = TableDefinition(
        name: "drift",
        columns: [
            ("invoice_id", .text), ("customer_id", .text), ("line_item_id", .text),
            ("finalized_quantity", .numeric), ("finalized_subtotal", .numeric),
            ("finalized_credits_applied", .numeric), ("finalized_commits_applied", .numeric),
            ("finalized_total", .numeric),
            ("current_quantity", .numeric), ("current_subtotal", .numeric), ("current_credits_applied", .numeric),
            ("current_commits_applied", .numeric), ("current_total", .numeric), ("delta_total", .numeric),
            ("first_detected_seq", .bigint), ("last_changed_seq", .bigint),
            ("first_detected_at", .timestamptz), ("last_changed_at", .timestamptz),
            ("late_event_count", .bigint), ("late_transaction_ids", .textArray), ("via_invoices", .textArray),
            ("catalog_versions", .integerArray),
        ],
        key: ["invoice_id", "line_item_id"])

    /// SPEC §4 `corrections.csv` columns (``Engine/correctionColumns``): every correction, one row per
    /// line item; `issued_at` null unless issued.
    public static let corrections = TableDefinition(
        name: "corrections",
        columns: [
            ("correction_id", .text), ("invoice_id", .text), ("customer_id", .text), ("kind", .text),
            ("status", .text), ("line_item_id", .text), ("quantity_delta", .numeric), ("subtotal_delta", .numeric),
            ("credits_delta", .numeric), ("commits_delta", .numeric), ("total_delta", .numeric),
            ("proposed_seq", .bigint), ("issued_at", .timestamptz),
        ],
        key: ["correction_id", "line_item_id"], nullable: ["issued_at"])

    /// The tables a full export replaces, in load order.
    static let replaced = [invoices, lineItems, balances, drift, corrections]

    /// One row per export, kept across full exports.
    static let createExports = """
        CREATE TABLE IF NOT EXISTS "invoice_breakdown"."exports" (
          "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          "kind" text NOT NULL CHECK ("kind" IN ('full', 'incremental')),
          "as_of" date NOT NULL,
          "log_seq" bigint NOT NULL,
          "journal_position" bigint NOT NULL,
          "changed_since_position" bigint,
          "invoices_rows" bigint NOT NULL,
          "line_items_rows" bigint NOT NULL,
          "balances_rows" bigint NOT NULL,
          "drift_rows" bigint NOT NULL,
          "corrections_rows" bigint NOT NULL,
          "rows_written" bigint NOT NULL,
          "rows_deleted" bigint NOT NULL,
          "exported_at" timestamptz NOT NULL,
          "duration" interval NOT NULL)
        """

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
