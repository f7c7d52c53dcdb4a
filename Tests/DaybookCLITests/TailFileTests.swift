import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import Foundation
import Synchronization
import Testing

/// `daybook tail --file` and `--stdin` as real processes: a growing file followed like `tail -F`,
/// checkpoints that commit with their events, restarts and SIGKILLs that never lose or double
/// anything.
@Suite("Tail a file", .watchdog(seconds: 600))
struct TailFileTests {
    static let now = "2026-10-21T00:00:00Z"

    /// A store with the example catalog and `count` generated event lines (unique ids).
    static func setUp(_ cli: CLI, events: Int = 60) throws -> [String] {
        let usage = cli.file("generated.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "5", "--start", "2026-10-01", "--days", "20", "--events-per-day", "40",
                "--out", usage,
            ]).status == 0)
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: now).status == 0)
        let lines = try String(contentsOfFile: usage, encoding: .utf8).split(separator: "\n").map(String.init)
        try #require(lines.count >= events)
        return Array(lines.prefix(events))
    }

    /// A `daybook tail` child; stopped with SIGKILL on every path that does not stop it on purpose.
    final class TailProcess {
        let process = Process()
        let out = Pipe()
        let err = Pipe()
        let stdin = Pipe()

        init(_ args: [String], cli: CLI) throws {
            process.executableURL = CLI.binary
            process.arguments = ["tail"] + args + ["--data", cli.store, "--now", TailFileTests.now, "--format", "json"]
            process.standardOutput = out
            process.standardError = err
            process.standardInput = stdin
            try process.run()
        }

        /// SIGTERM (the tail takes it with sigwait, whatever mask it inherited) and the exit status
        /// and output, within a bound.
        func terminate() throws -> (status: Int32, stdout: String, stderr: String) {
            kill(process.processIdentifier, SIGTERM)
            return try wait()
        }

        func wait() throws -> (status: Int32, stdout: String, stderr: String) {
            let errHandle = err.fileHandleForReading
            let errText = Background { errHandle.readDataToEndOfFile() }
            let outText = out.fileHandleForReading.readDataToEndOfFile()
            let e = errText.wait()
            process.waitUntilExit()
            return (
                process.terminationStatus, String(decoding: outText, as: UTF8.self), String(decoding: e, as: UTF8.self)
            )
        }

        func kill9() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        deinit { kill9() }
    }

    static func counters(_ cli: CLI) throws -> EngineCounters {
        try Engine(path: cli.store, access: .read).stats().counters
    }

    static func position(_ cli: CLI, _ path: String) throws -> SourcePosition? {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return try Engine(path: cli.store, access: .read).sourcePosition(source: "file:" + absolute)
    }

    static func append(_ path: String, _ text: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        handle.write(Data(text.utf8))
    }

    @Test func aPartialLastLineWaitsForItsNewline() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let lines = try Self.setUp(cli, events: 4)
        let path = cli.file("usage.ndjson").path
        try Self.append(path, lines[0...2].joined(separator: "\n") + "\n" + lines[3].prefix(40))
        let tail = try TailProcess(["--file", path], cli: cli)
        defer { tail.kill9() }
        let three = UInt64(lines[0...2].reduce(0) { $0 + $1.utf8.count + 1 })
        try #require(
            waitUntil(seconds: 30) {
                guard case .file(_, _, let offset, let count)? = try? Self.position(cli, path)?.place else {
                    return false
                }
                return offset == three && count == 3
            }, "the three complete lines commit, the checkpoint stops before the partial one")
        #expect(try Self.counters(cli).events == 3)
        try Self.append(path, String(lines[3].dropFirst(40)) + "\n")
        try #require(waitUntil(seconds: 30) { (try? Self.counters(cli).events) == 4 })
        let end = try tail.terminate()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(end.stdout.contains("\"accepted\": 4, \"duplicates\": 0, \"dead_lettered\": 0"), "\(end.stdout)")
        #expect(try Self.counters(cli).deadLetters == 0, "the line was read whole, never in two pieces")
    }

    @Test func followsALateFileRotationByRenameAndTruncation() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let lines = try Self.setUp(cli, events: 8)
        let path = cli.file("usage.ndjson").path
        let tail = try TailProcess(["--file", path], cli: cli)
        defer { tail.kill9() }
        // The file appears after the tail started.
        try Self.append(path, lines[0] + "\n" + lines[1] + "\n")
        try #require(waitUntil(seconds: 30) { (try? Self.counters(cli).events) == 2 })
        // Rotation by rename: the producer still appends to the old file through its descriptor,
        // then a new file takes the name.
        let old = try #require(FileHandle(forWritingAtPath: path))
        try old.seekToEnd()
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        old.write(Data((lines[2] + "\n").utf8))
        try old.close()
        try Self.append(path, lines[3] + "\n" + lines[4] + "\n")
        try #require(
            waitUntil(seconds: 30) { (try? Self.counters(cli).events) == 5 },
            "the old file's last line and the new file")
        // Truncation: the same file starts again.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        try #require(
            waitUntil(seconds: 30) {
                guard case .file(_, _, let offset, _)? = try? Self.position(cli, path)?.place else { return false }
                return offset == 0
            }, "the truncation is seen: the checkpoint goes back to offset 0")
        try Self.append(path, lines[5] + "\n")
        try #require(waitUntil(seconds: 30) { (try? Self.counters(cli).events) == 6 })
        let end = try tail.terminate()
        #expect(end.status == 0, "\(end.stderr)")
        let counters = try Self.counters(cli)
        #expect((counters.events, counters.duplicates, counters.deadLetters) == (6, 0, 0))
        // The six events are the six lines, each once.
        let expected = try cli.run(["export", "--as-of", "2026-10-21", "--out", cli.file("tail").path])
        #expect(expected.status == 0)
    }

    @Test func aRestartResumesAtTheCheckpointWithoutCountingTwice() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let lines = try Self.setUp(cli, events: 10)
        let path = cli.file("usage.ndjson").path
        try Self.append(path, lines[0..<6].joined(separator: "\n") + "\n\n")  // a blank line is skipped
        do {
            let tail = try TailProcess(["--file", path, "--batch-size", "2"], cli: cli)
            defer { tail.kill9() }
            try #require(waitUntil(seconds: 30) { (try? Self.counters(cli).events) == 6 })
            #expect(try tail.terminate().status == 0)
        }
        try Self.append(path, lines[6..<10].joined(separator: "\n") + "\n")
        let tail = try TailProcess(["--file", path, "--batch-size", "2"], cli: cli)
        defer { tail.kill9() }
        try #require(waitUntil(seconds: 30) { (try? Self.counters(cli).events) == 10 })
        let end = try tail.terminate()
        #expect(end.status == 0)
        #expect(end.stdout.contains("\"accepted\": 4, \"duplicates\": 0"), "only the new lines: \(end.stdout)")
        #expect(try Self.counters(cli).duplicates == 0)
        guard case .file(_, _, _, let count)? = try Self.position(cli, path)?.place else {
            Issue.record("no file checkpoint")
            return
        }
        #expect(count == 11, "eleven lines (one blank) lie before the checkpoint")
    }

    /// Two tails of one file into one store: the checkpoint each batch requires is the one its
    /// previous batch wrote, so the second writer of the source stops (exit 1) instead of
    /// interleaving, and nothing is counted twice.
    @Test func aSecondTailOfTheSameFileIntoTheSameStoreStops() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let lines = try Self.setUp(cli, events: 60)
        let path = cli.file("usage.ndjson").path
        try Self.append(path, lines[0] + "\n")
        let a = try TailProcess(["--file", path, "--batch-size", "1"], cli: cli)
        defer { a.kill9() }
        let b = try TailProcess(["--file", path, "--batch-size", "1"], cli: cli)
        defer { b.kill9() }
        var written = 1
        while written < lines.count && a.process.isRunning && b.process.isRunning {
            try Self.append(path, lines[written] + "\n")
            written += 1
            _ = waitUntil(seconds: 5) { (try? Self.counters(cli).events) ?? 0 >= UInt64(written) }
        }
        try #require(waitUntil(seconds: 30) { !a.process.isRunning || !b.process.isRunning }, "one of the two stops")
        let (stopped, running) = a.process.isRunning ? (b, a) : (a, b)
        let end = try stopped.wait()
        #expect(end.status == 1)
        #expect(end.stderr.contains("another process follows the same source"), "\(end.stderr)")
        try Self.append(path, lines[written...].map { $0 + "\n" }.joined())
        // The generator repeats some ids on purpose: those are the only duplicates there may be.
        let ids = try lines.map { line -> String in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require(object?["transaction_id"] as? String)
        }
        let repeats = UInt64(ids.count - Set(ids).count)
        let caughtUp = waitUntil(seconds: 30) {
            guard let c = try? Self.counters(cli) else { return false }
            return c.events + c.duplicates == UInt64(lines.count)
        }
        let last = try running.terminate()
        let events = try Self.counters(cli).events
        try #require(caughtUp, "the other tail goes on: \(events) events; \(last)")
        #expect(last.status == 0)
        #expect(try Self.counters(cli).duplicates == repeats, "no line was ingested by both")
        #expect(try Self.counters(cli).events == UInt64(Set(ids).count))
    }

    @Test func standardInputIsReadToItsEndWithoutACheckpoint() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let lines = try Self.setUp(cli, events: 5)
        let tail = try TailProcess(["--stdin"], cli: cli)
        defer { tail.kill9() }
        tail.stdin.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n{bad\n" + lines[0] + "\n").utf8))
        try tail.stdin.fileHandleForWriting.close()
        let end = try tail.wait()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(end.stdout.contains("\"accepted\": 5, \"duplicates\": 1, \"dead_lettered\": 1"), "\(end.stdout)")
        #expect(try Engine(path: cli.store, access: .read).sourcePositions().isEmpty, "a pipe has no checkpoint")
        let letters = try cli.run(["dead-letters", "--format", "csv"])
        #expect(letters.stdout.contains("stdin") && letters.stdout.contains("line 6"), "\(letters.stdout)")
    }

    /// SIGKILL at random moments while the tail catches up on a file that is rotated in the
    /// middle: after a last clean run, the store equals one clean ingest of the same lines.
    @Test func killedAtRandomMomentsWithARotationTheStoreEqualsACleanIngest() throws {
        let kills = Int(ProcessInfo.processInfo.environment["DAYBOOK_TAIL_KILLS"] ?? "") ?? 10
        let cli = try CLI()
        defer { cli.remove() }
        try #require(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: Self.now).status == 0)
        // The golden inputs: duplicates, malformed lines, too late and future events.
        let golden = CLI.goldenDirectory
        let generated = cli.file("generated.ndjson").path
        try #require(
            try cli.run([
                "generate", "--seed", "11", "--start", "2026-09-20", "--days", "30", "--events-per-day", "60",
                "--out", generated,
            ]).status == 0)
        let first =
            try String(contentsOfFile: generated, encoding: .utf8)
            + String(contentsOf: golden.appendingPathComponent("events0.ndjson"), encoding: .utf8)
        let second =
            try String(contentsOf: golden.appendingPathComponent("events1.ndjson"), encoding: .utf8)
            + String(contentsOf: golden.appendingPathComponent("late.ndjson"), encoding: .utf8)
        let path = cli.file("usage.ndjson").path
        // A producer appends the lines in chunks of random size (cut anywhere, mid-line too), then
        // rotates the file by rename and writes the rest to a new one, while the tail is killed again
        // and again. (The pauses pace the producer; nothing waits on them.)
        let producer = Background {
            var random = SystemRandomNumberGenerator()
            for (i, part) in [first, second].enumerated() {
                if i == 1 { try? FileManager.default.moveItem(atPath: path, toPath: path + ".1") }
                FileManager.default.createFile(atPath: path, contents: nil)
                guard let handle = FileHandle(forWritingAtPath: path) else { return Data("cannot write".utf8) }
                var bytes = Array(part.utf8)[...]
                while !bytes.isEmpty {
                    let n = min(bytes.count, Int.random(in: 1...4000, using: &random))
                    handle.write(Data(bytes.prefix(n)))
                    bytes = bytes.dropFirst(n)
                    usleep(UInt32.random(in: 2_000...18_000, using: &random))
                }
                try? handle.close()
            }
            return Data()
        }
        var random = SystemRandomNumberGenerator()
        var progress: [UInt64] = []
        for _ in 0..<kills {
            let tail = try TailProcess(["--file", path, "--batch-size", "5"], cli: cli)
            defer { tail.kill9() }
            usleep(UInt32.random(in: 100_000...1_000_000, using: &random))
            tail.kill9()
            progress.append(try Self.counters(cli).events)
        }
        #expect(producer.wait().isEmpty, "the producer wrote both files")
        let total = UInt64((first + second).utf8.count)
        let secondLines = UInt64(second.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
        let tail = try TailProcess(["--file", path], cli: cli)
        defer { tail.kill9() }
        try #require(
            waitUntil(seconds: 120) {
                guard case .file(_, _, let offset, let count)? = try? Self.position(cli, path)?.place else {
                    return false
                }
                return offset == UInt64(second.utf8.count) && count == secondLines
            }, "the tail catches up to the end of the new file (\(total) bytes in all)")
        #expect(try tail.terminate().status == 0)
        let final = try Self.counters(cli).events
        let midway = zip([0] + progress, progress).filter { $0.0 < $0.1 && $0.1 < final }.count
        #expect(midway >= min(3, kills / 3), "kills landed while the tail was catching up: \(progress) of \(final)")
        print("tail kill test: \(kills) kills, events after each: \(progress), final \(final)")

        let clean = try CLI()
        defer { clean.remove() }
        try #require(try clean.run(["catalog", "apply", try clean.exampleCatalog()], now: Self.now).status == 0)
        let all = try clean.write("all.ndjson", first + second)
        try #require(try clean.run(["ingest", all], now: Self.now).status == 0)
        let a = try Self.exportFiles(cli), b = try Self.exportFiles(clean)
        #expect(a == b, "the killed and restarted tail's export equals a clean ingest's")
        let (x, y) = (try Self.counters(cli), try Self.counters(clean))
        #expect((x.events, x.duplicates) == (y.events, y.duplicates), "nothing counted twice")
        #expect(x.deadLetters == y.deadLetters, "each dead letter once")
        let verify = try cli.run(["replay", "--verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    static func exportFiles(_ cli: CLI) throws -> [String: String] {
        let out = cli.file("export-\(UUID().uuidString)").path
        let result = try cli.run(["export", "--as-of", "2026-11-25", "--out", out], now: now)
        try #require(result.status == 0, "\(result.stderr)")
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: out) {
            files[name] = try String(contentsOfFile: out + "/" + name, encoding: .utf8)
        }
        return files
    }
}
