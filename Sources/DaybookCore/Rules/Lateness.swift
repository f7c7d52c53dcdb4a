/// Whether an event's timestamp is inside the lateness window of its ingest time (SPEC §1
/// "Lateness"), as a pure rule.
public enum Lateness: Sendable, Hashable {
    /// Inside the window: accepted (however far back into finalized periods it reaches).
    case onTime
    /// More than `max_lateness_days` before the ingest time: dead-lettered `too_late`.
    case tooLate
    /// More than 1 day after the ingest time: dead-lettered `in_future`.
    case inFuture

    /// The window of one ingest time: `earliest = now − maxLatenessDays × 86 400 s` and
    /// `latest = now + 86 400 s`, both inclusive (an event exactly at a bound is on time).
    public struct Window: Sendable, Hashable {
        public let now: Timestamp
        public let maxLatenessDays: Int
        /// The earliest timestamp still on time.
        public let earliest: Timestamp
        /// The latest timestamp still on time.
        public let latest: Timestamp

        public init(now: Timestamp, maxLatenessDays: Int) {
            self.now = now
            self.maxLatenessDays = maxLatenessDays
            earliest = now.adding(seconds: -Int64(maxLatenessDays) * 86_400)
            latest = now.adding(seconds: 86_400)
        }

        /// Where `timestamp` falls: before `earliest` is too late, after `latest` in the future.
        @inlinable public func classify(_ timestamp: Timestamp) -> Lateness {
            if timestamp < earliest { return .tooLate }
            if timestamp > latest { return .inFuture }
            return .onTime
        }

        /// The dead letter for an event outside the window (nil when it is on time): reason
        /// `too_late` or `in_future`, field `timestamp`, and the message shown to users.
        public func rejection(_ timestamp: Timestamp) -> InvalidEvent? {
            switch classify(timestamp) {
            case .onTime: nil
            case .tooLate:
                InvalidEvent(
                    .tooLate, field: "timestamp",
                    "timestamp \(timestamp) is more than \(maxLatenessDays) days before ingest time \(now)")
            case .inFuture:
                InvalidEvent(
                    .inFuture, field: "timestamp", "timestamp \(timestamp) is more than 1 day after ingest time \(now)")
            }
        }
    }

    /// Where `timestamp` falls in the window of ingest time `now`.
    public static func classify(_ timestamp: Timestamp, now: Timestamp, maxLatenessDays: Int) -> Lateness {
        Window(now: now, maxLatenessDays: maxLatenessDays).classify(timestamp)
    }
}
