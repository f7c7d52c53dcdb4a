import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A wall-clock bound on every test of a suite that holds even when a test is blocked in a
/// synchronous call (a pipe, `waitpid`, a socket), which Swift Testing's own time limit cannot
/// interrupt.
///
/// A thread outside the concurrency pool watches the running tests. At a test's bound it prints
/// what the test was doing (its last ``step(_:)``s), the processes it started and the process tree,
/// then SIGKILLs those processes: whatever the test waits on ends, and the test fails instead of
/// holding the run. A test that has still not ended `grace` seconds later ends the test process
/// (exit 1), and so does a run past ``runLimit``: CI then reports a hang with its cause in minutes
/// instead of at its own limit, with nothing to read.
///
/// ```swift
/// @Suite("Cluster failover", .serialized, .watchdog(seconds: 600))
/// ```
public struct Watchdog: TestTrait, SuiteTrait, TestScoping {
    /// The bound of each test (each case of a parameterized one).
    public var seconds: Int
    public var isRecursive: Bool { true }

    /// The bound for suites of async tests. Swift Testing starts every async test at once, and
    /// they wait for the concurrency pool's two threads while synchronous tests hold them (which is
    /// what keeps a few dozen process-spawning tests from running at the same time): their wall
    /// time includes that wait, several minutes on two cores.
    public static let asyncBound = 1500

    /// After a bound is reached and the test's processes are killed, how long the test may take to
    /// end before the whole test process is ended.
    public static let grace = 120
    /// The longest the whole test process may run (`DAYBOOK_TEST_RUN_LIMIT` seconds, default 30 min).
    public static let runLimit: Int =
        ProcessInfo.processInfo.environment["DAYBOOK_TEST_RUN_LIMIT"].flatMap { Int($0) } ?? 30 * 60

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Watchdog? {
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        Self.start
        let watched = Watched(name: "\(test.id)", seconds: seconds)
        Self.running.withLock { $0[ObjectIdentifier(watched)] = watched }
        defer { _ = Self.running.withLock { $0.removeValue(forKey: ObjectIdentifier(watched)) } }
        try await Self.$current.withValue(watched) { try await function() }
        if watched.expired {
            Issue.record("ran past its bound of \(seconds) s: the watchdog killed its processes (see its report above)")
        }
    }

    // MARK: What the tests tell it

    /// Records a step of the current test (shown if it hangs). Cheap; a no-op outside a watched test.
    public static func step(_ text: @autoclosure () -> String) {
        current?.record(text())
    }

    /// A process the current test started, killed (SIGKILL) at its bound. `marker`: text its
    /// command line contains, checked before the kill (for a daemon that is not a direct child);
    /// without it the process must still be a child of this one, so a reused pid is never hit.
    /// `command`, when given, is recorded as the step "started COMMAND (pid PID)".
    public static func adopt(pid: Int32, marker: String? = nil, command: String? = nil) {
        guard let current else { return }
        current.adopt(pid: pid, marker: marker)
        if let command { current.record("started \(command.prefix(300)) (pid \(pid))") }
    }

    /// A child just started with `Process.run()`: adopted, and its command line recorded as a step.
    public static func adopt(_ process: Process) {
        let command = ([process.executableURL?.path ?? ""] + (process.arguments ?? [])).joined(separator: " ")
        adopt(pid: process.processIdentifier, command: command)
    }

    /// Run at the current test's bound, on the watchdog's thread (e.g. killing a cluster's daemons).
    public static func atBound(_ action: @escaping @Sendable () -> Void) {
        current?.atBound(action)
    }

    @TaskLocal static var current: Watched?
    private static let running = Mutex<[ObjectIdentifier: Watched]>([:])
    private static let started = ContinuousClock.now

    private static let start: Void = {
        _ = started
        let thread = Thread {
            while true {
                sleep(1)  // a watchdog's poll interval: the deadlines decide
                check()
            }
        }
        thread.name = "test watchdog"
        thread.start()
    }()

    private static func check() {
        let now = ContinuousClock.now
        let watched = running.withLock { Array($0.values) }
        for w in watched where now >= w.deadline && !w.expired {
            w.expired = true
            report("a test ran past its bound of \(w.seconds) s: \(w.name)", [w])
            w.killEverything()
        }
        if let stuck = watched.first(where: { $0.expired && now >= $0.deadline + .seconds(grace) }) {
            end("\(stuck.name) did not end \(grace) s after its processes were killed: ending the test run", watched)
        }
        if now - started >= .seconds(runLimit) {
            end("the test run passed its limit of \(runLimit) s (DAYBOOK_TEST_RUN_LIMIT): ending it", watched)
        }
    }

    /// Reports, kills every watched test's processes, and ends the test process at once (no
    /// atexit handlers: another thread may hold what they need).
    private static func end(_ headline: String, _ watched: [Watched]) -> Never {
        report(headline, watched)
        for w in watched { w.killEverything() }
        fflush(nil)  // every output stream: what the tests printed so far
        _exit(1)
    }

    private static func report(_ headline: String, _ watched: [Watched]) {
        var text = "\n=== WATCHDOG: \(headline)\n"
        for w in watched { text += w.describe() }
        // On standard output, after what the tests printed (block-buffered when piped, as in CI).
        fflush(nil)
        FileHandle.standardOutput.write(Data(text.utf8))
        FileHandle.standardOutput.write(Data(processTable(extra: watched.flatMap(\.adopted)).utf8))
        FileHandle.standardOutput.write(Data("=== END WATCHDOG\n".utf8))
    }
}

/// This process's descendants and `extra`: pid, parent, state (T: stopped, Z: not yet reaped, D: in
/// the kernel), command line; read from /proc.
private func processTable(extra: [Int32]) -> String {
    struct Entry {
        var pid: Int32, parent: Int32, state: Character, command: String
    }
    var entries: [Int32: Entry] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(name), let stat = ProcessStat(pid) else { continue }
        entries[pid] = Entry(
            pid: pid, parent: stat.parent, state: stat.state, command: String((commandLine(of: pid) ?? "").prefix(240)))
    }
    var shown = Set(extra.filter { entries[$0] != nil })
    var frontier = [getpid()]
    while let p = frontier.popLast() {
        for e in entries.values where e.parent == p && shown.insert(e.pid).inserted { frontier.append(e.pid) }
    }
    var text = "  processes (pid parent state command):\n"
    for pid in shown.sorted() { if let e = entries[pid] { text += "  \(e.pid) \(e.parent) \(e.state) \(e.command)\n" } }
    return text
}

extension Trait where Self == Watchdog {
    /// Each test of the suite (or this test) ends within `seconds`, or the watchdog ends it: see ``Watchdog``.
    public static func watchdog(seconds: Int) -> Self { Watchdog(seconds: seconds) }
}

/// One running test as the watchdog sees it.
final class Watched: Sendable {
    let name: String
    let seconds: Int
    let begun = ContinuousClock.now
    let deadline: ContinuousClock.Instant
    private struct State {
        var steps: [(ContinuousClock.Instant, String)] = []
        var processes: [(pid: Int32, marker: String?)] = []
        var actions: [@Sendable () -> Void] = []
        var expired = false
    }
    private let state = Mutex(State())

    init(name: String, seconds: Int) {
        self.name = name
        self.seconds = seconds
        deadline = begun + .seconds(seconds)
    }

    var expired: Bool {
        get { state.withLock { $0.expired } }
        set { state.withLock { $0.expired = newValue } }
    }

    func record(_ step: String) {
        state.withLock {
            $0.steps.append((ContinuousClock.now, step))
            if $0.steps.count > 40 { $0.steps.removeFirst($0.steps.count - 40) }
        }
    }

    func adopt(pid: Int32, marker: String?) { state.withLock { $0.processes.append((pid, marker)) } }
    func atBound(_ action: @escaping @Sendable () -> Void) { state.withLock { $0.actions.append(action) } }

    var adopted: [Int32] { state.withLock { $0.processes.map(\.pid) } }

    func killEverything() {
        let (processes, actions) = state.withLock { ($0.processes, $0.actions) }
        for (pid, marker) in processes where Self.isOurs(pid, marker: marker) { killWithItsGroup(pid) }
        for action in actions { action() }
    }

    func describe() -> String {
        let (steps, processes) = state.withLock { ($0.steps, $0.processes) }
        var text = "--- \(name): running for \(ContinuousClock.now - begun), bound \(seconds) s\n"
        for (at, step) in steps { text += "  +\(at - begun)  \(step)\n" }
        let live = processes.filter { Self.isOurs($0.pid, marker: $0.marker) }.map(\.pid)
        text += "  its live processes: \(live)\n"
        return text
    }

    /// Whether `pid` is still the process that was adopted (see ``Watchdog/adopt(pid:marker:)``).
    private static func isOurs(_ pid: Int32, marker: String?) -> Bool {
        guard pid > 0 else { return false }
        if let marker { return commandLine(of: pid)?.contains(marker) ?? false }
        return ProcessStat(pid)?.parent == getpid()
    }
}
