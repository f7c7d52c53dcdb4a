import DaybookCore
import DaybookOutput
import DaybookStore

// `daybook explain` as text for people and as one JSON object (SPEC §6). Amounts have the
// currency's decimals, quantities and prices the canonical form of SPEC §2, as in every report.

extension Explanation.Event.Effect {
    /// The stable code of the effect (JSON `effect`).
    public var code: String {
        switch self {
        case .counted: "counted"
        case .added: "added"
        case .dayMaximum: "day_max"
        case .belowDayMaximum: "below_day_max"
        case .firstSeen: "first_seen"
        case .repeatedToday: "repeated_today"
        case .seenBefore: "seen_before"
        }
    }

    /// The event's value as the metric saw it (canonical), nil for `count`.
    public var value: String? {
        switch self {
        case .counted: nil
        case .added(let v), .dayMaximum(let v), .belowDayMaximum(let v): v.canonical
        case .firstSeen(let s), .repeatedToday(let s), .seenBefore(let s, _): s
        }
    }

    /// For people: what the event did to `c(d)`.
    var text: String {
        switch self {
        case .counted: "+1"
        case .added(let v): "+\(v.canonical)"
        case .dayMaximum: "the day's maximum"
        case .belowDayMaximum: "below the day's maximum (adds nothing)"
        case .firstSeen: "first seen in the period: +1"
        case .repeatedToday: "seen earlier this day (adds nothing)"
        case .seenBefore(_, let first): "first seen \(first) (adds nothing)"
        }
    }
}

extension Explanation {
    /// The report for people: a header naming the row, the events table, then the arithmetic
    /// line by line, the stored row and whether it matches, and the snapshot of a finalized invoice.
    public var text: String {
        let d = currencyDecimals
        func money(_ v: FixedDecimal) -> String { v.formatted(atLeast: d) }
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        func table(_ t: Table, right: Set<String>, indent: String = "  ") {
            for row in TableWriter.text(t, rightAligned: right).split(separator: "\n") { line(indent + row) }
        }
        let isMax: Bool
        let basisText: String
        switch basis {
        case .usage(let metric, let aggregation, let property):
            isMax = aggregation == .max
            let what = aggregation == .count ? "count of events" : "\(aggregation.rawValue) of \(property ?? "")"
            basisText = "metric \(metric): \(what)"
        case .fixed(let fee):
            isMax = false
            basisText = "fixed fee \(money(fee)) on the period's first day"
        }

        line("invoice    \(invoiceID)  (customer \(customerID), contract \(contractID))")
        line("period     \(period.start) to \(period.end.adding(days: -1)) (\(period.dayCount) days)")
        if let f = finalization {
            line("status     finalized at \(f.finalizedAt) (snapshot at log seq \(f.seq))")
        } else {
            line("status     draft")
        }
        line("line item  \(lineItemID)  (product \(productID) \"\(productName)\"; \(basisText))")
        line("day        \(day)  (day \(dayIndex + 1) of \(period.dayCount))")
        line()

        if case .fixed = basis {
            line("events: none (a fixed fee has no usage events)")
        } else {
            line(
                "events behind this row: \(events.count) of the \(indexEntriesRead) events of \(customerID) on \(day) "
                    + "(read through the customer-day index, nothing else of the log)")
            if !events.isEmpty {
                var t = Table(columns: ["seq", "transaction_id", "timestamp", "ingest_time", "late", "value", "effect"])
                for e in events {
                    t.rows.append([
                        "\(e.seq)", e.transactionID, "\(e.timestamp)", "\(e.ingestTime)", e.late ? "late" : "",
                        e.effect.value ?? "", e.effect.text,
                    ])
                }
                table(t, right: ["seq", "value"])
            }
        }
        line()

        let c = computed
        let previousDay = day.adding(days: -1)
        line("quantity")
        if dayIndex == 0 {
            line("  Q(d−1)   = 0  (before the period)")
        } else {
            line(
                "  Q(d−1)   = \(c.previousCumulative.canonical)  (stored Q of \(previousDay); earlier days' events are not read)"
            )
        }
        let contributionText: String
        switch basis {
        case .fixed:
            contributionText =
                dayIndex == 0 ? "the fee's unit, on the period's first day" : "nothing after the first day"
        case .usage(_, let aggregation, _):
            switch aggregation {
            case .count: contributionText = "number of the events above"
            case .sum: contributionText = "sum of the values above"
            case .max: contributionText = "maximum of the values above (0 if none)"
            case .uniqueCount: contributionText = "values first seen this day; each value's first day as stored"
            }
        }
        line("  c(d)     = \(c.contribution.canonical)  (\(contributionText))")
        if isMax {
            line(
                "  Q(d)     = max(Q(d−1), c(d)) = max(\(c.previousCumulative.canonical), \(c.contribution.canonical)) = \(c.cumulative.canonical)"
            )
        } else {
            line(
                "  Q(d)     = Q(d−1) + c(d) = \(c.previousCumulative.canonical) + \(c.contribution.canonical) = \(c.cumulative.canonical)"
            )
        }
        line(
            "  quantity = Q(d) − Q(d−1) = \(c.cumulative.canonical) − \(c.previousCumulative.canonical) = \(c.quantity.canonical)"
        )
        line()

        line("amount")
        func priceLines(_ name: String, _ a: String, _ split: PriceSplit, amount: FixedDecimal) {
            line("  \(name) = P(\(split.quantity.canonical)) = \(split.exact)")
            if !split.tiers.isEmpty {
                var t = Table(columns: ["from", "up_to", "quantity", "unit_price", "amount"])
                for s in split.tiers {
                    t.rows.append([
                        s.from.canonical, s.upTo?.canonical ?? "∞", s.quantity.canonical, s.unitPrice.canonical,
                        s.amount,
                    ])
                }
                table(t, right: Set(t.columns), indent: "      ")
            }
            line("  \(a) = round(\(split.exact)) = \(money(amount))  (half-even to \(d) decimals)")
        }
        if dayIndex == 0 {
            line("  A(d−1) = 0  (before the period)")
        } else {
            priceLines("P(Q(d−1))", "A(d−1)", previousPrice, amount: c.previousAmount)
        }
        priceLines("P(Q(d))", "A(d)", price, amount: c.amount)
        line("  subtotal   = A(d) − A(d−1) = \(money(c.amount)) − \(money(c.previousAmount)) = \(money(c.subtotal))")
        line("  unit_price = \(unitPrice.canonical)")
        line()

        if balances.isEmpty {
            line("balances: none active on \(day) for \(productID)")
        } else {
            line("balances active on \(day) for \(productID), in draw order (line items of the day in id byte order)")
            var t = Table(columns: [
                "balance_id", "type", "priority", "opening", "before_line_item", "drawn", "after_line_item", "closing",
            ])
            for b in balances {
                t.rows.append([
                    b.balanceID, b.kind.rawValue, "\(b.priority)", money(b.opening), money(b.beforeLineItem),
                    money(b.drawn), money(b.afterLineItem), money(b.closing),
                ])
            }
            table(t, right: Set(t.columns.dropFirst(2)))
        }
        line("  credits_applied = \(money(c.credits))")
        line("  commits_applied = \(money(c.commits))")
        line(
            "  total = subtotal − credits − commits = \(money(c.subtotal)) − \(money(c.credits)) − \(money(c.commits)) = \(money(c.total))"
        )
        line()

        let s = stored
        line(
            "stored row: quantity \(s.quantity.canonical), subtotal \(money(s.subtotal)), credits_applied \(money(s.credits)), "
                + "commits_applied \(money(s.commits)), total \(money(s.total))")
        if mismatches.isEmpty {
            line("check: the events and the arithmetic give the stored row exactly")
        } else {
            line("MISMATCH: the events and the arithmetic do not give the stored row (run `daybook replay --verify`):")
            for m in mismatches { line("  \(m.what): computed \(m.computed), stored \(m.stored)") }
        }

        if let f = finalization {
            line()
            line("finalized snapshot of \(lineItemID) (period values at log seq \(f.seq)) beside the live values")
            var t = Table(columns: ["", "quantity", "subtotal", "credits_applied", "commits_applied", "total"])
            for (name, v) in [("snapshot", f.snapshot), ("current", f.current)] {
                t.rows.append([
                    name, v.quantity.canonical, money(v.subtotal), money(v.credits), money(v.commits), money(v.total),
                ])
            }
            t.rows.append([
                "delta", (f.current.quantity - f.snapshot.quantity).canonical,
                money(f.current.subtotal - f.snapshot.subtotal), money(f.current.credits - f.snapshot.credits),
                money(f.current.commits - f.snapshot.commits), money(f.current.total - f.snapshot.total),
            ])
            table(t, right: Set(t.columns.dropFirst()))
            let late = lateEvents
            line(
                "late events since finalization: \(f.lateEventCount) on the invoice; \(late.count) of them behind this row"
                    + (late.isEmpty
                        ? ""
                        : ": " + late.prefix(10).map { "\($0.transactionID) (seq \($0.seq))" }.joined(separator: ", "))
                    + (late.count > 10 ? ", … (marked late in the events above)" : ""))
        }
        return out
    }

    /// The report as one JSON object with stable keys: amounts as strings with the currency's
    /// decimals, quantities, prices and exact `P` values as canonical strings, counts and seqs as
    /// integers.
    public var json: String {
        let d = currencyDecimals
        func q(_ s: String) -> String { StrictJSON.quote(s) }
        func money(_ v: FixedDecimal) -> String { q(v.formatted(atLeast: d)) }
        func number(_ v: FixedDecimal) -> String { q(v.canonical) }
        func object(_ fields: [(String, String)]) -> String {
            "{" + fields.map { "\(q($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        func array(_ items: [String], multiline: Bool = false) -> String {
            if items.isEmpty { return "[]" }
            return multiline
                ? "[\n    " + items.joined(separator: ",\n    ") + "\n  ]" : "[" + items.joined(separator: ", ") + "]"
        }
        func totals(_ t: Totals) -> String {
            object([
                ("quantity", number(t.quantity)), ("subtotal", money(t.subtotal)),
                ("credits_applied", money(t.credits)),
                ("commits_applied", money(t.commits)), ("total", money(t.total)),
            ])
        }
        func split(_ s: PriceSplit, amount: FixedDecimal) -> String {
            object([
                ("q", number(s.quantity)),
                (
                    "tiers",
                    array(
                        s.tiers.map { t in
                            object([
                                ("from", number(t.from)), ("up_to", t.upTo.map(number) ?? "null"),
                                ("quantity", number(t.quantity)), ("unit_price", number(t.unitPrice)),
                                ("amount", q(t.amount)),
                            ])
                        })
                ),
                ("exact", q(s.exact)), ("a", money(amount)),
            ])
        }
        let basisJSON: String
        switch basis {
        case .usage(let metric, let aggregation, let property):
            basisJSON = object([
                ("kind", q("usage")), ("metric", q(metric)), ("aggregation", q(aggregation.rawValue)),
                ("property", property.map(q) ?? "null"),
            ])
        case .fixed(let fee):
            basisJSON = object([("kind", q("fixed")), ("fee", money(fee))])
        }
        // One string for the events, appended to in place: a busy day lists 10,000s of them.
        var eventsJSON = ""
        eventsJSON.reserveCapacity(events.count * 200)
        for (i, e) in events.enumerated() {
            eventsJSON += i == 0 ? "[\n    {\"seq\": " : ",\n    {\"seq\": "
            eventsJSON += String(e.seq)
            eventsJSON += ", \"transaction_id\": " + q(e.transactionID)
            eventsJSON += ", \"timestamp\": \"" + e.timestamp.description + "\", \"ingest_time\": \""
            eventsJSON += e.ingestTime.description + (e.late ? "\", \"late\": true" : "\", \"late\": false")
            eventsJSON +=
                ", \"value\": " + (e.effect.value.map(q) ?? "null") + ", \"effect\": \"" + e.effect.code + "\""
            if case .seenBefore(_, let first) = e.effect { eventsJSON += ", \"first_seen_day\": \"\(first)\"" }
            eventsJSON += "}"
        }
        eventsJSON += events.isEmpty ? "[]" : "\n  ]"
        let balancesJSON = balances.map { b in
            object([
                ("balance_id", q(b.balanceID)), ("type", q(b.kind.rawValue)), ("priority", "\(b.priority)"),
                ("opening", money(b.opening)), ("before_line_item", money(b.beforeLineItem)), ("drawn", money(b.drawn)),
                ("after_line_item", money(b.afterLineItem)), ("closing", money(b.closing)),
            ])
        }
        func row(_ r: Row) -> [(String, String)] {
            [
                ("contribution", number(r.contribution)), ("q_previous", number(r.previousCumulative)),
                ("q", number(r.cumulative)), ("quantity", number(r.quantity)), ("a_previous", money(r.previousAmount)),
                ("a", money(r.amount)), ("subtotal", money(r.subtotal)), ("credits_applied", money(r.credits)),
                ("commits_applied", money(r.commits)), ("total", money(r.total)),
            ]
        }
        var fields: [(String, String)] = [
            ("invoice_id", q(invoiceID)), ("customer_id", q(customerID)), ("contract_id", q(contractID)),
            ("period_start", q("\(period.start)")), ("period_end", q("\(period.end)")),
            ("line_item_id", q(lineItemID)), ("product_id", q(productID)), ("product_name", q(productName)),
            ("group_values", q(group)), ("day", q("\(day)")), ("status", q(status.rawValue)),
            ("currency", q(currency)), ("currency_decimals", "\(d)"), ("basis", basisJSON),
            ("index_entries_read", "\(indexEntriesRead)"), ("events", eventsJSON),
            ("q_previous_source", q(dayIndex == 0 ? "period_start" : "stored")),
        ]
        fields += [
            ("q_previous", number(computed.previousCumulative)), ("contribution", number(computed.contribution)),
            ("q", number(computed.cumulative)), ("quantity", number(computed.quantity)),
            ("p_previous", dayIndex == 0 ? "null" : split(previousPrice, amount: computed.previousAmount)),
            ("p", split(price, amount: computed.amount)),
            ("a_previous", money(computed.previousAmount)), ("a", money(computed.amount)),
            ("subtotal", money(computed.subtotal)), ("unit_price", number(unitPrice)),
            ("balances", array(balancesJSON, multiline: true)),
            ("credits_applied", money(computed.credits)), ("commits_applied", money(computed.commits)),
            ("total", money(computed.total)),
            ("stored", object(row(stored))),
            ("matches_stored", mismatches.isEmpty ? "true" : "false"),
            (
                "mismatches",
                array(
                    mismatches.map {
                        object([("what", q($0.what)), ("computed", q($0.computed)), ("stored", q($0.stored))])
                    })
            ),
        ]
        if let f = finalization {
            let late = lateEvents
            fields.append(
                (
                    "finalization",
                    object([
                        ("finalized_at", q("\(f.finalizedAt)")), ("seq", "\(f.seq)"), ("snapshot", totals(f.snapshot)),
                        ("current", totals(f.current)), ("delta_total", money(f.current.total - f.snapshot.total)),
                        ("late_event_count", "\(f.lateEventCount)"), ("late_events_of_row", "\(late.count)"),
                        (
                            "late_transaction_ids_of_row",
                            array(late.prefix(CauseSummary.limit).map { q($0.transactionID) })
                        ),
                    ])
                ))
        } else {
            fields.append(("finalization", "null"))
        }
        return "{\n" + fields.map { "  \(q($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}
