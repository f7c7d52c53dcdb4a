import ArgumentParser
import DaybookCore
import DaybookStore

/// `--as-shown TOTAL`: a plain decimal (`0.50`, `-2.00`, `1`), parsed exactly. A bad value is a
/// usage error naming the option (exit 2).
extension FixedDecimal: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// `corrections --status proposed|issued|rejected`.
extension CorrectionStatus: ExpressibleByArgument {}
