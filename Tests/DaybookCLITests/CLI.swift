import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import Synchronization
import Testing

/// Runs the built `daybook` executable, as a user would, and captures what it prints.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The package root (two levels above this file's folder).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The `daybook` binary next to the test bundle (SwiftPM builds it because the tests depend on it).
    static let binary: URL = TestBinaries.daybook

    /// The golden scenario: `../shared/examples/golden` when present, else the copy kept in the tests.
    static let goldenDirectory: URL = {
        let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/examples/golden")
        if FileManager.default.fileExists(atPath: shared.appendingPathComponent("script.json").path) { return shared }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/golden")
    }()

    let data: URL

    init() throws {
        data = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: data) }

    var store: String { data.appendingPathComponent("store").path }

    /// Runs `daybook ARGS --data STORE [--now NOW]` and waits for it.
    @discardableResult
    func run(_ args: [String], now: String? = nil, stdin: Data? = nil, environment: [String: String]? = nil)
        throws -> Result
    {
        var full = args + ["--data", store]
        if let now { full += ["--now", now] }
        return try CLI.execute(CLI.binary, full, stdin: stdin, environment: environment)
    }

    /// Runs `daybook ARGS` exactly as given (no `--data`, no `--now`).
    @discardableResult
    static func daybook(_ args: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> Result {
        try execute(binary, args, stdin: stdin, environment: environment)
    }

    /// Runs a program and waits for it. Standard input is written, and standard output and error
    /// are read, each on its own thread, so a child that fills one pipe while the other is being
    /// drained (or before it has read all its input) cannot block the test.
    ///
    /// `environment`: variables set on top of the test's own environment (nil: inherit it as is).
    static func execute(
        _ executable: URL, _ args: [String], stdin: Data? = nil, environment: [String: String]? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = args
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        Watchdog.adopt(process)
        let writer = Background {
            if let stdin { input.fileHandleForWriting.write(stdin) }
            try? input.fileHandleForWriting.close()
            return Data()
        }
        let errReader = Background { err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = errReader.wait()
        _ = writer.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    func file(_ name: String) -> URL { data.appendingPathComponent(name) }

    /// The spec's example catalog (embedded in the engine), written to a file for `catalog apply`.
    func exampleCatalog() throws -> String { try write("example-catalog.json", ExampleCatalog.json) }

    func write(_ name: String, _ text: String) throws -> String {
        let url = file(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
