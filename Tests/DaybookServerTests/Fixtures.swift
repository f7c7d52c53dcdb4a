import DaybookTestSupport
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
        Watchdog.adopt(process)
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

/// `/metrics` read by the reference parser (the Python prometheus-client), an implementation
/// independent of the one that wrote it.
enum Prometheus {
    /// Every sample as `name{label=value,…}` (labels sorted) → its value (a number; `"+Inf"`,
    /// `"-Inf"` or `"NaN"` for the others), and `#type FAMILY` → the family's type.
    static func parse(_ text: String, _ scratch: Scratch) throws -> [String: Any] {
        let bodyFile = try scratch.write("metrics-\(UUID().uuidString).txt", text)
        let script = """
            import json, math, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            def value(v):
                if math.isnan(v): return "NaN"
                if math.isinf(v): return "+Inf" if v > 0 else "-Inf"
                return v
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = value(s.value)
                out["#type " + family.name] = family.type
            print(json.dumps(out))
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, bodyFile]
        let out = Pipe(), err = Pipe()
        python.standardOutput = out
        python.standardError = err
        try python.run()
        Watchdog.adopt(python)
        let parsed = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        try #require(python.terminationStatus == 0, "the Prometheus parser refused /metrics: \(errors)")
        return try #require(try JSONSerialization.jsonObject(with: parsed) as? [String: Any])
    }
}
