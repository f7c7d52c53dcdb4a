import Foundation
import Testing

/// Where the product's pointer code may live (issue 12, docs/decisions.md "Where unsafe code
/// lives"): the two C-library layers, `LMDB` and `NATS`, and DaybookCore's byte parsers. Every
/// other file under `Sources/` must be free of it, so a reader auditing memory safety reads
/// these files and nothing else.
@Suite("Unsafe code stays in its modules")
struct UnsafeCodeTests {
    /// Whole directories whose job is wrapping a C library.
    static let layers = ["Sources/LMDB/", "Sources/NATS/"]
    /// DaybookCore's parsers: strict JSON, the fast event scanner, and the number, date and
    /// timestamp readers they call on the same bytes.
    static let parsers: Set<String> = [
        "Sources/DaybookCore/JSON/StrictJSON.swift",
        "Sources/DaybookCore/JSON/JSONValue.swift",
        "Sources/DaybookCore/Events/UsageEvent+FastPath.swift",
        "Sources/DaybookCore/Events/UsageEvent.swift",
        "Sources/DaybookCore/Decimal/DecimalText.swift",
        "Sources/DaybookCore/Time/Day.swift",
        "Sources/DaybookCore/Time/Timestamp.swift",
    ]
    /// Constructs that hand out raw memory or switch off its checks. (`PostgresQuery(unsafeSQL:)`
    /// is postgres-nio's name for SQL text that is not parameterized, not memory: it is excluded.)
    static let pattern =
        #"\bUnsafe[A-Za-z]*|withUnsafe|withContiguous(Mutable)?StorageIfAvailable|unsafeBitCast|unsafeDowncast|Unmanaged|nonisolated\(unsafe\)|assumingMemoryBound|bindMemory|\bunsafe\b"#

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    @Test func noPointerCodeOutsideTheCLayersAndTheParsers() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let pattern = try Regex(Self.pattern)
        let files = try FileManager.default.subpathsOfDirectory(atPath: sources.path)
            .filter { $0.hasSuffix(".swift") }
        #expect(files.count > 100, "the sources were found: \(files.count) files under \(sources.path)")
        var offenders: [String] = []
        var parsersWithPointers: Set<String> = []
        for file in files {
            let relative = "Sources/" + file
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.replacing("unsafeSQL:", with: "")
                guard code.contains(pattern), !code.trimmingCharacters(in: .whitespaces).hasPrefix("//") else {
                    continue
                }
                if Self.layers.contains(where: relative.hasPrefix) { continue }
                if Self.parsers.contains(relative) {
                    parsersWithPointers.insert(relative)
                    continue
                }
                offenders.append("\(relative):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(
            offenders.isEmpty,
            "pointer code outside LMDB, NATS and DaybookCore's parsers:\n\(offenders.joined(separator: "\n"))")
        // The list of parsers stays exact: a file that no longer needs pointers leaves it.
        #expect(
            parsersWithPointers == Self.parsers,
            "parsers listed without pointer code: \(Self.parsers.subtracting(parsersWithPointers))")
    }
}
