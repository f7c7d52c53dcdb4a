import ArgumentParser

/// Checks an integer option against its allowed range, in `validate()`: out of range is bad usage
/// (the usage text, exit 2) and the message says the range.
func requireRange(_ value: Int, _ range: ClosedRange<Int>, option: String) throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
    }
}

/// Checks that a path option is not empty.
func requireNonEmpty(_ value: String?, option: String) throws {
    if let value, value.isEmpty { throw ValidationError("\(option) must not be empty") }
}
