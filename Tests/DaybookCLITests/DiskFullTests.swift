import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Foundation
import LMDB
import Testing
import TmpfsSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `daybook` on a full disk (a small tmpfs, which needs root) and with records far larger than
/// an event: clear errors naming the store, nothing acknowledged lost, memory bounded.
@Suite("Full disk and large records", .watchdog(seconds: 600))
struct DiskFullTests {
    static let now = "2026-10-11T00:00:00Z"

    /// `daybook ARGS --data STORE --now NOW`.
    static func daybook(_ args: [String], store: String, now: String = now) throws -> CLI.Result {
        try CLI.daybook(args + ["--data", store, "--now", now])
    }

    @Test(.enabled(if: Tmpfs.available, "needs root to mount a small tmpfs (mount -t tmpfs); run the tests as root"))
    func creatingAStoreOnAFullDiskFailsAsDiskFullAndWorksOnceSpaceIsFreed() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let fs = try Tmpfs(kibibytes: 1024)
        defer { fs.unmount() }
        let catalog = try cli.exampleCatalog()
        let store = fs.path + "/store"
        let filler = try fs.fill()

        // Used to die with SIGBUS inside mdb_env_open (the lock file written through its map).
        let full = try Self.daybook(["catalog", "apply", catalog], store: store)
        #expect(full.status == 1, "\(full.stderr)")
        #expect(full.stderr.hasPrefix("daybook: disk full writing \(store): "), "\(full.stderr)")
        #expect(full.stderr.contains("free space on that file system and retry"), "\(full.stderr)")

        try FileManager.default.removeItem(atPath: filler)
        let retry = try Self.daybook(["catalog", "apply", catalog], store: store)
        #expect(retry.status == 0, "\(retry.stderr)")
        let events = try cli.write(
            "events.ndjson",
            "{\"transaction_id\": \"t1\", \"customer_id\": \"neuratech\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-10T10:00:00Z\", \"properties\": {\"model\": \"model-a\", \"tokens\": 10, \"region\": \"us\"}}\n"
        )
        let ingest = try Self.daybook(["ingest", events, "--format", "json"], store: store)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stdout.contains("\"accepted\": 1"), "\(ingest.stdout)")
    }

    @Test(.enabled(if: Tmpfs.available, "needs root to mount a small tmpfs (mount -t tmpfs); run the tests as root"))
    func diskFullMidIngestKeepsEveryAcknowledgedBatchAndTheIngestResumesOnceSpaceIsFreed() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "8", "--start", "2026-10-05", "--days", "5", "--events-per-day", "1000",
                "--out", usage,
            ]).status == 0)
        let catalog = try cli.exampleCatalog()
        let fs = try Tmpfs(kibibytes: 3072)
        defer { fs.unmount() }
        let store = fs.path + "/store"
        try #require(
            try Self.daybook(["catalog", "apply", catalog], store: store, now: "2026-10-01T00:00:00Z").status == 0)

        // The disk fills up part-way through.
        let first = try Self.daybook(["ingest", usage, "--batch-size", "1000", "--report-commits"], store: store)
        #expect(first.status == 1, "\(first.stderr)")
        let lines = first.stderr.split(separator: "\n").map(String.init)
        let acknowledged = lines.filter { $0.hasPrefix("committed through line ") }
        let lastLine = try #require(
            acknowledged.last.flatMap { $0.split(separator: " ").dropFirst(3).first }.flatMap { Int($0.dropLast()) },
            "no batch was acknowledged before the disk was full: \(first.stderr)")
        let message = try #require(lines.first { $0.hasPrefix("daybook: ") })
        #expect(message.hasPrefix("daybook: disk full writing \(store): "), "\(message)")
        #expect(message.contains("free space and retry"), "\(message)")
        #expect(
            message.contains("every batch acknowledged before this one is stored (through line \(lastLine))"),
            "\(message)")
        #expect(!message.contains("mdb_txn_commit failed: Input/output error"), "\(message)")

        // Every event of every acknowledged batch is in the log (as in CrashTests).
        let text = try String(contentsOfFile: usage, encoding: .utf8)
        let records = text.split(separator: "\n", omittingEmptySubsequences: false)
        var checked: Set<String> = []
        do {
            let engine = try Engine(path: store)
            let earliest = try Timestamp(parsing: "2026-09-07T00:00:00Z")  // max_lateness_days 34 before the clock
            for line in records.prefix(lastLine) {
                guard case .success(let event) = UsageEvent.parse(Array(line.utf8)[...]), event.timestamp >= earliest
                else { continue }
                #expect(
                    try engine.isLogged(transactionID: event.transactionID), "acknowledged \(event.transactionID) lost")
                checked.insert(event.transactionID)
            }
        }
        #expect(checked.count > 500)

        // Space freed: the store verifies, and the same ingest resumes.
        try fs.resize(kibibytes: 64 << 10)
        let verify = try Self.daybook(["replay", "--verify"], store: store)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let resumed = try Self.daybook(["ingest", usage, "--format", "json"], store: store)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let again = try Self.daybook(["replay", "--verify"], store: store)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")

        // The same events as a run that never ran out of space; what was stored came back as duplicates.
        try #require(try cli.run(["catalog", "apply", catalog], now: "2026-10-01T00:00:00Z").status == 0)
        let clean = try cli.run(["ingest", usage, "--format", "json"], now: Self.now)
        try #require(clean.status == 0)
        func field(_ json: String, _ key: String) -> Int? {
            json.split(separator: ",").first { $0.contains("\"\(key)\"") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces.union(["}", "\n"]))) }
        }
        let stats = try Self.daybook(["stats", "--format", "json"], store: store).stdout
        let cleanStats = try cli.run(["stats", "--format", "json"]).stdout
        #expect(field(stats, "events") == field(cleanStats, "events"), "\(stats) vs \(cleanStats)")
        let storedBefore = try #require(field(stats, "events")).advanced(
            by: -(try #require(field(resumed.stdout, "accepted"))))
        #expect(storedBefore >= checked.count)
        #expect(try #require(field(resumed.stdout, "duplicates")) >= storedBefore, "\(resumed.stdout)")
    }

    /// 32 records of 10 MiB each (320 MiB): each is dead-lettered as too large, with its raw bytes.
    /// They used to go into one batch and one transaction (120 of them: 175 s and 4.06 GB of memory
    /// in a debug build, about 3.4× the input; MDB_MAP_FULL where the map could not double). Now
    /// batches are bounded by bytes, so memory does not follow the input. 32 rather than 120 keeps
    /// CI's disk use (input plus stored dead letters) under a gigabyte.
    @Test func recordsOf10MiBIngestInBoundedBatchesWithBoundedMemoryAndNoMapFull() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let input = cli.file("large.ndjson").path
        let count = 32
        let padding = 10 << 20
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: Self.now).status == 0)
        do {
            try #require(FileManager.default.createFile(atPath: input, contents: nil))
            let out = try #require(FileHandle(forWritingAtPath: input))
            defer { try? out.close() }
            let pad = Data(repeating: UInt8(ascii: "x"), count: padding)
            for i in 0..<count {
                // A valid event but for its size: the padding is an ignored top-level field.
                out.write(
                    Data(
                        "{\"transaction_id\": \"large-\(i)\", \"customer_id\": \"neuratech\", \"event_type\": \"inference\", \"timestamp\": \"2026-10-10T10:00:00Z\", \"properties\": {\"tokens\": 1}, \"pad\": \""
                            .utf8))
                out.write(pad)
                out.write(Data("\"}\n".utf8))
            }
        }
        let started = ContinuousClock.now
        let run = try Measured.run(
            CLI.binary, ["ingest", input, "--format", "json", "--data", cli.store, "--now", Self.now],
            in: cli.data.path)
        let elapsed = ContinuousClock.now - started
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stdout
                == "{\"accepted\": 0, \"duplicates\": 0, \"dead_lettered\": \(count), \"metric_rejections\": 0}\n")
        #expect(!run.stderr.contains("MAP_FULL"), "\(run.stderr)")
        // One batch of the old kind held all 320 MiB of records, about 3.4 times over; 64 MiB
        // batches need a few hundred MB whatever the input (317 MB measured with 120 records).
        #expect(run.maxResidentKiB < 512 << 10, "peak RSS \(run.maxResidentKiB) KiB")
        print("ingest of \(count) records of 10 MiB took \(elapsed)")  // speed lives in the benchmarks

        // The dead letter keeps the whole record, and says why.
        let store = try Store(path: cli.store)
        let letter = try store.env.read { txn in
            try txn.get(Keys.seq(UInt64(count)), in: store.deadLetters).map {
                try DeadLetter(number: UInt64(count), decoding: $0)
            }
        }
        let last = try #require(letter)
        #expect(last.reason == .limitExceeded)
        #expect(last.position == "line \(count)")
        #expect(last.raw.count > padding)
        #expect(last.raw.prefix(21) == Array("{\"transaction_id\": \"l".utf8)[...])
        #expect(
            last.message.hasPrefix("the record is \(last.raw.count) bytes; the limit is 2097152 bytes"),
            "\(last.message)")
    }
}

/// Runs a program with its output in files and returns its peak resident memory (`wait4`'s
/// rusage, exact and without polling).
enum Measured {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var maxResidentKiB: Int
    }

    static func run(_ executable: URL, _ args: [String], in directory: String) throws -> Result {
        let outPath = directory + "/measured.out", errPath = directory + "/measured.err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        closeInheritedDescriptors(&actions)
        let argv = ([executable.path] + args).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable.path, &actions, nil, argv + [nil], environ)
        guard rc == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "posix_spawn: \(rc)"])
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return Result(
            status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
            maxResidentKiB: usage.ru_maxrss)
    }
}
