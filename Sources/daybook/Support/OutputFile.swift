import Foundation

/// A buffered writer to standard output or a file: bytes are collected up to `capacity` and
/// written with `write(2)` (short writes and `EINTR` retried), so a large output streams through a
/// fixed amount of memory.
final class OutputFile {
    private let fd: Int32
    private let name: String
    private let owned: Bool
    private var buffer: [UInt8] = []
    private let capacity: Int

    /// Standard output.
    init(capacity: Int = 1 << 20) {
        fd = STDOUT_FILENO
        name = "standard output"
        owned = false
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    /// A file, created or truncated. An unopenable path is bad usage (exit 2).
    init(path: String, capacity: Int = 1 << 20) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw UsageError("cannot write \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        name = path
        owned = true
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    deinit {
        if owned { close(fd) }
    }

    func write(_ text: String) throws {
        let bytes = text.utf8
        if buffer.count + bytes.count > capacity { try flush() }
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { try flush() }
    }

    /// Writes out what is buffered.
    func flush() throws {
        guard !buffer.isEmpty else { return }
        try writeAll(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var rest = bytes
        while !rest.isEmpty {
            let n = Foundation.write(fd, rest, rest.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError(message: "cannot write \(name): \(String(cString: strerror(errno)))")
            }
            // A short write (a pipe, a signal): the rest again.
            rest = n == rest.count ? [] : Array(rest[n...])
        }
    }
}

/// Writing the output failed midway (disk full, closed pipe, …): a runtime error, exit 1.
struct OutputError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
