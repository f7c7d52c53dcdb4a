import DaybookEngine
import DaybookStore
import DaybookOutput
import DaybookWorkload
import Foundation
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
    static let binary: URL = {
        var candidates: [URL] = []
        for arg in CommandLine.arguments.prefix(3) where arg.contains(".build") {
            var dir = URL(fileURLWithPath: arg)
            for _ in 0..<4 {
                dir = dir.deletingLastPathComponent()
                candidates.append(dir.appendingPathComponent("daybook"))
            }
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/daybook"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

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
    func run(_ args: [String], now: String? = nil, stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = CLI.binary
        var full = args + ["--data", store]
        if let now { full += ["--now", now] }
        process.arguments = full
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
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
