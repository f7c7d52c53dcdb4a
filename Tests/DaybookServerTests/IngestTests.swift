import DaybookTestSupport
import Foundation
import Testing

/// `POST /v1/ingest` against a real `daybook serve` (SPEC §7).
@Suite("POST /v1/ingest", .watchdog(seconds: 600))
struct IngestTests {
    /// A request with malformed events stores the valid ones and reports each bad one in place;
    /// sent again, the valid ones are duplicates answered with their original seqs.
    @Test func malformedEventsAreDeadLetteredAndTheOthersStored() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.events(scratch, perDay: 2)
        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()

        let body = Fixture.array([
            lines[0],
            #"{"transaction_id": "bad-type", "customer_id": 5, "event_type": "inference", "timestamp": "2026-10-02T00:00:00Z"}"#,
            lines[1],
            #"{"transaction_id": "broken", "customer_id": }"#,
            lines[2],
        ])
        let first = try http.ingest(body)
        #expect(first.status == 200, "\(first.text)")
        #expect(first.headers["content-type"]?.hasPrefix("application/json") == true)
        #expect(Fixture.count(first, "accepted") == 3)
        #expect(Fixture.count(first, "duplicates") == 0)
        #expect(Fixture.count(first, "dead_lettered") == 2)
        #expect(Fixture.count(first, "metric_rejections") == 0)
        let results = Fixture.results(first)
        try #require(results.count == 5, "one result per event, in order: \(first.text)")
        #expect(
            results.map { $0["status"] as? String } == [
                "accepted", "dead_lettered", "accepted", "dead_lettered", "accepted",
            ])
        #expect(results.map { $0["seq"] as? Int } == [1, nil, 2, nil, 3])
        #expect(results[0]["transaction_id"] as? String == "g7-1")
        #expect(results[1]["transaction_id"] as? String == "bad-type", "a readable id is reported for a dead letter")
        #expect(results[3]["transaction_id"] is NSNull, "a record without a readable id reports null")
        #expect((results[1]["reason"] as? String)?.contains("customer_id") == true, "\(results[1])")
        #expect((results[3]["reason"] as? String)?.isEmpty == false)
        #expect(results[0]["reason"] == nil, "reason only for dead letters")

        // The same request again: the valid events are duplicates with the original seqs.
        let again = try http.ingest(body)
        #expect(again.status == 200)
        #expect(Fixture.count(again, "accepted") == 0)
        #expect(Fixture.count(again, "duplicates") == 3)
        let repeated = Fixture.results(again)
        #expect(
            repeated.map { $0["status"] as? String } == [
                "duplicate", "dead_lettered", "duplicate", "dead_lettered", "duplicate",
            ])
        #expect(repeated.map { $0["seq"] as? Int } == [1, nil, 2, nil, 3], "a duplicate answers with the original seq")

        let stats = try Daybook.stats(store)
        #expect(stats["events"] == 3)
        #expect(stats["duplicates"] == 3)
        #expect(stats["dead_letters"] == 4)
        let letters = try Daybook.ok(["dead-letters", "--format", "json", "--data", store])
        #expect(letters.contains(#""source": "http", "position": "element 2 (line 2)""#), "\(letters)")
        #expect(letters.contains(#""source": "http", "position": "element 4 (line 4)""#))
    }

    /// Every refused request is refused whole with its status and a JSON error that says what is
    /// wrong, and stores nothing: not an event, not a dead letter.
    @Test func refusedRequestsStoreNothing() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.events(scratch, perDay: 10)
        try #require(lines.count > 101)
        let before = try Daybook.stats(store)
        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop() }
        let json = [("Content-Type", "application/json")]
        let event = lines[0]
        let padding = String(repeating: "x", count: 600 << 10)
        let twoLargeEvents = Fixture.array([
            event.replacingOccurrences(of: "\"properties\": {", with: "\"note\": \"\(padding)\", \"properties\": {"),
            lines[1].replacingOccurrences(of: "\"properties\": {", with: "\"note\": \"\(padding)\", \"properties\": {"),
        ])
        try #require(twoLargeEvents.count > 1 << 20)
        // 20 MiB of spaces inside an array: a few kB of gzip.
        var bomb = Array("[".utf8) + Array(event.utf8) + [UInt8](repeating: 0x20, count: 20 << 20) + Array("]".utf8)
        let bombGzip = try Fixture.gzip(bomb)
        bomb = []
        try #require(bombGzip.count < 100_000)
        let validGzip = try Fixture.gzip(Fixture.array(lines[0..<5]))
        func chunked(_ body: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            var i = 0
            while i < body.count {
                let n = min(64 << 10, body.count - i)
                out += Array("\(String(n, radix: 16))\r\n".utf8) + body[i..<(i + n)] + Array("\r\n".utf8)
                i += n
            }
            return out + Array("0\r\n\r\n".utf8)
        }

        struct Case {
            var name: String
            var headers: [(String, String)]
            var body: [UInt8]?
            var method = "POST"
            var status: Int
            var says: String
        }
        let cases: [Case] = [
            Case(
                name: "101 events", headers: json, body: Fixture.array(lines[0..<101]), status: 413, says: "101 events"),
            Case(name: "over 1 MiB", headers: json, body: twoLargeEvents, status: 413, says: "limit is 1048576 bytes"),
            Case(
                name: "over 1 MiB, chunked (no Content-Length)",
                headers: json + [("Transfer-Encoding", "chunked")], body: chunked(twoLargeEvents), status: 413,
                says: "over 1048576 bytes"),
            Case(
                name: "over 1 MiB after gunzip (a gzip bomb)", headers: json + [("Content-Encoding", "gzip")],
                body: bombGzip, status: 413, says: "inflates to more than 1048576 bytes"),
            Case(
                name: "truncated gzip", headers: json + [("Content-Encoding", "gzip")],
                body: Array(validGzip.dropLast(6)), status: 400, says: "truncated"),
            Case(
                name: "not gzip", headers: json + [("Content-Encoding", "gzip")], body: Fixture.array([event]),
                status: 400, says: "not valid gzip"),
            Case(
                name: "an object, not an array", headers: json, body: Array(event.utf8), status: 400,
                says: "not a JSON array"),
            Case(
                name: "NDJSON", headers: json, body: Array((lines[0] + "\n" + lines[1] + "\n").utf8), status: 400,
                says: "not a JSON array"),
            Case(
                name: "array of numbers", headers: json, body: Array("[1, 2]".utf8), status: 400,
                says: "element 1 of the array is not a JSON object"),
            Case(
                name: "array with one non-object", headers: json, body: Array("[\(event), \"x\"]".utf8), status: 400,
                says: "element 2 of the array is not a JSON object"),
            Case(name: "empty array", headers: json, body: Array("[ ]".utf8), status: 400, says: "the array is empty"),
            Case(name: "empty body", headers: json, body: [], status: 400, says: "the body is empty"),
            Case(
                name: "array never closed", headers: json, body: Array("[\(event)".utf8), status: 400,
                says: "not closed"),
            Case(
                name: "an element that never closes", headers: json,
                body: Array("[\(event), {\"transaction_id\": \"cut\", \(event)]".utf8), status: 400,
                says: "element 2 (line 1) never closes its '{'"),
            Case(
                name: "empty element", headers: json, body: Array("[\(event),,\(event)]".utf8), status: 400,
                says: "empty array element"),
            Case(
                name: "text/plain", headers: [("Content-Type", "text/plain")], body: Fixture.array([event]),
                status: 415, says: "text/plain"),
            Case(
                name: "NDJSON media type", headers: [("Content-Type", "application/x-ndjson")],
                body: Fixture.array([event]), status: 415, says: "application/json"),
            Case(
                name: "no Content-Type", headers: [], body: Fixture.array([event]), status: 415, says: "no Content-Type"
            ),
            Case(
                name: "charset latin1", headers: [("Content-Type", "application/json; charset=latin1")],
                body: Fixture.array([event]), status: 415, says: "charset"),
            Case(
                name: "brotli", headers: json + [("Content-Encoding", "br")], body: Fixture.array([event]), status: 415,
                says: "Content-Encoding"),
            Case(name: "GET /v1/ingest", headers: [], body: nil, method: "GET", status: 405, says: "POST"),
            Case(
                name: "unknown route", headers: json, body: Fixture.array([event]), method: "POST", status: 404,
                says: "no route"),
        ]
        for c in cases {
            let http = try server.connect()
            let response = try http.send(
                c.method, c.name == "unknown route" ? "/v1/ingestion" : "/v1/ingest", headers: c.headers, body: c.body)
            #expect(response.status == c.status, "\(c.name): \(response.status) \(response.text)")
            #expect(response.headers["content-type"]?.hasPrefix("application/json") == true, "\(c.name)")
            let message = response.errorMessage
            #expect(message?.contains(c.says) == true, "\(c.name): \(response.text)")
        }
        // A JSON charset spelt differently is fine.
        let ok = try server.connect().ingest(
            Fixture.array([event]), extra: [("Content-Type", "Application/JSON; charset=\"UTF-8\"")])
        #expect(ok.status == 200, "\(ok.text)")
        server.stop()
        let after = try Daybook.stats(store)
        #expect(after["events"] == (before["events"] ?? 0) + 1, "only the last, valid request stored an event")
        #expect(after["dead_letters"] == before["dead_letters"], "refused requests leave no dead letter")
        #expect(after["duplicates"] == before["duplicates"])
    }

    /// A gzip body is inflated and ingested like the same body uncompressed.
    @Test func gzipBodiesAreAccepted() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.events(scratch, perDay: 10)
        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()
        let plain = Fixture.array(lines[0..<100])
        let compressed = try Fixture.gzip(plain)
        #expect(compressed.count < plain.count / 3)
        let response = try http.ingest(compressed, extra: [("Content-Encoding", "gzip")])
        #expect(response.status == 200, "\(response.text)")
        // The generated workload holds a few invalid events on purpose.
        let accepted = try #require(Fixture.count(response, "accepted"))
        #expect(accepted > 90)
        #expect(accepted + (Fixture.count(response, "dead_lettered") ?? 0) == 100)
        #expect(Fixture.results(response).compactMap { $0["seq"] as? Int } == Array(1...accepted))
        // The same events uncompressed are duplicates of those.
        let again = try http.ingest(plain)
        #expect(Fixture.count(again, "duplicates") == accepted)
        #expect(try Daybook.stats(store)["events"] == accepted)
    }

    /// With --token-file, everything but GET /healthz needs a listed bearer token.
    @Test func bearerTokensAreRequired() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.events(scratch, perDay: 2)
        let tokens = try scratch.write("tokens", "  first-token-abc \n\nsecond-token-xyz\r\n")
        let server = try ServeProcess(store: store, ["--token-file", tokens], now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()
        #expect(try http.get("/healthz").status == 200, "GET /healthz needs no token")
        let body = Fixture.array(lines[0..<3])
        for (name, token) in [
            ("missing", nil), ("wrong", "first-token-abd"), ("prefix", "first-token"), ("longer", "second-token-xyzz"),
        ] as [(String, String?)] {
            let refused = try http.ingest(body, token: token)
            #expect(refused.status == 401, "\(name) token: \(refused.text)")
            #expect(refused.errorMessage?.isEmpty == false)
            #expect(refused.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            #expect(try http.get("/v1/invoices", token: token).status == 401)
            #expect(try http.get("/metrics", token: token).status == 401)
        }
        let basic = try http.send(
            "POST", "/v1/ingest", headers: [("Content-Type", "application/json"), ("Authorization", "Basic Zmlyc3Q=")],
            body: body)
        #expect(basic.status == 401)
        #expect(basic.errorMessage?.contains("not a bearer token") == true)
        #expect(try Daybook.stats(store)["events"] == 0, "nothing of a refused request is stored")

        let accepted = try http.ingest(body, token: "second-token-xyz")
        #expect(accepted.status == 200)
        #expect(Fixture.count(accepted, "accepted") == 3)
        #expect(try http.get("/v1/invoices", token: "first-token-abc").status == 200)
        #expect(try http.get("/metrics", token: "first-token-abc").status == 200)
    }
}
