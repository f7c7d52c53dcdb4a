import ArgumentParser
import DaybookCore
import Foundation

/// `--now TIME`, for the verbs that read the engine clock.
struct ClockOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The engine clock: a date YYYY-MM-DD (midnight UTC) or an RFC 3339 time (default: $DAYBOOK_NOW, else the wall clock).",
            valueName: "time"))
    var now: Timestamp?

    /// A bad `$DAYBOOK_NOW` is bad usage, found before the verb opens anything.
    func validate() throws {
        if now == nil, case .failure(let error) = Self.environmentClock() { throw ValidationError(error.message) }
    }

    /// `--now`, else `$DAYBOOK_NOW` (same spellings; a bad value is a usage error), else the wall clock.
    func clock() throws -> Timestamp {
        if let now { return now }
        if let fromEnvironment = try Self.environmentClock()?.get() { return fromEnvironment }
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        return Timestamp(seconds: Int64(wall.tv_sec), nanoseconds: Int32(wall.tv_nsec))
    }

    /// The clock of a long-running verb, read once per batch: `--now` or `$DAYBOOK_NOW` fixed,
    /// else the wall clock at each call.
    func liveClock() throws -> @Sendable () -> Timestamp {
        let fixed: Timestamp? = try now ?? Self.environmentClock()?.get()
        if let fixed { return { fixed } }
        let copy = self
        return { (try? copy.clock()) ?? Timestamp(seconds: 0) }
    }

    /// `$DAYBOOK_NOW` parsed, nil when it is not set.
    static func environmentClock() -> Result<Timestamp, UsageError>? {
        guard let text = ProcessInfo.processInfo.environment["DAYBOOK_NOW"] else { return nil }
        guard let parsed = Timestamp(commandLine: text) else {
            return .failure(
                UsageError(
                    "DAYBOOK_NOW: \"\(text)\" is not a date YYYY-MM-DD or an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.fff]Z or ±HH:MM)"
                ))
        }
        return .success(parsed)
    }
}

/// `--now` on a verb that never reads the clock: accepted and checked (a malformed `--now` or
/// `$DAYBOOK_NOW` is exit 2, as on every verb), because SPEC §7 gives every verb the global
/// options, but left out of its help (it has no effect there).
struct IgnoredClockOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Accepted on every verb; this one does not read the clock.", valueName: "time", visibility: .hidden)
    )
    var now: Timestamp?

    /// A bad `$DAYBOOK_NOW` is bad usage here too: the clock a person meant to set is wrong, and
    /// the verb that would read it next should not be the first to say so.
    func validate() throws {
        if now == nil, case .failure(let error) = ClockOption.environmentClock() {
            throw ValidationError(error.message)
        }
    }
}
