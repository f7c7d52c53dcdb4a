import Foundation
import Synchronization

/// Until when a partition's writer may commit under its lease, on this process's monotonic clock
/// (docs/scale-out.md §3). The lease keeper extends it after each successful renewal to the
/// renewal's *start* plus a fraction of the TTL: the server's expiry counts from its own write,
/// which comes after that start, so the deadline always falls before the server lets another
/// instance take the lease. A process paused past it (SIGSTOP, a VM freeze) finds the deadline
/// passed when it wakes, and its next batch is refused before it is applied.
public final class LeaseValidity: Sendable {
    private let deadline: Mutex<ContinuousClock.Instant?>
    public let partition: Int
    public let epoch: UInt64

    /// Valid until `until` (the acquisition's start plus the margin the keeper uses).
    public init(partition: Int, epoch: UInt64, until: ContinuousClock.Instant) {
        self.partition = partition
        self.epoch = epoch
        deadline = Mutex(until)
    }

    /// Moves the deadline later (never earlier, never after a revoke).
    public func extend(to until: ContinuousClock.Instant) {
        deadline.withLock { d in
            if let current = d, until > current { d = until }
        }
    }

    /// Ends the term at once: the lease was lost, taken over, or given up.
    public func revoke() { deadline.withLock { $0 = nil } }

    /// Whether a commit may happen now.
    public var isValid: Bool {
        Self.ignoresLoss || deadline.withLock { d in d.map { ContinuousClock.now < $0 } ?? false }
    }

    /// Test hook (`DAYBOOK_FAULT=ignore-lease-loss`): the instance never notices that a lease ran
    /// out or was lost (as a process paused between its check and its write would not), so that
    /// the warehouse's epoch fence is what keeps its writes out.
    public static let ignoresLoss = ProcessInfo.processInfo.environment["DAYBOOK_FAULT"] == "ignore-lease-loss"

    /// Throws ``LeaseLost`` unless ``isValid``: the writer's fence (``JetStreamTail``'s `fence`).
    public func check() throws(LeaseLost) {
        guard isValid else { throw LeaseLost(partition: partition, epoch: epoch) }
    }
}

/// A batch or export refused because the partition's lease is no longer this instance's.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public var partition: Int
    public var epoch: UInt64
    public var description: String {
        "partition \(partition): the lease of epoch \(epoch) ran out or was lost; this instance stopped writing it (nothing of the refused batch was stored or acknowledged; the next owner reads it from the stream)"
    }
}
