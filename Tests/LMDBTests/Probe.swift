import Foundation
import Synchronization

/// Text a child process writes to one pipe, read on its own thread so the child never blocks on a full pipe.
private final class PipeText: Sendable {
    private let state = Mutex<(text: String, ended: Bool)>(("", false))
    private let changed = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                state.withLock { $0.text += String(decoding: data, as: UTF8.self) }
                changed.signal()
            }
            state.withLock { $0.ended = true }
            changed.signal()
        }
    }

    var text: String { state.withLock { $0.text } }

    /// Waits (bounded) until `found` says yes to the text so far, or the pipe ends; returns the verdict.
    func wait(seconds: Int, until found: (String) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + .seconds(seconds)
        while true {
            let (text, ended) = state.withLock { ($0.text, $0.ended) }
            if found(text) { return true }
            if ended || changed.wait(timeout: deadline) == .timedOut { return found(self.text) }
        }
    }
}

/// A running `lmdb-probe` (built by SwiftPM because LMDBTests depends on it). Its stdout and stderr
/// are read concurrently; call ``stop()`` on every path (defer), which ends it if still running.
final class Probe {
    /// The `lmdb-probe` binary in the products directory next to the test bundle.
    static let binary: URL = {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var candidates: [URL] = []
        for arg in CommandLine.arguments.prefix(3) where arg.contains(".build") {
            var dir = URL(fileURLWithPath: arg)
            for _ in 0..<4 {
                dir = dir.deletingLastPathComponent()
                candidates.append(dir.appendingPathComponent("lmdb-probe"))
            }
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/lmdb-probe"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    private let process = Process()
    private let input = Pipe()
    private let stdout: PipeText
    private let stderr: PipeText
    private let exited = Signal()

    /// Starts `lmdb-probe ARGUMENTS`.
    init(_ arguments: [String]) throws {
        let out = Pipe(), err = Pipe()
        process.executableURL = Probe.binary
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = out
        process.standardError = err
        let exited = self.exited
        process.terminationHandler = { _ in exited.fire() }
        try process.run()
        stdout = PipeText(out.fileHandleForReading)
        stderr = PipeText(err.fileHandleForReading)
    }

    /// Everything the probe printed so far, for failure messages.
    var transcript: String { "stdout: \(stdout.text)\nstderr: \(stderr.text)" }

    /// The first stdout line starting with `prefix`, waiting up to `seconds` for it.
    func line(startingWith prefix: String, seconds: Int = 60) -> String? {
        func find(_ text: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
        }
        _ = stdout.wait(seconds: seconds) { find($0) != nil }
        return find(stdout.text)
    }

    /// Closes the probe's stdin (what `hold-write` waits for).
    func closeInput() { try? input.fileHandleForWriting.close() }

    /// The exit status once the probe has exited, waiting up to `seconds`; nil if it is still running.
    func exitStatus(seconds: Int = 60) -> Int32? {
        guard exited.wait(seconds: seconds) else { return nil }
        return process.terminationStatus
    }

    /// Ends the probe if it still runs and waits (bounded) for it.
    func stop() {
        closeInput()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }  // SIGTERM may be blocked in test children
        _ = exited.wait(seconds: 30)
    }
}
