import ArgumentParser
import DaybookCore

/// `--now`: a date `YYYY-MM-DD` (midnight UTC) or a strict RFC 3339 time. A bad value is a usage
/// error naming the option (exit 2).
extension Timestamp: ExpressibleByArgument {
    public init?(argument: String) {
        guard let parsed = Timestamp(commandLine: argument) else { return nil }
        self = parsed
    }

    /// The spellings the command line accepts for an instant: a date (midnight UTC) or RFC 3339.
    init?(commandLine text: String) {
        if let day = Day(parsing: text) {
            self.init(day: day)
        } else if let parsed = try? Timestamp(parsing: text) {
            self = parsed
        } else {
            return nil
        }
    }
}
