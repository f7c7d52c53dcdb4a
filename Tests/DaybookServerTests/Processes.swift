import DaybookTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary directory for one test (a store, inputs, exports), removed at the end.
final class Scratch {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    var store: String { path("store") }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }
}

/// The built `daybook` executable, run as a user would.
enum Daybook {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The package root (two levels above this file's folder).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The `daybook` binary next to the test bundle.
    static let binary: URL = TestBinaries.daybook

    /// The spec's example catalog.
    static var exampleCatalog: String {
        let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/examples/catalog.json")
        if FileManager.default.fileExists(atPath: shared.path) { return shared.path }
        return packageRoot.appendingPathComponent("Tests/DaybookCLITests/Fixtures/golden/catalog.json").path
    }

    /// Runs `daybook ARGS` and waits for it (stdout and stderr read concurrently).
    @discardableResult
    static func run(_ args: [String], stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = args
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        Watchdog.adopt(process)
        let errData = Mutex(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errData.withLock { $0 = data }
            errDone.signal()
        }.start()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    /// Runs `daybook ARGS` and requires exit 0; returns standard output.
    @discardableResult
    static func ok(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try run(args)
        try #require(
            r.status == 0, "daybook \(args.joined(separator: " ")): exit \(r.status): \(r.stderr)",
            sourceLocation: sourceLocation)
        return r.stdout
    }

    /// `daybook stats --format json` as numbers.
    static func stats(_ store: String) throws -> [String: Int] {
        let text = try ok(["stats", "--format", "json", "--data", store])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        return object.compactMapValues { $0 as? Int }
    }

    /// The export of `store` as of `asOf`: file name → contents.
    static func export(_ store: String, asOf: String, now: String, into dir: String) throws -> [String: String] {
        try ok(["export", "--as-of", asOf, "--out", dir, "--data", store, "--now", now])
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            files[name] = try String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)
        }
        return files
    }
}

/// A `daybook serve` child on a free loopback port (`--port 0`, the address read from its first
/// line of output), stopped by the test on every path: ``stop()`` sends SIGTERM and waits, and
/// deinit kills it if it is still running.
final class ServeProcess {
    let process = Process()
    let port: Int
    let stderr: LineCounter
    let stdout: LineCounter

    /// Starts `daybook serve --data STORE --port 0 ARGS` and waits (bounded) until it listens.
    init(store: String, _ args: [String] = [], now: String? = nil) throws {
        process.executableURL = Daybook.binary
        process.arguments = ["serve", "--data", store, "--port", "0"] + (now.map { ["--now", $0] } ?? []) + args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let process = self.process
        try process.run()
        Watchdog.adopt(process)
        let stdout = LineCounter(out.fileHandleForReading)
        let stderr = LineCounter(err.fileHandleForReading)
        self.stdout = stdout
        self.stderr = stderr
        var address: String?
        let listening = waitUntil(seconds: 60) {
            address = stdout.lines.withLock { $0.first }
            return address != nil || !process.isRunning
        }
        guard listening, let line = address, line.hasPrefix("listening on http://127.0.0.1:"),
            let port = Int(line.split(separator: ":").last ?? "")
        else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            stderr.ended.wait()
            throw ServeFailure(
                message:
                    "serve did not start: \(address ?? "no output"); stderr: \(stderr.lines.withLock { $0 }.joined(separator: "\n"))"
            )
        }
        self.port = port
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// A new connection to the server.
    func connect(timeout: Int = 30) throws -> HTTPConnection { try HTTPConnection(port: port, timeout: timeout) }

    /// Sends `signal` and waits (bounded) for the exit; returns the exit status (nil: it did not
    /// exit in time and was killed).
    @discardableResult
    func stop(signal: Int32 = SIGTERM, seconds: Int = 60) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let exited = waitUntil(seconds: seconds) { !process.isRunning }
        if !exited { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        stdout.ended.wait()
        stderr.ended.wait()
        return exited ? process.terminationStatus : nil
    }

    var stderrText: String { stderr.lines.withLock { $0 }.joined(separator: "\n") }
}

struct ServeFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
