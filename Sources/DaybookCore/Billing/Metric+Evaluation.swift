/// What one event adds to a metric.
public enum MetricContribution: Sendable, Hashable {
    /// One more event (`count`).
    case one
    /// An exact value (`sum`, `max`).
    case value(FixedDecimal)
    /// A canonical value to count once (`unique_count`).
    case distinct(String)
}

/// The outcome of offering an event to a metric.
public enum MetricOutcome: Sendable, Hashable {
    /// The event is not of the metric's type or fails its filters.
    case notMatched
    /// The event counts, under the given group key (`{model=model-a}`, or "" when ungrouped).
    case contributes(MetricContribution, group: String)
    /// The event matches but its value cannot be aggregated: a metric rejection (SPEC §1).
    case rejected(ValueRejection)
    /// The event matches a `unique_count` metric but lacks the property: it adds nothing.
    case ignored
}

/// What metric evaluation reads of an event: its type and its properties by name. A
/// ``UsageEvent`` answers from its dictionary, a ``FastEvent`` from the record's bytes.
protocol EventProperties: ~Copyable {
    var eventType: String { get }
    func property(_ name: String) -> PropertyValue?
}

extension UsageEvent: EventProperties {
    func property(_ name: String) -> PropertyValue? { properties[name] }
}

extension FastEvent: EventProperties {}

extension Metric {
    /// Whether the event has the metric's type and passes every filter.
    public func matches(_ event: UsageEvent) -> Bool { matches(any: event) }

    /// Evaluates the event against this metric (SPEC §1, §3).
    public func evaluate(_ event: UsageEvent) -> MetricOutcome { evaluate(any: event) }

    /// ``evaluate(_:)`` of an event read in place: the same code, so the same outcome.
    public func evaluate(_ event: borrowing FastEvent) -> MetricOutcome { evaluate(any: event) }

    /// The `{prop=value,…}` part of a line-item id, values percent-encoded; "" when ungrouped.
    public func groupKey(for event: UsageEvent) -> String { groupKey(any: event) }

    private func matches<E: EventProperties & ~Copyable>(any event: borrowing E) -> Bool {
        guard event.eventType == eventType else { return false }
        for filter in filters {
            guard let v = event.property(filter.property), filter.allowed.contains(v.canonical) else { return false }
        }
        return true
    }

    private func evaluate<E: EventProperties & ~Copyable>(any event: borrowing E) -> MetricOutcome {
        guard matches(any: event) else { return .notMatched }
        let contribution: MetricContribution
        switch aggregation {
        case .count:
            contribution = .one
        case .sum, .max:
            guard let property, let v = event.property(property) else { return .rejected(.missing) }
            switch v.usageValue {
            case .success(let x): contribution = .value(x)
            case .failure(let why): return .rejected(why)
            }
        case .uniqueCount:
            guard let property, let v = event.property(property) else { return .ignored }
            contribution = .distinct(v.canonical)
        }
        return .contributes(contribution, group: groupKey(any: event))
    }

    private func groupKey<E: EventProperties & ~Copyable>(any event: borrowing E) -> String {
        if groupBy.isEmpty { return "" }
        func value(_ prop: String) -> String { percentEncodeGroupValue(event.property(prop)?.canonical ?? "") }
        if groupBy.count == 1 {
            // The usual key, sized exactly: no allocation when it fits a String's 15 inline bytes.
            let prop = groupBy[0], v = value(prop)
            var s = "{"
            s.reserveCapacity(3 + prop.utf8.count + v.utf8.count)
            s.append(prop)
            s.append("=")
            s.append(v)
            s.append("}")
            return s
        }
        var s = "{"
        s.reserveCapacity(48)  // one allocation for the usual key, not one per piece
        for (i, prop) in groupBy.enumerated() {
            if i > 0 { s.append(",") }
            s.append(prop)
            s.append("=")
            s.append(value(prop))
        }
        s.append("}")
        return s
    }
}

/// Percent-encodes `%` `,` `=` `{` `}` inside a group value (SPEC §3).
public func percentEncodeGroupValue(_ value: String) -> String {
    guard value.utf8.contains(where: { $0 == 0x25 || $0 == 0x2C || $0 == 0x3D || $0 == 0x7B || $0 == 0x7D }) else {
        return value
    }
    var out = ""
    for ch in value.unicodeScalars {
        switch ch {
        case "%": out += "%25"
        case ",": out += "%2C"
        case "=": out += "%3D"
        case "{": out += "%7B"
        case "}": out += "%7D"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}
