import Dispatch
import Foundation
import Synchronization

/// The executables the tests run as child processes.
public enum TestBinaries {
    /// The package root (two levels above this file's folder).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A product built next to the test bundle (SwiftPM builds it because the tests depend on it).
    public static func product(_ name: String) -> URL {
        var candidates: [URL] = []
        for arg in CommandLine.arguments.prefix(3) where arg.contains(".build") {
            var dir = URL(fileURLWithPath: arg)
            for _ in 0..<4 {
                dir = dir.deletingLastPathComponent()
                candidates.append(dir.appendingPathComponent(name))
            }
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/\(name)"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }

    /// The built `daybook`.
    public static let daybook = product("daybook")
}

/// Reads a child's output (stderr or stdout) line by line on its own thread (so the child never
/// blocks on a full pipe), keeping the lines as they arrive.
public final class LineCounter: Sendable {
    public let lines = Mutex<[String]>([])
    public let ended = DispatchSemaphore(value: 0)
    /// What came after the last newline so far (a crash report's "Backtracing from …" line has
    /// none until the backtrace is written).
    private let unterminated = Mutex("")

    public init(_ handle: FileHandle) {
        Thread { [self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    lines.withLock { $0.append(line) }
                    buffer.removeSubrange(buffer.startIndex...nl)
                }
                let rest = String(decoding: buffer, as: UTF8.self)
                unterminated.withLock { $0 = rest }
            }
            if !buffer.isEmpty { lines.withLock { $0.append(String(decoding: buffer, as: UTF8.self)) } }
            unterminated.withLock { $0 = "" }
            ended.signal()
        }.start()
    }

    /// Lines read so far.
    public var count: Int { lines.withLock { $0.count } }
    /// Whether a line read so far (the unterminated last one included) contains `text`.
    public func contains(_ text: String) -> Bool {
        lines.withLock { $0.contains { $0.contains(text) } } || unterminated.withLock { $0.contains(text) }
    }
    /// The lines read so far (the unterminated last one included), joined by newlines.
    public var text: String {
        let rest = unterminated.withLock { $0 }
        return lines.withLock { $0.joined(separator: "\n") } + (rest.isEmpty ? "" : "\n" + rest)
    }
    /// Waits until the writing end is closed (the child ended), at most `seconds`.
    public func waitForEnd(seconds: Int = 30) -> Bool { ended.wait(timeout: .now() + .seconds(seconds)) == .success }
}

/// SIGKILL of `pid` and of its process group, when it leads one (Foundation's `Process` starts every
/// child as the leader of its own group): what the child started goes too. A crashing Swift
/// program spawns `swift-backtrace`, which inherits the child's descriptors, among them the one
/// Foundation watches for the child's exit; left running after its target is killed, it can wait
/// for ever, and Foundation then never sees the child end.
public func killWithItsGroup(_ pid: Int32) {
    guard pid > 0 else { return }
    if getpgid(pid) == pid { kill(-pid, SIGKILL) }
    kill(pid, SIGKILL)
}

/// Adds "close every descriptor from 3 up" to `actions` (glibc's
/// `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: Swift's Glibc module hides
/// it). Without it a child spawned directly inherits every descriptor the test process has open at
/// that instant, among them the end of a socket pair by which Foundation sees another child exit:
/// a long-lived child (PostgreSQL's postmaster) holding one makes that other child look alive for
/// ever, and a test waiting for it hangs.
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
    else { preconditionFailure("glibc 2.34+ is needed (posix_spawn_file_actions_addclosefrom_np)") }
    _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
}

/// A process's state and parent, from `/proc/PID/stat`; nil when there is no such process.
public struct ProcessStat {
    /// R, S, D (in the kernel), T (stopped), Z (ended, not yet reaped), …
    public var state: Character
    public var parent: Int32

    public init?(_ pid: Int32) {
        // "pid (comm) state ppid …": the command may hold spaces and parentheses, so from the last ") ".
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.range(of: ") ", options: .backwards)
        else { return nil }
        let fields = stat[close.upperBound...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
        self.state = state
        self.parent = parent
    }
}

/// A process's command line, its arguments joined by spaces; nil when there is no such process.
public func commandLine(of pid: Int32) -> String? {
    guard let bytes = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
    return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
}
