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
        var text = text
        try text.withUTF8 { try write($0) }
    }

    func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        if buffer.count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Writes out what is buffered.
    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBufferPointer { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard var at = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Foundation.write(fd, at, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError(message: "cannot write \(name): \(String(cString: strerror(errno)))")
            }
            at += n
            left -= n
        }
    }
}

/// Writing the output failed midway (disk full, closed pipe, …): a runtime error, exit 1.
struct OutputError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
