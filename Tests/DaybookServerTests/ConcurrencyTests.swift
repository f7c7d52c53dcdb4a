import DaybookTestSupport
import Foundation
import Synchronization
import Testing

/// Many clients on the one writer (SPEC §7, issue 9 acceptance).
@Suite("Concurrent clients", .watchdog(seconds: 600))
struct ConcurrencyTests {
    /// What the clients saw, summed.
    struct Totals {
        var requests = 0
        var accepted = 0
        var duplicates = 0
        var deadLettered = 0
        /// Attempts that got no answer (timeout, reset) and were sent again.
        var retries = 0
        /// Deliberate resends of a batch already answered, and the events they repeated.
        var resends = 0
        var resentAccepted = 0
        /// Invalid records in the resends (dead-lettered again: a dead letter is kept per arrival).
        var resentDeadLettered = 0
        var failures: [String] = []
    }

    /// 64 clients × 100 requests (`DAYBOOK_SERVE_REQUESTS=1000` by hand), every tenth request a
    /// deliberate resend of the client's previous batch, retrying on timeouts: every event ends
    /// counted exactly once (the export equals a clean `daybook ingest` of the same events),
    /// every resent event is a duplicate answered with its original seq, `stats` counts exactly
    /// those duplicates, and the requests shared write transactions (group commit).
    @Test func sixtyFourClientsCountEveryEventOnce() throws {
        let clients = 64
        let requests = ProcessInfo.processInfo.environment["DAYBOOK_SERVE_REQUESTS"].flatMap { Int($0) } ?? 100
        let freshPerClient = requests - requests / 10
        let batches = clients * freshPerClient
        let scratch = try Scratch()
        let store = try Fixture.store(scratch)
        let (path, lines) = try Fixture.arrayableEvents(scratch, perDay: 3 * requests)
        try #require(lines.count >= batches)
        // Fresh batch b holds every line whose index is b modulo the number of batches.
        var bodies = [[String]](repeating: [], count: batches)
        for (i, line) in lines.enumerated() { bodies[i % batches].append(line) }
        let payloads = bodies.map { Fixture.array($0) }

        let server = try ServeProcess(store: store, now: Fixture.now)
        defer { server.stop() }
        let totals = Mutex(Totals())
        let port = server.port
        let done = DispatchSemaphore(value: 0)
        for c in 0..<clients {
            Thread {
                defer { done.signal() }
                var mine = Totals()
                defer { totals.withLock { $0.merge(mine) } }
                guard let http = try? HTTPConnection(port: port, timeout: 30) else {
                    mine.failures.append("client \(c): cannot connect")
                    return
                }
                var next = 0
                var previous: (body: [UInt8], seqs: [Int?])?
                for r in 0..<requests {
                    let resend = r % 10 == 9 && previous != nil
                    let body: [UInt8]
                    if resend {
                        body = previous!.body
                    } else {
                        guard next < freshPerClient else { break }
                        body = payloads[next * clients + c]
                        next += 1
                    }
                    var response: HTTPResponse?
                    for _ in 0..<5 {
                        do {
                            response = try http.ingest(body)
                            break
                        } catch {
                            mine.retries += 1
                            try? http.reconnect()
                        }
                    }
                    guard let response, response.status == 200 else {
                        mine.failures.append(
                            "client \(c) request \(r): \(response.map { "\($0.status) \($0.text)" } ?? "no answer")")
                        return
                    }
                    mine.requests += 1
                    let accepted = Fixture.count(response, "accepted") ?? -1
                    mine.accepted += accepted
                    mine.duplicates += Fixture.count(response, "duplicates") ?? 0
                    mine.deadLettered += Fixture.count(response, "dead_lettered") ?? 0
                    let seqs = Fixture.results(response).map { $0["seq"] as? Int }
                    if resend {
                        mine.resends += 1
                        mine.resentAccepted += previous!.seqs.compactMap { $0 }.count
                        mine.resentDeadLettered += previous!.seqs.filter { $0 == nil }.count
                        if accepted != 0 || seqs != previous!.seqs {
                            mine.failures.append(
                                "client \(c) request \(r): a resend must answer duplicates with the original seqs")
                        }
                    } else {
                        previous = (body, seqs)
                    }
                }
            }.start()
        }
        for _ in 0..<clients { done.wait() }
        let seen = totals.withLock { $0 }
        #expect(seen.failures.isEmpty, "\(seen.failures.prefix(5))")
        #expect(seen.requests == clients * requests)
        #expect(seen.resends == clients * (requests / 10))

        let metrics = try server.connect().get("/metrics").text
        func value(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap {
                Double($0.split(separator: " ")[1])
            }
        }
        let transactions = try #require(value("daybook_writer_transactions_total"))
        let committed = try #require(value("daybook_writer_batches_total"))
        #expect(committed >= Double(seen.requests))
        #expect(transactions < committed, "group commit: \(transactions) transactions for \(committed) batches")
        let status = server.stop()
        #expect(status == 0, "\(server.stderrText)")

        // The same events through one clean `daybook ingest`.
        let clean = scratch.path("clean")
        try Daybook.ok(["catalog", "apply", Daybook.exampleCatalog, "--data", clean, "--now", Fixture.now])
        try Daybook.ok(["ingest", path, "--data", clean, "--now", Fixture.now])
        let cleanStats = try Daybook.stats(clean)
        let stats = try Daybook.stats(store)
        #expect(stats["events"] == cleanStats["events"])
        #expect(stats["events"] == seen.accepted)
        #expect(stats["duplicates"] == seen.duplicates, "every duplicate the store counted was reported")
        // The workload repeats some events itself (as real tails do): those are duplicates in both.
        let repeated = try #require(cleanStats["duplicates"])
        #expect(repeated > 0)
        if seen.retries == 0 {
            #expect(
                stats["duplicates"] == repeated + seen.resentAccepted,
                "no retry: the resent events and the workload's repeats")
        }
        #expect(stats["duplicates"]! >= repeated + seen.resentAccepted)
        #expect(stats["dead_letters"] == seen.deadLettered)
        #expect(stats["dead_letters"] == cleanStats["dead_letters"]! + seen.resentDeadLettered)
        let served = try Daybook.export(store, asOf: "2026-10-21", now: Fixture.now, into: scratch.path("out-served"))
        let expected = try Daybook.export(clean, asOf: "2026-10-21", now: Fixture.now, into: scratch.path("out-clean"))
        #expect(!expected.isEmpty)
        for (name, text) in expected {
            // A correction's proposed_seq is the log seq of its last change: 64 clients interleave
            // the same events into other seqs than one ingest does. Everything else must be equal.
            let comparable = { (csv: String?) in name == "corrections.csv" ? csv.map(withoutProposedSeq) : csv }
            #expect(
                comparable(served[name]) == comparable(text), "\(name) differs from a clean ingest of the same events")
        }
        try Daybook.ok(["replay", "--verify", "--data", store, "--now", Fixture.now])
        print(
            "[serve] \(clients) clients × \(requests) requests: \(seen.accepted) events, \(seen.resentAccepted) resent, \(seen.retries) retries, \(Int(transactions)) transactions for \(Int(committed)) batches"
        )
    }
}

extension ConcurrencyTests.Totals {
    mutating func merge(_ other: Self) {
        requests += other.requests
        accepted += other.accepted
        duplicates += other.duplicates
        deadLettered += other.deadLettered
        retries += other.retries
        resends += other.resends
        resentAccepted += other.resentAccepted
        resentDeadLettered += other.resentDeadLettered
        failures += other.failures
    }

}

/// `corrections.csv` without its `proposed_seq` column, the one before last (the cells after the
/// line item are numbers and a time: no comma, no quotes).
private func withoutProposedSeq(_ csv: String) -> String {
    csv.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        var cells = line.split(separator: ",", omittingEmptySubsequences: false)
        if cells.count >= 2 { cells.remove(at: cells.count - 2) }
        return cells.joined(separator: ",")
    }.joined(separator: "\n")
}
