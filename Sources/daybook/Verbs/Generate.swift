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
    @Option(help: "Comma-separated customer ids (default: acme,globex,initech).") var customers: String?
    @Option(
        parsing: .unconditional,
        help: "Generate for N customers c0001, c0002, … instead of --customers, 1 to 100000.")
    var customerCount: Int?
    @Option(help: "Output file (default: standard output).") var out: String?
    @Option(
        help: ArgumentHelp(
            "Also write a catalog for these customers to FILE: the example catalog's products and rate cards, one contract per customer from --start with commits and credits of varied sizes.",
            valueName: "file"))
    var catalogOut: String?

    static let dayCounts = 1...3660
    static let eventsPerDayRange = 0...10_000_000
    static let customerCounts = 1...100_000

    /// The customer ids, in order.
    var customerIDs: [String] {
        if let customerCount { return CatalogGenerator.customerIDs(count: customerCount) }
        return (customers ?? "acme,globex,initech").split(separator: ",", omittingEmptySubsequences: false).map(
            String.init)
    }

    func validate() throws {
        if let customerCount {
            guard customers == nil else { throw ValidationError("--customers and --customer-count: give one of them") }
            try requireRange(customerCount, Self.customerCounts, option: "--customer-count")
        }
        try requireNonEmpty(catalogOut, option: "--catalog-out")
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
            if catalogOut != nil, id.utf8.count > CatalogGenerator.maxCustomerIDBytes {
                throw ValidationError(
                    "--catalog-out: customer ids must be at most \(CatalogGenerator.maxCustomerIDBytes) bytes (balance ids add 7), not \"\(id)\""
                )
            }
        }
    }

    func run() throws {
        if let catalogOut {
            var catalog = CatalogGenerator(customers: customerIDs, start: start)
            catalog.seed = seed
            catalog.days = days
            let file = try OutputFile(path: catalogOut)
            try file.write(catalog.json())
            try file.flush()
        }
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
