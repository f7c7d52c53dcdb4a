import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import Foundation

struct Corrections: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrections",
        abstract:
            "Credit notes and true-ups of finalized invoices, proposed from their drift: list, show, issue, reject.",
        discussion: """
            When late events or a catalog change move a finalized invoice away from what was billed \
            (its snapshot plus the corrections already issued for it), daybook proposes one correction \
            for it: a credit_note when the invoice now totals less than was billed, a true_up (a \
            supplementary invoice) when more; none while the drift is below the catalog's \
            correction_threshold. A proposal follows the drift until someone acts on it: `issue` freezes \
            it (what was billed moves by its amount), `reject` dismisses it (its amount is never \
            proposed again). Ids look like CONTRACT/YYYY-MM-DD/cN.
            """,
        subcommands: [List.self, Show.self, Issue.self, Reject.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every correction, one row per correction and line item.",
            discussion: """
                Columns: correction_id, invoice_id, customer_id, kind (credit_note or true_up), status \
                (proposed, issued or rejected), line_item_id, the quantity, subtotal, credits, commits and \
                total deltas against what was billed, proposed_seq (the log seq at which the proposal's \
                values last changed) and issued_at. Sorted by correction id, then line item.
                """)
        @OptionGroup var global: StoreOption
        @OptionGroup var ignored: IgnoredClockOption
        @OptionGroup var output: FormatOption
        @Option(help: "Only this customer's corrections.") var customer: String?
        @Option(help: ArgumentHelp("Only corrections in this state.", valueName: "proposed|issued|rejected"))
        var status: CorrectionStatus?

        func run() throws {
            let engine = try global.engine(.read)
            let table = engine.correctionsTable(try engine.corrections(customer: customer, status: status))
            guard output.resolved() == .table else { return output.emit(table) }
            if table.rows.isEmpty {
                let which = [status.map { "\($0.rawValue) " }, customer.map { " for customer \($0)" }]
                print("no \(which[0] ?? "")corrections\(which[1] ?? "")")
                return
            }
            // For people: the invoice id is the correction id without its `/cN`.
            let shown = table.columns.filter { $0 != "invoice_id" }
            output.emit(
                table.projected(shown),
                rightAligned: [
                    "quantity_delta", "subtotal_delta", "credits_delta", "commits_delta", "total_delta", "proposed_seq",
                ])
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One correction as it would be sent: customer, invoice, lines, totals, status and reason.")
        @OptionGroup var global: StoreOption
        @OptionGroup var ignored: IgnoredClockOption
        @Argument(help: "Correction id, CONTRACT/YYYY-MM-DD/cN.") var id: String
        @Option(help: "text or json.") var format: DocumentFormat = .text

        func run() throws {
            let engine = try global.engine(.read)
            let document = try engine.correctionDocument(id)
            // The lines as every correction output formats them (`correctionsTable`).
            let lines = engine.correctionsTable([document.correction]).projected(Self.lineColumns)
            print(format == .json ? Self.json(document, lines) : Self.text(document, lines), terminator: "")
        }

        static let lineColumns = [
            "line_item_id", "quantity_delta", "subtotal_delta", "credits_delta", "commits_delta", "total_delta",
        ]

        /// Late transaction ids printed in the text document; the JSON has every stored one.
        static let shownLateIDs = 10

        static func text(_ doc: CorrectionDocument, _ lines: Table) -> String {
            let c = doc.correction
            let d = doc.currencyDecimals
            func money(_ value: FixedDecimal) -> String { value.formatted(atLeast: d) }
            let kind = c.kind == .creditNote ? "credit note" : "true-up (supplementary invoice)"
            var out = "Correction \(c.id): \(kind)\n\n"
            let lastDay = doc.period.end > doc.period.start ? doc.period.end.adding(days: -1) : doc.period.start
            for (label, value) in [
                ("Customer", doc.customerName.map { "\(c.customerID) (\($0))" } ?? c.customerID),
                ("Invoice", c.invoiceID), ("Contract", doc.contractID),
                ("Period", "\(doc.period.start) to \(lastDay)"), ("Finalized at", "\(doc.finalizedAt)"),
                ("Currency", doc.currency), ("Status", statusText(c, d)),
            ] {
                out += label + ":" + String(repeating: " ", count: 13 - label.count) + value + "\n"
            }
            out += "\n" + TableWriter.text(lines, rightAligned: Set(lines.columns.dropFirst()))
            var totals = Table(columns: ["", "subtotal", "credits_applied", "commits_applied", "total"])
            var rows: [(String, Totals)] = []
            if doc.finalized != doc.billedBefore { rows.append(("finalized invoice", doc.finalized)) }
            rows += [
                ("billed before", doc.billedBefore),
                (c.status == .rejected ? "this correction (rejected, not billed)" : "this correction", c.totals),
                ("billed after", doc.billedAfter),
            ]
            for (label, t) in rows {
                totals.rows.append([label, money(t.subtotal), money(t.credits), money(t.commits), money(t.total)])
            }
            out +=
                "\nTotals (\(doc.currency)):\n"
                + TableWriter.text(totals, rightAligned: Set(totals.columns.dropFirst()))
            out += "\nReason:\n" + reasonText(c)
            return out
        }

        static func statusText(_ c: Correction, _ decimals: Int) -> String {
            switch c.status {
            case .proposed:
                let moved =
                    c.proposedSeq == c.firstProposedSeq
                    ? ""
                    : "; its values changed after it was first proposed (seq \(c.firstProposedSeq)): issue it with "
                        + "--as-shown \(c.totals.total.formatted(atLeast: decimals))"
                return "proposed, not yet issued (values as of log seq \(c.proposedSeq), \(c.proposedAt))\(moved)"
            case .issued:
                return "issued at \(c.actedAt!) (log seq \(c.actedSeq!))" + (c.text.map { "; note: \($0)" } ?? "")
            case .rejected:
                return "rejected at \(c.actedAt!) (log seq \(c.actedSeq!)); reason: \(c.text ?? "")"
            }
        }

        static func reasonText(_ c: Correction) -> String {
            let causes = c.causes
            var out = ""
            if causes.lateEventCount > 0 {
                let n = causes.lateEventCount
                let ids = causes.lateTransactionIDs.prefix(shownLateIDs)
                out += "  \(n) late event\(n == 1 ? "" : "s") billed to the invoice after it was finalized"
                out += ids.isEmpty ? "\n" : ": " + ids.joined(separator: ", ")
                if n > UInt64(ids.count) {
                    out +=
                        " and \(n - UInt64(ids.count)) more (`daybook discrepancies --invoice \(c.invoiceID) --causes` "
                        + "lists every late event)"
                }
                if !ids.isEmpty { out += "\n" }
            }
            if !causes.viaInvoices.isEmpty {
                out += "  balances shared with earlier invoices moved: \(causes.viaInvoices.joined(separator: ", "))\n"
            }
            if !causes.catalogVersions.isEmpty {
                let versions = causes.catalogVersions.map { "\($0)" }.joined(separator: ", ")
                out += "  re-priced by catalog version\(causes.catalogVersions.count == 1 ? "" : "s") \(versions)\n"
            }
            return out.isEmpty ? "  no recorded cause\n" : out
        }

        static func json(_ doc: CorrectionDocument, _ lines: Table) -> String {
            let c = doc.correction
            let d = doc.currencyDecimals
            let q = StrictJSON.quote
            func money(_ value: FixedDecimal) -> String { q(value.formatted(atLeast: d)) }
            func totals(_ t: Totals) -> String {
                "{\"quantity\": \(q(t.quantity.canonical)), \"subtotal\": \(money(t.subtotal)), "
                    + "\"credits_applied\": \(money(t.credits)), \"commits_applied\": \(money(t.commits)), "
                    + "\"total\": \(money(t.total))}"
            }
            var fields: [(String, String)] = [
                ("correction_id", q(c.id)), ("kind", q(c.kind.rawValue)), ("status", q(c.status.rawValue)),
                ("customer_id", q(c.customerID)), ("customer_name", doc.customerName.map(q) ?? "null"),
                ("invoice_id", q(c.invoiceID)), ("contract_id", q(doc.contractID)),
                ("period_start", q("\(doc.period.start)")), ("period_end", q("\(doc.period.end)")),
                ("finalized_at", q("\(doc.finalizedAt)")), ("currency", q(doc.currency)),
                ("first_proposed_seq", "\(c.firstProposedSeq)"), ("proposed_seq", "\(c.proposedSeq)"),
                ("proposed_at", q("\(c.proposedAt)")),
            ]
            if let seq = c.actedSeq, let at = c.actedAt {
                let verb = c.status == .issued ? "issued" : "rejected"
                fields += [("\(verb)_seq", "\(seq)"), ("\(verb)_at", q("\(at)"))]
                fields.append((c.status == .issued ? "note" : "reason", c.text.map(q) ?? "null"))
            }
            let objects = lines.rows.map { row in
                "{" + zip(lines.columns, row).map { "\(q($0)): \(q($1))" }.joined(separator: ", ") + "}"
            }
            fields.append(
                (
                    "lines",
                    "[" + objects.map { "\n    " + $0 }.joined(separator: ",") + (objects.isEmpty ? "]" : "\n  ]")
                ))
            fields.append(
                (
                    "totals",
                    "{\"finalized\": \(totals(doc.finalized)), \"billed_before\": \(totals(doc.billedBefore)), "
                        + "\"correction\": \(totals(c.totals)), \"billed_after\": \(totals(doc.billedAfter))}"
                ))
            let list = { (items: [String]) in "[" + items.map(q).joined(separator: ", ") + "]" }
            fields.append(
                (
                    "causes",
                    "{\"late_event_count\": \(c.causes.lateEventCount), "
                        + "\"late_transaction_ids\": \(list(c.causes.lateTransactionIDs)), "
                        + "\"via_invoices\": \(list(c.causes.viaInvoices)), "
                        + "\"catalog_versions\": [\(c.causes.catalogVersions.map { "\($0)" }.joined(separator: ", "))]}"
                ))
            return "{\n" + fields.map { "  \(q($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a proposed correction: freeze it, and bill its amount on top of the invoice.",
            discussion: """
                Once issued a correction never changes; the invoice's drift and its next proposal are \
                measured against the snapshot plus the issued corrections, so no delta is billed twice. \
                Issuing an issued correction changes nothing (exit 0). A proposal whose values changed \
                after it was first proposed (later late events, a catalog change) is refused (exit 1, \
                nothing written) unless --as-shown names its current total: look at it with \
                `daybook corrections show ID` first.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Correction id, CONTRACT/YYYY-MM-DD/cN.") var id: String
        @Option(help: "Kept with the issued correction (e.g. the credit note's number in the invoicing system).")
        var note: String?
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "The total you reviewed, signed (0.50 for a true-up, -2.00 for a credit note): issue only if the correction still totals exactly this.",
                valueName: "total"))
        var asShown: FixedDecimal?

        func validate() throws { try requireNonEmpty(note, option: "--note") }

        func run() throws {
            let engine = try global.engine(.write, mustExist: true)
            let action = try engine.issueCorrection(id, note: note, asShown: asShown, now: try global.clock())
            print(describe(action, verb: "issued", engine))
        }
    }

    struct Reject: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reject a proposed correction: keep it with the reason, never propose its amount again.",
            discussion: """
                The invoice's drift stays open (nothing was billed for it), but the rejected deltas are \
                not proposed again: a later change proposes only the new part. Rejecting a rejected \
                correction changes nothing (exit 0); rejecting an issued one is refused (exit 1).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Correction id, CONTRACT/YYYY-MM-DD/cN.") var id: String
        @Option(help: "Why it is not sent (kept with the correction).") var reason: String

        func validate() throws { try requireNonEmpty(reason, option: "--reason") }

        func run() throws {
            let engine = try global.engine(.write, mustExist: true)
            let action = try engine.rejectCorrection(id, reason: reason, now: try global.clock())
            print(describe(action, verb: "rejected", engine))
        }
    }
}

/// `corrections show --format`.
enum DocumentFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// What `issue` or `reject` did, in one line: "issued k/2026-10-01/c1: true_up of 0.50 USD".
private func describe(_ action: CorrectionAction, verb: String, _ engine: Engine) -> String {
    let c = action.correction
    switch action {
    case .done:
        let total = c.totals.total.formatted(atLeast: engine.catalog?.currencyDecimals ?? 0)
        let text = c.text.map { "; \(c.status == .issued ? "note" : "reason"): \($0)" } ?? ""
        return "\(verb) \(c.id): \(c.kind.rawValue) of \(total) \(engine.catalog?.currency ?? "")\(text)"
    case .unchanged:
        return "\(c.id) was already \(verb) at \(c.actedAt.map { "\($0)" } ?? "?"); nothing changed"
    }
}
