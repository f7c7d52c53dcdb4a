import Foundation
import Testing

/// Stores and workloads the server tests share.
enum Fixture {
    /// The clock of every test: the generated workload's days are 2026-10-01 … 2026-10-20.
    static let now = "2026-10-21T00:00:00Z"

    /// A store with the example catalog applied at ``now``.
    static func store(_ scratch: Scratch) throws -> String {
        try Daybook.ok(["catalog", "apply", Daybook.exampleCatalog, "--data", scratch.store, "--now", now])
        return scratch.store
    }

    /// `daybook generate` events (NDJSON lines) written to `name`; returns the path and the lines.
    static func events(
        _ scratch: Scratch, _ name: String = "events.ndjson", seed: Int = 7, days: Int = 20, perDay: Int
    ) throws -> (path: String, lines: [String]) {
        let path = scratch.path(name)
        try Daybook.ok([
            "generate", "--seed", "\(seed)", "--start", "2026-10-01", "--days", "\(days)",
            "--events-per-day", "\(perDay)", "--out", path,
        ])
        let lines = try String(contentsOfFile: path, encoding: .utf8).unicodeScalars.split(separator: "\n")
            .map { String(String.UnicodeScalarView($0)) }
        return (path, lines)
    }

    /// Generated events that a JSON array can carry: the generator also writes records cut off
    /// in the middle of their object (a `{` never closed), which hide the elements after them in
    /// an array (`POST /v1/ingest` refuses such an array whole). Written to `name` too, for a
    /// clean `daybook ingest` of the same events.
    static func arrayableEvents(
        _ scratch: Scratch, _ name: String = "events.ndjson", seed: Int = 7, days: Int = 20, perDay: Int
    ) throws -> (path: String, lines: [String]) {
        let (_, all) = try events(scratch, "all-" + name, seed: seed, days: days, perDay: perDay)
        let lines = all.filter { $0.hasSuffix("}") }
        let path = try scratch.write(name, lines.joined(separator: "\n") + "\n")
        return (path, lines)
    }

    /// A JSON array of the given event lines.
    static func array(_ lines: some Sequence<String>) -> [UInt8] {
        Array(("[" + lines.joined(separator: ",\n") + "]").utf8)
    }

    /// `gzip -c` of `bytes` (the system's gzip: an independent implementation of the format).
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let writer = Thread {
            input.fileHandleForWriting.write(Data(bytes))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return Array(data)
    }

    /// The results of an ingest answer.
    static func results(_ response: HTTPResponse) -> [[String: Any]] {
        ((response.json as? [String: Any])?["results"] as? [[String: Any]]) ?? []
    }

    /// One number of an ingest answer (`accepted`, `duplicates`, …).
    static func count(_ response: HTTPResponse, _ key: String) -> Int? {
        (response.json as? [String: Any])?[key] as? Int
    }
}
