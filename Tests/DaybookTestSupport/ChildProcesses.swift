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
            }
            if !buffer.isEmpty { lines.withLock { $0.append(String(decoding: buffer, as: UTF8.self)) } }
            ended.signal()
        }.start()
    }

    /// Lines read so far.
    public var count: Int { lines.withLock { $0.count } }
    /// Whether a line read so far contains `text`.
    public func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
    /// The lines read so far, joined by newlines.
    public var text: String { lines.withLock { $0.joined(separator: "\n") } }
    /// Waits until the writing end is closed (the child ended), at most `seconds`.
    public func waitForEnd(seconds: Int = 30) -> Bool { ended.wait(timeout: .now() + .seconds(seconds)) == .success }
}
