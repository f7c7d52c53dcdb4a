/// A validated usage event (SPEC §1).
public struct UsageEvent: Sendable, Hashable {
    /// The idempotency key.
    public var transactionID: String
    public var customerID: String
    public var eventType: String
    /// The event time, converted to UTC.
    public var timestamp: Timestamp
    /// Flat properties; `null` values are dropped (null is the same as absent).
    public var properties: [String: PropertyValue]

    public init(
        transactionID: String, customerID: String, eventType: String, timestamp: Timestamp,
        properties: [String: PropertyValue]
    ) {
        self.transactionID = transactionID
        self.customerID = customerID
        self.eventType = eventType
        self.timestamp = timestamp
        self.properties = properties
    }

    /// The UTC calendar day the event bills to.
    public var day: Day { timestamp.day }
}

/// Why a record is dead-lettered. The raw values are stable: they are stored and listed.
public enum DeadLetterReason: String, Sendable, Hashable, CaseIterable {
    /// Not strict JSON (syntax, invalid UTF-8, NaN/Infinity, repeated key).
    case malformedJSON = "malformed_json"
    /// Valid JSON but not an object.
    case notAnObject = "not_an_object"
    case missingField = "missing_field"
    /// A field of the wrong type or an empty string.
    case invalidField = "invalid_field"
    case invalidTimestamp = "invalid_timestamp"
    /// A size limit of SPEC §1 exceeded.
    case limitExceeded = "limit_exceeded"
    /// Older than `max_lateness_days` before ingest time.
    case tooLate = "too_late"
    /// More than one day after ingest time.
    case inFuture = "in_future"
}

/// A record that failed validation: the reason code, the field concerned and a message.
public struct InvalidEvent: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: DeadLetterReason
    /// The JSON field concerned (`properties.tokens`), if any.
    public var field: String?
    public var message: String

    public init(_ reason: DeadLetterReason, field: String? = nil, _ message: String) {
        self.reason = reason
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(reason.rawValue)" + (field.map { " (\($0))" } ?? "") + ": \(message)"
    }
}

extension UsageEvent {
    /// The longest `transaction_id`, `customer_id` and `event_type`, in UTF-8 bytes (SPEC §1).
    public static let maxIDBytes = 128
    static let maxPropertyKeys = 100
    static let maxPropertyBytes = 1024
    /// The largest record (raw bytes) that is parsed at all: 2 MiB. The largest valid event —
    /// 100 properties with 1024-byte keys and strings, even written entirely in `\u` escapes, and
    /// three 128-byte ids — is about 1.3 MB, so a longer record is dead-lettered (`limit_exceeded`)
    /// without being scanned or decoded (no 10 MB strings are built for a 10 MB line).
    public static let maxRecordBytes = 2 << 20

    /// Parses and validates one record (SPEC §1 "Validation"): strict JSON, required fields,
    /// timestamp, limits. Lateness and duplicates are the engine's business, not this one's.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> Result<UsageEvent, InvalidEvent> {
        if bytes.count > maxRecordBytes { return .failure(tooLarge(bytes.count)) }
        if let event = bytes.withUnsafeBufferPointer(parseFast) { return .success(event) }
        let value: JSONValue
        do { value = try StrictJSON.parse(bytes) } catch {
            return .failure(InvalidEvent(.malformedJSON, "\(error)"))
        }
        return validate(value)
    }

    /// The dead-letter reason of a record of `length` bytes, over ``maxRecordBytes``.
    public static func tooLarge(_ length: Int) -> InvalidEvent {
        InvalidEvent(
            .limitExceeded,
            "the record is \(length) bytes; the limit is \(maxRecordBytes) bytes (2 MiB, well above any valid event)")
    }

    /// Validates an already parsed JSON value as an event.
    public static func validate(_ value: JSONValue) -> Result<UsageEvent, InvalidEvent> {
        guard case .object(let o) = value else {
            return .failure(InvalidEvent(.notAnObject, "an event must be a JSON object"))
        }
        func idField(_ name: String) -> Result<String, InvalidEvent> {
            guard let v = o[name] else {
                return .failure(InvalidEvent(.missingField, field: name, "\(name) is required"))
            }
            guard case .string(let s) = v else {
                return .failure(InvalidEvent(.invalidField, field: name, "\(name) must be a string"))
            }
            if s.isEmpty { return .failure(InvalidEvent(.invalidField, field: name, "\(name) must not be empty")) }
            if s.utf8.count > maxIDBytes {
                return .failure(
                    InvalidEvent(
                        .limitExceeded, field: name, "\(name) is \(s.utf8.count) bytes; the limit is \(maxIDBytes)"))
            }
            return .success(s)
        }
        let tid: String, customer: String, eventType: String
        switch idField("transaction_id") {
        case .success(let s): tid = s;
        case .failure(let e): return .failure(e)
        }
        switch idField("customer_id") {
        case .success(let s): customer = s;
        case .failure(let e): return .failure(e)
        }
        switch idField("event_type") {
        case .success(let s): eventType = s;
        case .failure(let e): return .failure(e)
        }

        guard let tsValue = o["timestamp"] else {
            return .failure(InvalidEvent(.missingField, field: "timestamp", "timestamp is required"))
        }
        guard case .string(let tsText) = tsValue else {
            return .failure(InvalidEvent(.invalidField, field: "timestamp", "timestamp must be an RFC 3339 string"))
        }
        let timestamp: Timestamp
        do { timestamp = try Timestamp(parsing: tsText) } catch {
            return .failure(InvalidEvent(.invalidTimestamp, field: "timestamp", "\(error)"))
        }

        var properties: [String: PropertyValue] = [:]
        switch o["properties"] {
        case nil, .null?: break
        case .object(let p)?:
            if p.count > maxPropertyKeys {
                return .failure(
                    InvalidEvent(
                        .limitExceeded, field: "properties", "\(p.count) properties; the limit is \(maxPropertyKeys)"))
            }
            properties.reserveCapacity(p.count)
            for (key, v) in p.members {
                if key.utf8.count > maxPropertyBytes {
                    return .failure(
                        InvalidEvent(
                            .limitExceeded, field: "properties", "a property name is over \(maxPropertyBytes) bytes"))
                }
                switch v {
                case .null: continue
                case .array, .object:
                    return .failure(
                        InvalidEvent(
                            .invalidField, field: "properties.\(key)", "properties must be flat (no arrays or objects)")
                    )
                case .string(let s) where s.utf8.count > maxPropertyBytes:
                    return .failure(
                        InvalidEvent(
                            .limitExceeded, field: "properties.\(key)",
                            "the value is \(s.utf8.count) bytes; the limit is \(maxPropertyBytes)"))
                default:
                    guard let pv = PropertyValue(json: v) else {
                        return .failure(InvalidEvent(.invalidField, field: "properties.\(key)", "not a valid value"))
                    }
                    properties[key] = pv
                }
            }
        case _?:
            return .failure(InvalidEvent(.invalidField, field: "properties", "properties must be an object"))
        }
        return .success(
            UsageEvent(
                transactionID: tid, customerID: customer, eventType: eventType,
                timestamp: timestamp, properties: properties))
    }
}
