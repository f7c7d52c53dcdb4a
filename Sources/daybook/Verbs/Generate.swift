import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a realistic synthetic NDJSON workload (seeded, reproducible) to standard output or --out.")
    @OptionGroup var ignored: IgnoredGlobalOptions
    // Numbers are read `.unconditional`ly: `--days -3` is the value -3 (out of range), not a missing value.
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("First day, YYYY-MM-DD.", valueName: "date"))
    var start = Day(year: 2026, month: 10, day: 1)!
    @Option(parsing: .unconditional, help: "Number of days, 1 to 3660.") var days: Int = 30
    @Option(parsing: .unconditional, help: "Mean events per customer per weekday, 0 to 10000000.")
    var eventsPerDay: Int = 200
    @Option(help: "Comma-separated customer ids.") var customers: String = "acme,globex,initech"
    @Option(help: "Output file (default: standard output).") var out: String?

    static let dayCounts = 1...3660
    static let eventsPerDayRange = 0...10_000_000

    /// The customer ids, in order.
    var customerIDs: [String] { customers.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }

    func validate() throws {
        try requireRange(days, Self.dayCounts, option: "--days")
        try requireRange(eventsPerDay, Self.eventsPerDayRange, option: "--events-per-day")
        try requireNonEmpty(out, option: "--out")
        var seen: Set<String> = []
        for id in customerIDs {
            // The ids are written into the JSON as they are: 1–128 bytes (SPEC §1), nothing to escape.
            guard (1...128).contains(id.utf8.count) else {
                throw ValidationError(
                    "--customers: each id must be 1 to 128 bytes (comma-separated, none empty), not \"\(id)\"")
            }
            guard !id.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\"" || $0 == "\\" || $0 == "\u{7F}" })
            else {
                throw ValidationError("--customers: \"\(id)\" holds a quote, a backslash or a control character")
            }
            guard seen.insert(id).inserted else { throw ValidationError("--customers: \"\(id)\" is listed twice") }
        }
    }

    func run() throws {
        var g = WorkloadGenerator(start: start)
        g.seed = seed
        g.days = days
        g.eventsPerDay = eventsPerDay
        g.customers = customerIDs
        // Streamed: each line is written as it is made, through a 1 MiB buffer.
        let output = try out.map { try OutputFile(path: $0) } ?? OutputFile()
        var empty = true
        try g.forEachLine { line in
            empty = false
            try output.write(line)
            try output.write("\n")
        }
        // The lines have always been written as `lines.joined("\n") + "\n"`: no line at all is one "\n".
        if empty { try output.write("\n") }
        try output.flush()
    }
}
