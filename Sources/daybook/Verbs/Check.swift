import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import Foundation

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a store's integrity: walk every database, decode every record, check cross-references.",
        discussion: """
            Opens the store read-only, checks data.mdb against its meta page and Daybook's format \
            marker, walks every database with a cursor, decodes every record, checks that the \
            indexes point at logged events, that the counts in the engine state match, and that \
            the pages of the B-trees and the free list add up. Exit 0 when the store is intact; \
            exit 1 with "store damaged: …; restore from backup" otherwise.
            """)
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption

    func run() throws {
        DamagedStore.watch(store.data)
        let report = try StoreCheck.run(path: store.data)
        switch output.resolved(summary: true) {
        case .json: print(json(report))
        case .csv: print(TableWriter.csv(table(report)), terminator: "")
        case .table:
            print(TableWriter.text(table(report), rightAligned: ["entries", "pages", "depth", "problems"]))
            let pages = report.pages.map { "\($0) pages in use (\(report.freePages ?? 0) free)" } ?? "pages not counted"
            print("\(report.databases.count) databases, \(report.records) records decoded, \(pages)")
            if !report.otherDatabases.isEmpty {
                print("other databases (not Daybook's, not checked): \(report.otherDatabases.joined(separator: ", "))")
            }
            if report.isIntact {
                print("store intact: \(report.path)")
            } else {
                print("\(report.problemCount) problem\(report.problemCount == 1 ? "" : "s"):")
                for problem in report.problems { print("  \(problem)") }
                if report.problemCount > report.problems.count {
                    print("  … and \(report.problemCount - report.problems.count) more")
                }
            }
        }
        guard report.isIntact else {
            let more = report.problemCount > 1 ? " (and \(report.problemCount - 1) more problems)" : ""
            throw StoreError(.damaged, report.path, (report.problems.first ?? "problems found") + more)
        }
    }

    func table(_ report: StoreCheckReport) -> Table {
        var table = Table(columns: ["database", "entries", "pages", "depth", "problems"])
        table.rows = report.databases.map {
            ["\($0.name)", "\($0.entries)", "\($0.pages)", "\($0.depth)", "\($0.problems)"]
        }
        return table
    }

    func json(_ report: StoreCheckReport) -> String {
        let databases = report.databases.map {
            "{\"name\": \(StrictJSON.quote($0.name)), \"entries\": \($0.entries), \"pages\": \($0.pages), "
                + "\"depth\": \($0.depth), \"problems\": \($0.problems)}"
        }
        let problems = report.problems.map { StrictJSON.quote($0) }
        return "{\"path\": \(StrictJSON.quote(report.path)), \"intact\": \(report.isIntact), "
            + "\"pages\": \(report.pages.map { "\($0)" } ?? "null"), "
            + "\"free_pages\": \(report.freePages.map { "\($0)" } ?? "null"), "
            + "\"records\": \(report.records), \"problem_count\": \(report.problemCount), "
            + "\"other_databases\": [\(report.otherDatabases.map { StrictJSON.quote($0) }.joined(separator: ", "))], "
            + "\"databases\": [\(databases.joined(separator: ", "))], \"problems\": [\(problems.joined(separator: ", "))]}"
    }
}
