import DaybookCore
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Dispatch
import Foundation
import LMDB

#if canImport(Glibc)
    import Glibc
#endif

/// The knobs of the fault-injection suite, read from the environment so that `tools/fault-inject`
/// runs the long versions of the same tests.
enum FaultKnobs {
    /// Kills per verb (`DAYBOOK_FAULT_KILLS`, default 20: the CI figure). Ingest splits them
    /// between its two batch sizes.
    static let killsPerVerb: Int = {
        let value = ProcessInfo.processInfo.environment["DAYBOOK_FAULT_KILLS"].flatMap { Int($0) } ?? 20
        return max(1, value)
    }()

    /// The seed of every random choice of the suite (`DAYBOOK_FAULT_SEED` replays a run); by
    /// default a fresh one per run, printed by each test.
    static let seed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["DAYBOOK_FAULT_SEED"], let seed = UInt64(text) {
            return seed
        }
        return UInt64(DispatchTime.now().uptimeNanoseconds) ^ (UInt64(UInt32(bitPattern: getpid())) << 32)
    }()
}

/// Nanoseconds on the monotonic clock.
func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// A `daybook` process started in order to be killed. Its standard error is read line by line
/// with a bounded wait (`poll`), its standard output drained on a thread of its own, and it is
/// killed and waited for on every path (`kill()`, or at the latest `deinit`).
final class Victim {
    let process = Process()
    private let err = Pipe()
    private let out = Pipe()
    private var pending: [UInt8] = []
    private var stdoutReader: Background?
    private var stdoutData: Data?
    /// When it was started, on the monotonic clock.
    let startedAt: UInt64

    init(_ args: [String]) throws {
        process.executableURL = CLI.binary
        process.arguments = args
        process.standardError = err
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        startedAt = monotonicNanoseconds()
        let out = self.out
        stdoutReader = Background { out.fileHandleForReading.readDataToEndOfFile() }
    }

    deinit { kill() }

    var pid: Int32 { process.processIdentifier }

    /// The next line the process wrote on standard error; nil at the end of its standard error,
    /// or when `seconds` pass without a complete line.
    func nextErrorLine(within seconds: Double = 300) -> String? {
        let fd = err.fileHandleForReading.fileDescriptor
        let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
        while true {
            if let nl = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                return line
            }
            let now = monotonicNanoseconds()
            guard now < deadline else { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(1_000, (deadline - now) / 1_000_000 + 1)))
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { return nil }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }  // end of standard error: the process is gone
            pending += chunk[..<n]
        }
    }

    /// CPU time used so far by the process's main thread, in nanoseconds (Linux
    /// `/proc/PID/schedstat`); nil where that is not available or once the process is gone.
    func mainThreadCPUNanoseconds() -> UInt64? {
        let fd = open("/proc/\(pid)/schedstat", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 96)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        var value: UInt64 = 0
        var digits = 0
        for byte in buffer[..<n] {
            guard byte >= 0x30 && byte <= 0x39 else { break }
            value = value &* 10 &+ UInt64(byte - 0x30)
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    /// Busy-waits for `microseconds` on the monotonic clock, or until the process has ended. A
    /// bounded spin that picks a moment, not a synchronisation.
    func spin(microseconds: UInt64) {
        let until = monotonicNanoseconds() + microseconds * 1_000
        var i = 0
        while monotonicNanoseconds() < until {
            i += 1
            if i % 64 == 0, !process.isRunning { return }
            sched_yield()  // a spin that leaves the core to whoever needs it (the victim, on two cores)
        }
    }

    /// Busy-waits until the process's main thread has used `nanoseconds` of CPU time (a moment
    /// measured against its own progress, whatever the load of the machine), until it has ended,
    /// or at most `wallSeconds`. Where `/proc` is missing, the wall clock since the start stands in.
    /// Returns the CPU time last seen.
    @discardableResult
    func spin(cpuNanoseconds target: UInt64, wallSeconds: Double = 300) -> UInt64 {
        let deadline = startedAt + UInt64(wallSeconds * 1e9)
        var seen: UInt64 = 0
        while monotonicNanoseconds() < deadline {
            guard let cpu = mainThreadCPUNanoseconds() else {
                if !process.isRunning { return seen }
                let wall = monotonicNanoseconds() - startedAt
                if wall >= target { return wall }
                continue
            }
            seen = cpu
            if cpu >= target || !process.isRunning { return cpu }
            sched_yield()
        }
        return seen
    }

    /// Polls until the process ends (at most `wallSeconds`): what an uninterrupted run costs, to
    /// pick moments in the runs that are killed.
    func profileUntilExit(wallSeconds: Double = 300) -> RunProfile {
        let deadline = startedAt + UInt64(wallSeconds * 1e9)
        var samples: [(wall: UInt64, cpu: UInt64)] = []
        while monotonicNanoseconds() < deadline {
            guard let cpu = mainThreadCPUNanoseconds(), process.isRunning else { break }
            if samples.last?.cpu != cpu { samples.append((monotonicNanoseconds(), cpu)) }
            sched_yield()
        }
        let end = monotonicNanoseconds()
        let cpu = samples.last?.cpu ?? (end - startedAt)
        // From the moment it had done 97% of its work to its exit: the commit, its sync, the exit.
        let nearEnd = samples.first { $0.cpu >= cpu / 100 * 97 }?.wall ?? end
        return RunProfile(cpu: cpu, tail: end - nearEnd)
    }

    /// Sends SIGKILL if the process is still running, waits for it, and says whether the signal
    /// is what ended it (false: it had already exited on its own).
    @discardableResult
    func kill() -> Bool {
        if process.isRunning { sigkill(pid) }
        process.waitUntilExit()
        if let reader = stdoutReader {
            stdoutData = reader.wait()
            stdoutReader = nil
        }
        return killedBySignal
    }

    /// Waits for the process to end on its own (at most `seconds`, then it is killed).
    func waitForExit(seconds: Double = 300) -> (status: Int32, stdout: String) {
        let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
        while process.isRunning && monotonicNanoseconds() < deadline {
            var pfd = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&pfd, 0, 5)  // a bounded pause between checks of a condition
        }
        kill()
        return (process.terminationStatus, String(decoding: stdoutData ?? Data(), as: UTF8.self))
    }

    var killedBySignal: Bool {
        !process.isRunning && process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }
}

/// What an uninterrupted run of a verb costs: its main thread's CPU time, and the wall time from
/// the moment it had used 97% of it to its exit (the commit, its sync and the exit, mostly).
struct RunProfile {
    var cpu: UInt64
    var tail: UInt64

    /// A random moment in a run like this one: half the time anywhere in its work (a CPU time), a
    /// quarter in its last tenth (the write-back of what it changed), a quarter in its tail (97% of
    /// the CPU time, then a spin of up to half the tail: the commit and its sync, or the exit).
    func moment(_ rng: inout SplitMixRandom) -> (cpu: UInt64, microseconds: UInt64) {
        switch rng.below(4) {
        case 0, 1: return (rng.below(cpu), 0)
        case 2: return (cpu / 10 * 9 + rng.below(cpu / 10), 0)
        default: return (cpu / 100 * 97, rng.below(max(1, tail / 1_000 / 2)))
        }
    }
}

/// SIGKILL to one process, by its id.
private func sigkill(_ pid: Int32) { _ = kill(pid, SIGKILL) }

/// The line number a `daybook ingest --progress` line acknowledges (`committed through line N: {…}`).
func acknowledgedLine(_ progress: String) -> Int? {
    guard progress.hasPrefix("committed through line ") else { return nil }
    let rest = progress.dropFirst("committed through line ".count)
    return Int(rest.prefix { $0.isNumber })
}

/// A store read in one read transaction of an environment of its own (no `daybook` process has
/// it open any more), with every invariant a crash must not break:
/// - the log is dense (seq 1…n), `last_seq` = n = the `events` counter;
/// - each transaction id is logged once, and `transactions` maps exactly the logged ids to their seq;
/// - dead letters, metric rejections and catalog versions are stored as many times as counted;
/// - every materialized invoice is either finalized (has a snapshot) or open (in `open_invoices`), never both or neither.
struct StoreAudit {
    var lastSeq: UInt64 = 0
    var counters = EngineCounters()
    var catalogVersion: UInt32 = 0
    var loggedIDs: Set<String> = []
    /// Finalization snapshots by invoice key, as stored (bytes).
    var snapshots: [[UInt8]: [UInt8]] = [:]
    var invoices = 0
    /// Every broken invariant, described.
    var problems: [String] = []

    ///
    /// - Parameter decodingLog: decode every logged event to check its id (false: only count the
    ///   log, for verbs that never append to it).
    static func read(path: String, decodingLog: Bool = true) throws -> StoreAudit {
        let store = try Store(path: path)
        var audit = StoreAudit()
        try store.env.read { txn in
            let state = try EngineState.load(store, txn)
            audit.lastSeq = state.lastSeq
            audit.counters = state.counters
            audit.catalogVersion = state.catalogVersion
            func require(_ condition: Bool, _ message: @autoclosure () -> String) {
                if !condition, audit.problems.count < 20 { audit.problems.append(message()) }
            }
            var expectedSeq: UInt64 = 1
            if !decodingLog {
                let count = UInt64(try txn.count(in: store.log))
                let last = try txn.last(in: store.log).map { Keys.readSeq($0.key) } ?? 0
                require(count == last, "\(count) log entries, the last at seq \(last)")
                expectedSeq = count + 1
            }
            try txn.scan(in: store.log) { key, value in
                guard decodingLog else { return false }
                let seq = Keys.readSeq(key)
                require(seq == expectedSeq, "log seq \(seq) where \(expectedSeq) was next")
                expectedSeq = seq + 1
                let id = try LoggedEvent(seq: seq, decoding: value).event().transactionID
                require(audit.loggedIDs.insert(id).inserted, "transaction id \(id) logged twice (again at seq \(seq))")
                let mapped = try txn.get(Array(id.utf8), in: store.transactions)
                require(mapped == Keys.seq(seq), "transactions does not map \(id) to its seq \(seq)")
                return true
            }
            let logged = decodingLog ? UInt64(audit.loggedIDs.count) : expectedSeq - 1
            require(
                expectedSeq - 1 == state.lastSeq, "log ends at seq \(expectedSeq - 1), last_seq is \(state.lastSeq)")
            require(
                state.counters.events == state.lastSeq, "events \(state.counters.events), last_seq \(state.lastSeq)")
            let ids = UInt64(try txn.count(in: store.transactions))
            require(ids == logged, "transactions holds \(ids) ids for \(logged) logged events")
            // Letters are numbered 1, 2, … with none lost; the counter counts outcomes, and a
            // record dead-lettered again on resume (same source, position, bytes) is counted but
            // not stored twice, so the counter is at least the number stored.
            let deadLetters = UInt64(try txn.count(in: store.deadLetters))
            let indexed = UInt64(try txn.count(in: store.deadLetterKeys))
            require(
                deadLetters == state.lastDeadLetter && state.counters.deadLetters >= deadLetters
                    && indexed == deadLetters,
                "\(deadLetters) dead letters stored, counter \(state.counters.deadLetters), last number \(state.lastDeadLetter)"
            )
            let rejections = UInt64(try txn.count(in: store.rejections))
            require(
                rejections == state.counters.metricRejections,
                "\(rejections) metric rejections stored, counter \(state.counters.metricRejections)")
            let versions = try txn.count(in: store.catalogs)
            require(
                versions == Int(state.catalogVersion),
                "\(versions) catalog versions stored, catalog_version \(state.catalogVersion)")
            try txn.scan(in: store.snapshots) { key, value in
                audit.snapshots[key] = value
                return true
            }
            require(
                UInt64(audit.snapshots.count) == state.counters.invoicesFinalized,
                "\(audit.snapshots.count) snapshots, invoices_finalized \(state.counters.invoicesFinalized)")
            try txn.scan(in: store.invoices) { key, value in
                audit.invoices += 1
                let invoice = try InvoiceState(decoding: value)
                let finalized = audit.snapshots[key] != nil
                let open = try txn.contains(
                    Keys.openInvoice(end: invoice.period.end, invoice: key), in: store.openInvoices)
                require(
                    finalized != open,
                    "invoice \(invoice.contractID)/\(invoice.period.start) is \(finalized ? "finalized and open" : "neither finalized nor open")"
                )
                return true
            }
        }
        return audit
    }
}

/// `daybook stats --format json` as numbers.
func statsCounters(_ cli: CLI) throws -> [String: Int] {
    let result = try cli.run(["stats", "--format", "json"])
    guard result.status == 0, let data = result.stdout.data(using: .utf8),
        let whole = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw FaultInjectionError("stats failed: \(result.stdout)\(result.stderr)") }
    // The counters; `sources` (checkpoints and lag) is a list.
    let object = whole.compactMapValues { $0 as? Int }
    return object
}

/// The three breakdown files of `daybook export --as-of DATE`, as bytes.
func exportFiles(_ cli: CLI, asOf: String, now: String, name: String) throws -> [String: Data] {
    let dir = cli.file(name)
    let result = try cli.run(["export", "--as-of", asOf, "--out", dir.path], now: now)
    guard result.status == 0 else { throw FaultInjectionError("export failed: \(result.stdout)\(result.stderr)") }
    var files: [String: Data] = [:]
    for file in ["invoices.csv", "line_items.csv", "balances.csv"] {
        files[file] = try Data(contentsOf: dir.appendingPathComponent(file))
    }
    try? FileManager.default.removeItem(at: dir)
    return files
}

/// `replay --verify`: nil when clean, else what it printed.
func verifyProblems(_ cli: CLI) throws -> String? {
    let result = try cli.run(["replay", "--verify"])
    return result.status == 0 ? nil : "replay --verify exited \(result.status): \(result.stdout)\(result.stderr)"
}

/// `daybook discrepancies --format json`, parsed; `dropping` keys removed from every record.
func discrepancies(_ cli: CLI, dropping: Set<String> = []) throws -> NSArray {
    let result = try cli.run(["discrepancies", "--format", "json"])
    guard result.status == 0, let data = result.stdout.data(using: .utf8),
        let records = try JSONSerialization.jsonObject(with: data) as? [[String: Any]]
    else { throw FaultInjectionError("discrepancies failed: \(result.stdout)\(result.stderr)") }
    return records.map { record in record.filter { !dropping.contains($0.key) } } as NSArray
}

struct FaultInjectionError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension SplitMixRandom {
    /// Uniform in `0..<bound` (0 when bound is 0).
    mutating func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }
}

/// The suite's seeded generator (the workload's SplitMix64, so a seed means the same thing everywhere).
typealias SplitMixRandom = DaybookWorkload.SplitMix64
