import DaybookCore
import DaybookEngine
import Foundation
import Synchronization

/// Reads NDJSON from standard input as it arrives (`daybook tail --stdin`), batched like
/// ``FileTail`` by count and time window, until the input ends or ``stop()``.
///
/// A pipe has no position to resume from: no checkpoint is stored, and after a restart whatever
/// is sent again counts as duplicates (by `transaction_id`) or repeated dead letters.
public final class StandardInputTail: Source {
    public let name = "stdin"
    private let settings: FileTail.Settings
    private let clock: @Sendable () -> Timestamp
    private let stopped = Atomic<Bool>(false)

    public init(settings: FileTail.Settings = FileTail.Settings(), clock: @escaping @Sendable () -> Timestamp) {
        self.settings = settings
        self.clock = clock
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    /// What the committed batches held, once ``run(into:)`` returned.
    public var summary: IngestSummary { committed.withLock { $0 } }
    private let committed = Mutex(IngestSummary())

    public func run(into writer: Writer) throws {
        let submitter = BatchSubmitter(
            writer: writer, source: name, inFlight: settings.inFlight, clock: clock, checkpoints: false)
        defer { submitter.finish() }
        var lines = LineAccumulator()
        var ended = false
        while !ended && !stopped.load(ordering: .relaxed) {
            // Wait for input at most until the pending batch is due (or a poll interval, to see stop()).
            var ready = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let wait = submitter.pendingCount > 0 ? settings.window : settings.rotationQuiet
            let n = poll(&ready, 1, Int32(wait.timeInterval * 1000))
            if n > 0 {
                let chunk = FileHandle.standardInput.availableData
                if chunk.isEmpty {
                    submitter.add(lines.finish(), position: nil)
                    ended = true
                } else {
                    submitter.add(lines.feed(chunk), position: nil)
                }
                if submitter.pendingCount >= settings.batchSize || submitter.pendingBytes >= FileTail.maxPendingBytes {
                    submitter.flush()
                }
            } else if n < 0 && errno != EINTR {
                throw FileTailError(path: "standard input", message: "cannot wait for input: \(String(cString: strerror(errno)))")
            }
            submitter.flushIfDue(window: settings.window, force: ended)
            try submitter.check()
        }
        submitter.flush()
        submitter.finish()
        try submitter.check()
        committed.withLock { $0 = submitter.committed }
    }
}

extension Duration {
    /// The duration in seconds (for Foundation's sleeps and poll timeouts).
    var timeInterval: TimeInterval {
        let (s, atto) = components
        return TimeInterval(s) + TimeInterval(atto) / 1e18
    }
}
