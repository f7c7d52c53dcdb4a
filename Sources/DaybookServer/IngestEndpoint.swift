import DaybookCore
import DaybookEngine
import Hummingbird

/// `POST /v1/ingest` (SPEC §7): a JSON array of 1–100 events, at most 1 MiB after decompression.
///
/// A request is refused whole, with nothing of it stored, when it is not a JSON array of objects
/// (400; an element that never closes its `{` counts as not an array: it hides where the next
/// elements begin), is empty (400), holds more than 100 events or more than 1 MiB (413), or is not
/// `application/json` (415). Inside an accepted array each element is validated on its own: an
/// element that starts with `{` but is not a valid event is dead-lettered at its position
/// (`element N (line L)`, source `http`) and reported in the results, the others are stored.
/// The answer comes only after the durable commit of the batch (the ``Writer``'s completion);
/// batches of concurrent requests share write transactions (group commit).
struct IngestEndpoint: Sendable {
    let writer: Writer
    let clock: @Sendable () -> Timestamp
    let metrics: ServerMetrics
    let maxEvents: Int
    let body: BodyReader

    func respond(to request: Request) async throws -> Response {
        try Self.requireJSON(request)
        let bytes = try await body.read(request)
        let records = try split(bytes)
        metrics.httpInFlight(records.count)
        defer { metrics.httpInFlight(-records.count) }
        let summary: IngestSummary
        do {
            summary = try await writer.submit(
                IngestBatch(records: records, source: "http", now: clock(), results: true))
        } catch WriterError.closed {
            throw APIError(
                .serviceUnavailable,
                "the server is shutting down: nothing of this request was stored; send it again to the restarted server"
            )
        } catch {
            throw APIError(
                .internalServerError,
                "the store could not commit this request, nothing of it was stored (\(error)); send it again later")
        }
        return jsonResponse(Self.json(summary))
    }

    /// 415 unless the body is declared `application/json` (parameters allowed; a `charset` must be
    /// UTF-8). A missing `Content-Type` is refused too: the API takes JSON only (no NDJSON).
    static func requireJSON(_ request: Request) throws(APIError) {
        let expected = "send Content-Type: application/json with a JSON array of events"
        guard let value = request.headers[.contentType] else {
            throw .unsupportedMediaType("no Content-Type: \(expected)")
        }
        let parts = value.split(separator: ";").map { String($0).trimmingSpaces.lowercased() }
        guard parts.first == "application/json" else {
            throw .unsupportedMediaType("Content-Type \"\(value)\" is not accepted: \(expected)")
        }
        for parameter in parts.dropFirst() where parameter.hasPrefix("charset=") {
            var charset = parameter.dropFirst("charset=".count)
            if charset.hasPrefix("\"") && charset.hasSuffix("\"") && charset.count >= 2 {
                charset = charset.dropFirst().dropLast()
            }
            guard charset == "utf-8" || charset == "utf8" else {
                throw .unsupportedMediaType(
                    "charset \"\(charset)\" is not accepted: events are UTF-8 JSON (charset=utf-8)")
            }
        }
    }

    /// The array's elements as records.
    ///
    /// - Throws: ``APIError`` 400 when the body is not a JSON array of objects or is empty, 413
    ///   over ``maxEvents`` elements.
    func split(_ bytes: [UInt8]) throws(APIError) -> [IngestRecord] {
        let shape = "send a JSON array of 1 to \(maxEvents) event objects, [{\"transaction_id\": …}, …]"
        guard let first = bytes.firstIndex(where: { !Self.isSpace($0) }) else {
            throw .badRequest("the body is empty: \(shape)")
        }
        guard bytes[first] == UInt8(ascii: "[") else {
            throw .badRequest("the body is not a JSON array (it starts with \(Self.show(bytes[first]))): \(shape)")
        }
        let records: [IngestRecord]
        do {
            records = try RecordSplitter.split(bytes, source: "request body", unclosedIsError: true)
        } catch {
            throw .badRequest("the body is not a JSON array (\(error.message)): \(shape)")
        }
        guard !records.isEmpty else { throw .badRequest("the array is empty: \(shape)") }
        guard records.count <= maxEvents else {
            throw .tooLarge(
                "\(records.count) events in one request: at most \(maxEvents); split them over several requests")
        }
        for (i, record) in records.enumerated() {
            guard record.bytes.first == UInt8(ascii: "{") else {
                throw .badRequest(
                    "element \(i + 1) of the array is not a JSON object (it starts with \(Self.show(record.bytes.first ?? 0))): every element must be an event object; nothing was stored"
                )
            }
        }
        return records
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    private static func show(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    /// The answer: the summary and one result per event, in order (SPEC §7). A result always has
    /// `transaction_id` (null for a dead letter without a readable string id), `status` and `seq`
    /// (null for a dead letter: nothing was logged); `reason` only for dead letters.
    static func json(_ summary: IngestSummary) -> String {
        var out =
            "{\"accepted\": \(summary.accepted), \"duplicates\": \(summary.duplicates), \"dead_lettered\": \(summary.deadLettered), \"metric_rejections\": \(summary.metricRejections), \"results\": ["
        for (i, r) in summary.results.enumerated() {
            if i > 0 { out += ", " }
            out += "{\"transaction_id\": \(r.transactionID.map(StrictJSON.quote) ?? "null"), "
            out += "\"status\": \"\(r.status.rawValue)\", \"seq\": \(r.seq.map { "\($0)" } ?? "null")"
            if let reason = r.reason { out += ", \"reason\": \(StrictJSON.quote(reason))" }
            out += "}"
        }
        return out + "]}\n"
    }
}
