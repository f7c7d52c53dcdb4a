import ArgumentParser
import DaybookCore

/// `--through`, `--as-of`, `--start`: a date written strictly as `YYYY-MM-DD`. A bad value is a
/// usage error naming the option (exit 2).
extension Day: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
