// Peak resident memory of a measured call, split into heap and LMDB map (issue 12 item 5), and a
// buffered NDJSON file writer for the benchmarks that hand their input to another program or
// ingest it from a file.

import Benchmark
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

enum MemoryMetric {
    /// Peak anonymous resident memory (`RssAnon`: heap, stacks) during the measured call, MiB.
    static let peakHeap = BenchmarkMetric.custom("peak heap MB", useScalingFactor: false)
    /// Peak file-backed resident memory (`RssFile`: mostly pages of LMDB's map) during the call, MiB.
    static let peakMap = BenchmarkMetric.custom("peak map MB", useScalingFactor: false)
}

/// Samples `RssAnon` and `RssFile` of /proc/self/status from a background thread every
/// `intervalMicros` (and once at start and at stop), keeping the peaks. Measurement only: the
/// sampler shares nothing with the code measured but the process.
///
///     let sampler = try MemorySampler()
///     … the measured call …
///     let peaks = sampler.stop()
final class MemorySampler: Sendable {
    struct Peaks: CustomStringConvertible {
        /// In KiB, as /proc reports them.
        var anonKB = 0, fileKB = 0, samples = 0
        /// The first sample's heap and map, before the call: what the peaks started from.
        var startAnonKB = 0, startFileKB = 0
        var heapMiB: Int { anonKB / 1024 }
        var mapMiB: Int { fileKB / 1024 }
        var description: String {
            "peak heap \(heapMiB) MiB (from \(startAnonKB / 1024)), "
                + "peak map \(mapMiB) MiB (from \(startFileKB / 1024)); \(samples) samples"
        }
    }

    private let fd: Int32
    private let stopping = Atomic<Bool>(false)
    private let anonKB = Atomic<Int>(0)
    private let fileKB = Atomic<Int>(0)
    private let samples = Atomic<Int>(0)
    private let startAnonKB: Int
    private let startFileKB: Int
    private let finished = DispatchSemaphore(value: 0)

    init(intervalMicros: UInt32 = 1_000) throws {
        fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { throw BenchError("cannot open /proc/self/status: errno \(errno)") }
        let first = Self.read(fd)
        startAnonKB = first.anonKB ?? 0
        startFileKB = first.fileKB ?? 0
        sample()
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                sample()
                usleep(intervalMicros)
            }
            finished.signal()
        }
        thread.name = "memory-sampler"
        thread.start()
    }

    /// Stops the thread (waits for its last sample), takes a final sample and returns the peaks.
    func stop() -> Peaks {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
        sample()
        close(fd)
        return Peaks(
            anonKB: anonKB.load(ordering: .relaxed), fileKB: fileKB.load(ordering: .relaxed),
            samples: samples.load(ordering: .relaxed), startAnonKB: startAnonKB, startFileKB: startFileKB)
    }

    /// One read of /proc/self/status into a stack buffer; no allocation, so the sampler does not
    /// disturb the allocator of the code it measures.
    private func sample() {
        let (anon, file) = Self.read(fd)
        guard let anon, let file else { return }
        anonKB.raise(to: anon)
        fileKB.raise(to: file)
        samples.add(1, ordering: .relaxed)
    }

    private static func read(_ fd: Int32) -> (anonKB: Int?, fileKB: Int?) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            let n = pread(fd, buffer.baseAddress!, buffer.count, 0)
            guard n > 0 else { return (nil, nil) }
            let text = UnsafeBufferPointer(rebasing: buffer[..<n])
            return (field(text, "RssAnon:"), field(text, "RssFile:"))
        }
    }

    /// The number after `name` at the start of a line of `text` (kB), nil when absent.
    private static func field(_ text: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Int? {
        let key = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var i = 0
        while i + key.count <= text.count {
            if (i == 0 || text[i - 1] == 0x0A) && text[i] == key[0]
                && (0..<key.count).allSatisfy({ text[i + $0] == key[$0] })
            {
                var j = i + key.count
                while j < text.count && (text[j] == 0x20 || text[j] == 0x09) { j += 1 }
                var value = 0
                while j < text.count, text[j] >= 0x30, text[j] <= 0x39 {
                    value = value * 10 + Int(text[j] - 0x30)
                    j += 1
                }
                return value
            }
            i += 1
        }
        return nil
    }
}

extension Atomic where Value == Int {
    fileprivate func raise(to value: Int) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(
                expected: current, desired: value, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// Runs `body` with memory sampled around it.
func sampled<T>(_ body: () throws -> T) throws -> (T, MemorySampler.Peaks) {
    let sampler = try MemorySampler()
    let result: T
    do {
        result = try body()
    } catch {
        _ = sampler.stop()
        throw error
    }
    return (result, sampler.stop())
}

/// Appends NDJSON lines to a file through an 8 MiB buffer.
final class LineFile {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var bytes = 0
    private(set) var lines = 0

    /// Creates (truncates) `path`, or opens it for appending with `append`.
    init(path: String, append: Bool = false) throws {
        if !append || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw BenchError("cannot create \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw BenchError("cannot open \(path)") }
        self.handle = handle
        if append { try handle.seekToEnd() }
        buffer.reserveCapacity(8 << 20)
    }

    func write(_ line: String) throws {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        bytes += line.utf8.count + 1
        lines += 1
        if buffer.count >= 8 << 20 { try flush() }
    }

    func write(_ lines: [String]) throws {
        for line in lines { try write(line) }
    }

    func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.close()
    }
}
