import DaybookTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Shutdown, a catalog applied by another process, the port, and tails in the server process.
@Suite("Serve lifecycle", .watchdog(seconds: 600))
struct LifecycleTests {
    /// SIGTERM while 16 clients stream batches: the requests in flight are answered (200) after
    /// their commit, the process exits 0, and every acknowledged event is in the store.
    @Test func sigtermAnswersTheRequestsInFlightAndLosesNothingAcknowledged() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.arrayableEvents(scratch, perDay: 100)
        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop(signal: SIGKILL) }
        let clients = 16
        struct Seen {
            var answered = 0
            var answeredAfterSignal = 0
            var acceptedAcknowledged = 0
            var acknowledged: [String] = []
            var unanswered: [String] = []
            var unexpected: [String] = []
        }
        let seen = Mutex(Seen())
        let signalled = Atomic<Bool>(false)
        let port = server.port
        let done = DispatchSemaphore(value: 0)
        for c in 0..<clients {
            Thread {
                defer { done.signal() }
                guard let http = try? HTTPConnection(port: port, timeout: 60) else { return }
                var i = c * 100
                while i < lines.count {
                    let batch = Array(lines[i..<min(i + 100, lines.count)])
                    i += clients * 100
                    let response: HTTPResponse
                    do {
                        response = try http.ingest(Fixture.array(batch))
                    } catch {
                        // No answer: the server was going away. Not acknowledged, maybe stored.
                        seen.withLock { $0.unanswered += batch }
                        return
                    }
                    let after = signalled.load(ordering: .sequentiallyConsistent)
                    seen.withLock { s in
                        guard response.status == 200 else {
                            s.unexpected.append("\(response.status) \(response.text)")
                            return
                        }
                        s.answered += 1
                        if after { s.answeredAfterSignal += 1 }
                        s.acceptedAcknowledged += Fixture.count(response, "accepted") ?? 0
                        s.acknowledged += batch
                    }
                    if response.status != 200 { return }
                }
            }.start()
        }
        #expect(waitUntil(seconds: 60) { seen.withLock { $0.answered } >= 3 * clients }, "the clients are streaming")
        signalled.store(true, ordering: .sequentiallyConsistent)
        let status = server.stop(signal: SIGTERM)
        for _ in 0..<clients { done.wait() }
        let s = seen.withLock { $0 }
        #expect(status == 0, "serve exits 0 after SIGTERM: \(server.stderrText)")
        #expect(server.stderrText.contains("SIGTERM: finishing the requests in flight"))
        #expect(s.unexpected.isEmpty, "\(s.unexpected.prefix(3))")
        #expect(s.answeredAfterSignal >= 1, "requests in flight at SIGTERM are answered")

        // Nothing acknowledged is lost: sent again, every acknowledged event is a duplicate.
        let stats = try Daybook.stats(store)
        #expect(stats["events"]! >= s.acceptedAcknowledged)
        let acknowledged = try scratch.write("acknowledged.ndjson", s.acknowledged.joined(separator: "\n") + "\n")
        let again = try Daybook.ok(["ingest", acknowledged, "--format", "json", "--data", store, "--now", Fixture.now])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(again.utf8)) as? [String: Int])
        #expect(summary["accepted"] == 0, "an acknowledged event is missing from the store: \(again)")
        try Daybook.ok(["replay", "--verify", "--data", store, "--now", Fixture.now])
        print(
            "[serve] SIGTERM: \(s.answered) requests answered (\(s.answeredAfterSignal) after the signal), \(s.unanswered.count) events unanswered"
        )
    }

    /// A long-running serve bills each batch with the catalog version current when it commits,
    /// also one another process applied while it runs (SPEC §7).
    @Test func billsWithTheCatalogAnotherProcessApplied() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.arrayableEvents(scratch, perDay: 20)
        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()
        let half = lines.count / 2
        func send(_ part: ArraySlice<String>) throws {
            var i = part.startIndex
            while i < part.endIndex {
                let response = try http.ingest(Fixture.array(part[i..<min(i + 100, part.endIndex)]))
                try #require(response.status == 200, "\(response.text)")
                i += 100
            }
        }
        try send(lines[..<half])
        let breakdown = "/v1/invoices/acme-2026%2F2026-10-01/breakdown"
        let before = try http.get(breakdown).text

        // Another process applies v2: API requests cost three times as much.
        let catalog = try String(contentsOfFile: Daybook.exampleCatalog, encoding: .utf8)
        let v2 = try scratch.write(
            "catalog-v2.json", catalog.replacingOccurrences(of: "\"0.0001\"", with: "\"0.0003\""))
        try Daybook.ok(["catalog", "apply", v2, "--data", store, "--now", Fixture.now])
        let applied = try http.get(breakdown).text
        #expect(applied != before, "the read API shows the new version at once")
        try send(lines[half...])
        let after = try http.get(breakdown).text

        // A store that had v2 from the start, with the same events.
        let fresh = scratch.path("fresh")
        try Daybook.ok(["catalog", "apply", v2, "--data", fresh, "--now", Fixture.now])
        let all = try scratch.write("all.ndjson", lines.joined(separator: "\n") + "\n")
        try Daybook.ok(["ingest", all, "--data", fresh, "--now", Fixture.now])
        let expected = try Daybook.ok([
            "breakdown", "--invoice", "acme-2026/2026-10-01", "--format", "json", "--data", fresh, "--now", Fixture.now,
        ])
        #expect(after == expected, "the events sent after the apply are priced with v2")
        #expect(
            try http.get("/v1/invoices").text
                == Daybook.ok(["invoices", "--format", "json", "--data", fresh, "--now", Fixture.now]))
        #expect(try Daybook.stats(store)["catalog_version"] == 2)
    }

    /// A port another process listens on: a clear error, exit 1. A bad --port is bad usage.
    @Test func aPortInUseIsAClearError() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let first = try ServeProcess(store: store, now: Fixture.now)
        defer { first.stop() }
        let second = try Daybook.run(["serve", "--data", store, "--port", "\(first.port)", "--now", Fixture.now])
        #expect(second.status == 1)
        #expect(second.stderr.contains("cannot listen on 127.0.0.1:\(first.port)"), "\(second.stderr)")
        #expect(second.stderr.contains("in use"), "\(second.stderr)")
        #expect(try first.connect().get("/healthz").status == 200, "the first server is unharmed")
        let bad = try Daybook.run(["serve", "--data", store, "--port", "70000"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--port must be from 0 to 65535"))
        let noStore = try Daybook.run(["serve", "--data", scratch.path("nothing"), "--port", "0"])
        #expect(noStore.status == 2)
        #expect(noStore.stderr.contains("no Daybook store"))
        let noTokens = try Daybook.run([
            "serve", "--data", store, "--port", "0", "--token-file", try scratch.write("empty", "\n \n"),
        ])
        #expect(noTokens.status == 2)
        #expect(noTokens.stderr.contains("no token"), "\(noTokens.stderr)")
    }

    /// `serve --tail-file` ingests a growing file in the same process, reports its lag in
    /// /metrics, and finishes on SIGTERM with exit 0.
    @Test func serveRunsAFileTail() throws {
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (_, lines) = try Fixture.arrayableEvents(scratch, perDay: 5)
        let tailed = scratch.path("tailed.ndjson")
        try (lines[..<100].joined(separator: "\n") + "\n").write(toFile: tailed, atomically: true, encoding: .utf8)
        // The store's count before the server starts: read after it, the tail may already have
        // ingested the file (under load it did, and the wait below could then never succeed).
        let accepted100 = try Daybook.stats(store)["events"] ?? 0
        let server = try ServeProcess(store: store, ["--tail-file", tailed], now: Fixture.now)
        defer { server.stop() }
        let http = try server.connect()
        func metric(_ name: String) throws -> Double? {
            let text = try http.get("/metrics").text
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap {
                Double($0.split(separator: " ").last!)
            }
        }
        #expect(
            try waitUntil(seconds: 60) {
                try (metric("daybook_events_total{outcome=\"accepted\"}") ?? 0) > Double(accepted100) + 90
            },
            "the file's events are ingested")
        let handle = try #require(FileHandle(forWritingAtPath: tailed))
        handle.seekToEndOfFile()
        handle.write(Data((lines[100..<200].joined(separator: "\n") + "\n").utf8))
        try handle.close()
        // HTTP beside the tail, on the same writer.
        let response = try http.ingest(Fixture.array(lines[200..<250]))
        #expect(response.status == 200)
        #expect(
            try waitUntil(seconds: 60) {
                try metric("daybook_source_lag{source=\"file:\(tailed)\"}") == 0
                    && (metric("daybook_log_last_seq") ?? 0) >= 240
            },
            "the tail catches up: lag 0")
        #expect(server.stop() == 0, "\(server.stderrText)")
        let stats = try Daybook.stats(store)
        let clean = scratch.path("clean")
        try Daybook.ok(["catalog", "apply", Daybook.exampleCatalog, "--data", clean, "--now", Fixture.now])
        let all = try scratch.write("first250.ndjson", lines[..<250].joined(separator: "\n") + "\n")
        try Daybook.ok(["ingest", all, "--data", clean, "--now", Fixture.now])
        #expect(stats["events"] == (try Daybook.stats(clean))["events"])
    }
}
