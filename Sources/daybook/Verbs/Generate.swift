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
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("First day, YYYY-MM-DD.", valueName: "date")) var start = Day(year: 2026, month: 10, day: 1)!
    @Option(help: "Number of days.") var days: Int = 30
    @Option(help: "Mean events per customer per weekday.") var eventsPerDay: Int = 200
    @Option(help: "Comma-separated customer ids.") var customers: String = "acme,globex,initech"
    @Option(help: "Output file (default: standard output).") var out: String?

    func run() throws {
        var g = WorkloadGenerator(start: start)
        g.seed = seed
        g.days = days
        g.eventsPerDay = eventsPerDay
        g.customers = customers.split(separator: ",").map(String.init)
        let text = g.lines().joined(separator: "\n") + "\n"
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                throw UsageError("cannot write \(out)")
            }
        } else {
            print(text, terminator: "")
        }
    }
}
