import DaybookEngine
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import DaybookCore

/// The knobs of the fuzz tests, from the environment (`tools/fault-inject` runs the long versions).
enum FuzzKnobs {
    static func number(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }.map { max(1, $0) } ?? fallback
    }
    /// Records through the two parsers (`DAYBOOK_FUZZ_RECORDS`; 200,000 by default, what a debug
    /// build checks in about 30 s of CPU; `tools/fault-inject` runs 1,000,000).
    static let records = number("DAYBOOK_FUZZ_RECORDS", 200_000)
    /// Records through `Engine.ingest` (`DAYBOOK_FUZZ_ENGINE_RECORDS`; 50,000 by default,
    /// `tools/fault-inject` runs 200,000).
    static let engineRecords = number("DAYBOOK_FUZZ_ENGINE_RECORDS", 50_000)
    /// `DAYBOOK_FUZZ_SEED` replays a run; by default a fresh seed per run, printed.
    static let seed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["DAYBOOK_FUZZ_SEED"], let seed = UInt64(text) { return seed }
        return UInt64(DispatchTime.now().uptimeNanoseconds) ^ (UInt64(UInt32(bitPattern: getpid())) << 32)
    }()
}

/// Seeded hostile records (``HostileRecords``: truncations, bit flips, invalid UTF-8, huge numbers
/// and exponents, deep nesting, repeated keys, NaN, control characters, strings around the 128-
/// and 1024-byte limits, numbers as strings, nulls, wrong types, BOMs, CR/LF mixtures, …) through
/// the event parsers (200,000 in CI, a million in `tools/fault-inject`), and a subset through the
/// engine (50,000 in CI, 200,000 in `tools/fault-inject`).
@Suite("Hostile records")
struct HostileRecordsFuzzTests {
    /// The strict parser alone (never the fast path).
    static func strict(_ bytes: [UInt8]) -> Result<UsageEvent, InvalidEvent> {
        do { return UsageEvent.validate(try StrictJSON.parse(bytes)) } catch {
            return .failure(InvalidEvent(.malformedJSON, "\(error)"))
        }
    }

    /// A record as text for a failure message: printable ASCII as is, everything else as `\xNN`.
    static func show(_ bytes: [UInt8]) -> String {
        var out = ""
        for b in bytes.prefix(300) {
            if b >= 0x20 && b < 0x7F && b != 0x5C {
                out.append(Character(UnicodeScalar(b)))
            } else {
                out += String(format: "\\x%02X", b)
            }
        }
        return bytes.count > 300 ? out + "… (\(bytes.count) bytes)" : out
    }

    struct Tally: Sendable {
        var records = 0
        var bytes = 0
        var longest = 0
        var fastAccepted = 0
        var strictAccepted = 0
        var reasons: [DeadLetterReason: Int] = [:]
        var mutations: [HostileRecords.Mutation: Int] = [:]
        var disagreements: [String] = []
        var disagreementCount = 0

        mutating func merge(_ o: Tally) {
            records += o.records
            bytes += o.bytes
            longest = max(longest, o.longest)
            fastAccepted += o.fastAccepted
            strictAccepted += o.strictAccepted
            reasons.merge(o.reasons, uniquingKeysWith: +)
            mutations.merge(o.mutations, uniquingKeysWith: +)
            disagreements += o.disagreements.prefix(max(0, 10 - disagreements.count))
            disagreementCount += o.disagreementCount
        }
    }

    /// No crash; the fast path and the strict parser agree on every record: whenever the fast
    /// path produces an event, the strict parser produces the same one (equal fields), and
    /// `UsageEvent.parse` (fast path, else strict) gives exactly the strict result: the same
    /// event, or the same rejection (reason, field and message). The generator must reach every
    /// rejection reason and every kind of mutation, and both paths must decide many records.
    @Test func fastPathAndStrictParserAgreeOnHostileRecords() throws {
        let total = FuzzKnobs.records
        let seed = FuzzKnobs.seed
        let started = monotonicNanoseconds()
        print("fuzz parsers: starting, DAYBOOK_FUZZ_SEED=\(FuzzKnobs.seed)")
        let chunks = 16
        let tally = Mutex(Tally())
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var records = HostileRecords(seed: seed &+ UInt64(chunk) &* 0x9E37_79B9_7F4A_7C15)
            var local = Tally()
            let n = total / chunks + (chunk < total % chunks ? 1 : 0)
            for _ in 0..<n {
                let bytes = records.next()
                let fast = bytes.withUnsafeBufferPointer(UsageEvent.parseFast)
                let strict = Self.strict(bytes)
                let parsed = UsageEvent.parse(bytes[...])
                local.records += 1
                local.bytes += bytes.count
                local.longest = max(local.longest, bytes.count)
                var problem: String?
                if let fast {
                    local.fastAccepted += 1
                    if strict != .success(fast) { problem = "fast path accepted \(fast), strict gave \(strict)" }
                }
                switch strict {
                case .success: local.strictAccepted += 1
                case .failure(let invalid): local.reasons[invalid.reason, default: 0] += 1
                }
                if problem == nil, parsed != strict { problem = "parse gave \(parsed), strict gave \(strict)" }
                if let problem {
                    local.disagreementCount += 1
                    if local.disagreements.count < 10 {
                        local.disagreements.append("\(problem) on \(Self.show(bytes))")
                    }
                }
            }
            local.mutations = records.counts
            tally.withLock { $0.merge(local) }
        }
        let t = tally.withLock { $0 }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        let reasons = DeadLetterReason.allCases.compactMap { r in t.reasons[r].map { "\(r.rawValue) \($0)" } }
        print(
            "fuzz parsers: DAYBOOK_FUZZ_SEED=\(FuzzKnobs.seed), \(t.records) records (\(t.bytes / 1_000_000) MB, longest \(t.longest) bytes): "
                + "\(t.fastAccepted) accepted by the fast path, \(t.strictAccepted - t.fastAccepted) by the strict parser only, "
                + "\(t.records - t.strictAccepted) rejected (\(reasons.joined(separator: ", "))); "
                + "\(t.disagreementCount) disagreements; " + String(format: "%.1f s", seconds))
        #expect(t.records == total)
        #expect(
            t.disagreementCount == 0, "DAYBOOK_FUZZ_SEED=\(FuzzKnobs.seed): \(t.disagreements.joined(separator: "\n"))")
        // The generator reaches what it is meant to: both paths decide, every reason of the parser.
        #expect(t.fastAccepted * 20 > t.records, "the fast path decided only \(t.fastAccepted)")
        #expect((t.strictAccepted - t.fastAccepted) * 50 > t.records, "the strict parser alone accepted few")
        #expect((t.records - t.strictAccepted) * 3 > t.records, "only \(t.records - t.strictAccepted) rejected")
        for reason in DeadLetterReason.allCases where reason != .tooLate && reason != .inFuture {
            #expect(t.reasons[reason, default: 0] > 0, "no record was rejected as \(reason.rawValue)")
        }
        for mutation in HostileRecords.Mutation.allCases where t.records >= 100_000 {
            #expect(t.mutations[mutation, default: 0] > 0, "no record took the mutation \(mutation)")
        }
    }

    /// Hostile records as NDJSON (LF, CRLF, blank and whitespace-only lines), split by the streaming
    /// `LineAccumulator` fed in chunks of random sizes, which must give exactly the lines SPEC §1
    /// describes, then through `Engine.ingest` on a temporary store, in batches of about 5,000: every
    /// record ends up exactly once as accepted, duplicate or dead-lettered (SPEC §1), batch by
    /// batch as a model predicts (strict validation, then the transaction id against the ids
    /// accepted so far, then the lateness window), and the store agrees: its counters, its dead
    /// letters (reason, raw bytes, position, in order), the logged ids, and `verify`.
    @Test func everyHostileRecordIsAccountedForByTheEngine() throws {
        let total = FuzzKnobs.engineRecords
        let seed = FuzzKnobs.seed &+ 1
        let started = monotonicNanoseconds()
        print("fuzz engine: starting, DAYBOOK_FUZZ_SEED=\(FuzzKnobs.seed)")
        let now = try Timestamp(parsing: "2026-10-15T00:00:00Z")
        let window = Lateness.Window(now: now, maxLatenessDays: 34)
        let store = try TemporaryStore()
        try store.engine.applyCatalog(
            Array(ExampleCatalog.json.utf8), now: try Timestamp(parsing: "2026-09-01T00:00:00Z"))
        var records = HostileRecords(seed: seed)
        var rng = SplitMix64(seed: seed ^ 0x5EED)
        var lines = LineAccumulator()
        var nextLine = 1
        var generated = 0
        var splitMismatches = 0
        var accepted: Set<String> = []
        var acceptedInOrder: [String] = []
        var expectedLetters: [(reason: DeadLetterReason, raw: [UInt8], position: String)] = []
        var totals = IngestSummary()
        var batchMismatches = 0
        let batchSize = 5_000
        var n = 0
        while generated < total {
            // The batch as NDJSON: records separated by LF, CRLF, blank and whitespace-only lines.
            var stream: [UInt8] = []
            for _ in 0..<min(batchSize, total - generated) {
                generated += 1
                var record = records.next()
                // A record written over several lines (a multi-line whitespace style, an inserted LF)
                // is several bad lines in NDJSON: keep one in ten so, write the others on one line.
                if record.contains(0x0A), rng.next() % 10 != 0 {
                    record = record.map { $0 == 0x0A ? 0x20 : $0 }
                }
                stream += record
                let separators: [[UInt8]] = [
                    [0x0A], [0x0D, 0x0A], [0x0A, 0x0A], [0x0A, 0x20, 0x09, 0x0D, 0x0A], [0x0A, 0x0D, 0x0A],
                ]
                stream += rng.next() % 4 == 0 ? separators[Int(rng.next() % 5)] : [0x0A]
            }
            // What SPEC §1 says the records are: the lines, a CR before the LF dropped, lines of only
            // spaces, tabs and CRs skipped (a hostile record holding a LF is two lines).
            var model: [IngestRecord] = []
            var start = 0
            for (i, byte) in stream.enumerated() where byte == 0x0A {
                var line = Array(stream[start..<i])
                if line.last == 0x0D { line.removeLast() }
                if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
                    model.append(IngestRecord(bytes: line, position: "line \(nextLine)"))
                }
                nextLine += 1
                start = i + 1
            }
            // The streaming splitter, fed in chunks of random sizes (1 byte to 64 KiB).
            var batch: [IngestRecord] = []
            var at = 0
            while at < stream.count {
                let size = rng.next() % 8 == 0 ? 1 + Int(rng.next() % 16) : 1 + Int(rng.next() % 65_536)
                let end = min(stream.count, at + size)
                batch += lines.feed(stream[at..<end])
                at = end
            }
            if batch != model {
                splitMismatches += 1
                let first = zip(batch, model).first { $0 != $1 }
                Issue.record(
                    "the line splitter gave \(batch.count) records for \(model.count) lines; first difference: \(first.map { "\($0.0.position) \(Self.show($0.0.bytes)) vs \($0.1.position) \(Self.show($0.1.bytes))" } ?? "none")"
                )
            }
            n += batch.count
            var expected = IngestSummary()
            for record in batch {
                switch Self.strict(record.bytes) {
                case .failure(let invalid):
                    expected.deadLettered += 1
                    expectedLetters.append((invalid.reason, record.bytes, record.position))
                case .success(let event):
                    if accepted.contains(event.transactionID) {
                        expected.duplicates += 1
                    } else if let late = window.rejection(event.timestamp) {
                        expected.deadLettered += 1
                        expectedLetters.append((late.reason, record.bytes, record.position))
                    } else {
                        accepted.insert(event.transactionID)
                        acceptedInOrder.append(event.transactionID)
                        expected.accepted += 1
                    }
                }
            }
            let summary = try store.engine.ingest(batch, source: "fuzz", now: now)
            #expect(summary.accepted + summary.duplicates + summary.deadLettered == batch.count)
            if (summary.accepted, summary.duplicates, summary.deadLettered)
                != (expected.accepted, expected.duplicates, expected.deadLettered)
            {
                batchMismatches += 1
                if batchMismatches <= 3 {
                    Issue.record(
                        "DAYBOOK_FUZZ_SEED=\(FuzzKnobs.seed), batch ending at record \(n): \(summary.json), expected \(expected.json)"
                    )
                }
            }
            totals += summary
        }
        #expect(totals.accepted + totals.duplicates + totals.deadLettered == n)
        #expect(lines.finish().isEmpty)
        #expect(n >= total && batchMismatches == 0 && splitMismatches == 0)

        // The store's counters and records agree with the summaries and the model.
        let stats = try store.engine.stats()
        #expect(stats.counters.events == UInt64(totals.accepted))
        #expect(stats.lastSeq == UInt64(totals.accepted))
        #expect(stats.counters.duplicates == UInt64(totals.duplicates))
        #expect(stats.counters.deadLetters == UInt64(totals.deadLettered))
        #expect(stats.counters.metricRejections == UInt64(totals.metricRejections))
        let letters = try store.engine.deadLetters()
        #expect(letters.count == expectedLetters.count)
        var letterMismatches = 0
        for (i, (letter, expected)) in zip(letters, expectedLetters).enumerated() {
            let same =
                letter.number == UInt64(i + 1) && letter.reason == expected.reason && letter.raw == expected.raw
                && letter.position == expected.position && letter.source == "fuzz"
            if !same {
                letterMismatches += 1
                if letterMismatches <= 3 {
                    Issue.record(
                        "dead letter \(i + 1): \(letter.reason.rawValue) at \(letter.position), expected \(expected.reason.rawValue) at \(expected.position): \(Self.show(letter.raw))"
                    )
                }
            }
        }
        #expect(letterMismatches == 0)
        let missing = acceptedInOrder.filter { (try? store.engine.isLogged(transactionID: $0)) != true }
        #expect(missing.isEmpty, "\(missing.count) accepted ids not logged, first \(missing.prefix(5))")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-fuzz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let mismatches = try store.engine.verify(scratchDirectory: scratch.path)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        let reasons = Dictionary(grouping: letters, by: \.reason).map { "\($0.key.rawValue) \($0.value.count)" }
            .sorted()
        print(
            "fuzz engine: DAYBOOK_FUZZ_SEED=\(FuzzKnobs.seed), \(total) hostile records in \(nextLine - 1) lines, \(n) records: \(totals.accepted) accepted, \(totals.duplicates) duplicates, "
                + "\(totals.deadLettered) dead-lettered (\(reasons.joined(separator: ", "))), "
                + "\(totals.metricRejections) metric rejections; "
                + String(format: "%.1f s", Double(monotonicNanoseconds() - started) / 1e9))
        // The mix is hostile but not all noise: each outcome is common.
        #expect(totals.accepted * 10 > n && totals.duplicates * 100 > n && totals.deadLettered * 4 > n)
    }
}

/// Nanoseconds on the monotonic clock.
private func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
