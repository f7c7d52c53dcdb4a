import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import LMDB
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Damaged stores (issue 8): every verb refuses one with exit 1 and a message saying so, or
/// succeeds; none ends by a signal. The verbs run as real processes on copies of a real store.
@Suite("Damaged stores", .watchdog(seconds: 600))
struct DamagedStoreTests {
    /// How a run's end is judged: exit 0; exit 1 saying the store is damaged (or is not a
    /// Daybook store); exit 2 saying there is no Daybook store. Anything else (a signal, a hang,
    /// another status or message) is a failure.
    static func acceptable(_ outcome: RunOutcome) -> Bool {
        switch outcome.end {
        case .exit(0): return true
        case .exit(1): return outcome.stderr.contains("store damaged") || outcome.stderr.contains("not a Daybook store")
        case .exit(2): return outcome.stderr.contains("no Daybook store")
        default: return false
        }
    }

    enum Damage: CaseIterable { case bitFlips, zeroPage, garblePage, truncate, metaFlips, zeroMeta }

    /// Damages `bytes` one way (chosen by `kind`, details by `rng`); returns a description.
    static func damage(_ bytes: inout [UInt8], _ kind: Damage, _ rng: inout SeededRandom) -> String {
        let page = LMDBFile.pageSize
        let pages = bytes.count / page
        func flip(_ offset: Int) { bytes[offset] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng) }
        switch kind {
        case .bitFlips:
            let n = Int.random(in: 1...16, using: &rng)
            for _ in 0..<n { flip(Int.random(in: 0..<bytes.count, using: &rng)) }
            return "\(n) bit flips"
        case .zeroPage:
            let p = Int.random(in: 2..<pages, using: &rng)
            bytes.replaceSubrange((p * page)..<((p + 1) * page), with: repeatElement(0, count: page))
            return "page \(p) zeroed"
        case .garblePage:
            let p = Int.random(in: 2..<pages, using: &rng)
            for _ in 0..<64 { flip(p * page + Int.random(in: 0..<page, using: &rng)) }
            return "page \(p) garbled (64 bit flips)"
        case .truncate:
            let size: Int
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: size = 0
            case 1: size = Int.random(in: 1..<(2 * page), using: &rng)
            case 2: size = Int.random(in: 2..<pages, using: &rng) * page
            default: size = Int.random(in: 0..<bytes.count, using: &rng)
            }
            bytes.removeSubrange(size...)
            return "truncated to \(size) bytes"
        case .metaFlips:
            let p = Int.random(in: 0...1, using: &rng)
            let n = Int.random(in: 1...8, using: &rng)
            for _ in 0..<n { flip(p * page + Int.random(in: 0..<160, using: &rng)) }
            return "meta page \(p): \(n) bit flips"
        case .zeroMeta:
            let p = Int.random(in: 0...1, using: &rng)
            bytes.replaceSubrange((p * page)..<((p + 1) * page), with: repeatElement(0, count: page))
            if Bool.random(using: &rng) {
                bytes.replaceSubrange(((1 - p) * page)..<((2 - p) * page), with: repeatElement(0, count: page))
                return "both meta pages zeroed"
            }
            return "meta page \(p) zeroed"
        }
    }

    /// The acceptance test of issue 8: 42 damaged copies (bit flips, zeroed and garbled pages,
    /// truncation at random sizes including 0, damaged meta pages; seeded) × 12 verbs = 504 runs.
    /// No run may end by a signal or hang; every non-zero exit is 1 "store damaged" (or "not a
    /// Daybook store") or 2 "no Daybook store". Prints the figures.
    @Test func damagedCopiesEndWithExitOneOrSucceedNeverBySignal() throws {
        let base = try DamageFixture.base.get()
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let copies = 42, workers = 3, seed: UInt64 = 8
        let outcomes = Mutex<[(copy: Int, what: String, verb: String, outcome: RunOutcome)]>([])
        let failures = Mutex<[String]>([])
        let done = DispatchGroup()
        for worker in 0..<workers {
            done.enter()
            Thread {
                defer { done.leave() }
                for copy in stride(from: worker, to: copies, by: workers) {
                    var rng = SeededRandom(seed: seed &* 1_000_003 &+ UInt64(copy))
                    var bytes = base
                    let kind = Damage.allCases[copy % Damage.allCases.count]
                    let what = Self.damage(&bytes, kind, &rng)
                    do {
                        let dir = try workspace.store("copy-\(copy)", bytes)
                        let err = workspace.path("copy-\(copy).stderr")
                        var runs: [([String], String)] = DamageFixture.readVerbs(out: dir + "/out").map { ($0, dir) }
                        for (i, verb) in DamageFixture.writeVerbs(tinyFile: workspace.tinyFile).enumerated() {
                            runs.append((verb, try workspace.store("copy-\(copy)-write-\(i)", bytes)))
                        }
                        for (verb, store) in runs {
                            let outcome = try runDaybook(verb + ["--data", store], stderrFile: err)
                            outcomes.withLock { $0.append((copy, what, verb[0], outcome)) }
                        }
                    } catch {
                        failures.withLock { $0.append("copy \(copy) (\(what)): \(error)") }
                    }
                    for name in ["copy-\(copy)", "copy-\(copy)-write-0", "copy-\(copy)-write-1"] {
                        try? FileManager.default.removeItem(atPath: workspace.path(name))
                    }
                }
            }.start()
        }
        done.wait()
        #expect(failures.withLock { $0 } == [])
        let all = outcomes.withLock { $0 }
        var histogram: [String: Int] = [:]
        for run in all {
            let key: String
            switch run.outcome.end {
            case .exit(let status): key = "exit \(status)"
            case .signal(let signal): key = "signal \(signal)"
            case .hang: key = "hang"
            }
            histogram[key, default: 0] += 1
        }
        let figures = histogram.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        print("damaged stores: \(copies) copies, \(all.count) runs (seed \(seed)): \(figures)")
        #expect(all.count >= 500)
        let bad = all.filter { !Self.acceptable($0.outcome) }
        for run in bad.prefix(20) {
            Issue.record(
                "copy \(run.copy) (\(run.what)): daybook \(run.verb) ended \(run.outcome.end): \(run.outcome.stderr.prefix(300))"
            )
        }
        #expect(bad.isEmpty, "\(bad.count) of \(all.count) runs ended by a signal, hung or failed unclearly")
        #expect(!all.contains { if case .signal = $0.outcome.end { true } else { false } })
    }

    /// A data.mdb truncated below the pages its meta page claims was SIGBUS on every verb, even
    /// `stats`: now every verb refuses it at open, exit 1, naming the sizes.
    @Test func truncatedDataFileIsRefusedByEveryVerbWithoutSIGBUS() throws {
        let base = try DamageFixture.base.get()
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let truncated = Array(base.prefix(base.count / 2 / LMDBFile.pageSize * LMDBFile.pageSize))
        let reads = try workspace.store("reads", truncated)
        var runs = DamageFixture.readVerbs(out: reads + "/out").map { ($0, reads) }
        for (i, verb) in DamageFixture.writeVerbs(tinyFile: workspace.tinyFile).enumerated() {
            runs.append((verb, try workspace.store("write-\(i)", truncated)))
        }
        for (verb, store) in runs {
            let outcome = try runDaybook(verb + ["--data", store], stderrFile: workspace.path("stderr"))
            #expect(outcome.end == .exit(1), "daybook \(verb[0]): \(outcome.end) \(outcome.stderr)")
            #expect(
                outcome.stderr.contains("store damaged: data.mdb is \(truncated.count) bytes, but its meta page says"))
            #expect(outcome.stderr.contains("restore from backup"))
        }
        // The write verbs wrote nothing.
        for i in 0..<2 {
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: workspace.path("write-\(i)/data.mdb"))) == Data(truncated))
        }
    }

    /// A 0-byte data.mdb was silently a new empty store: a read verb says there is no store
    /// (exit 2), a write verb refuses it as damaged (exit 1) and leaves it as it was.
    @Test func emptyDataFileIsNoStoreForReadsAndIsNeverReplacedByWrites() throws {
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let reads = try workspace.store("reads", [])
        for verb in DamageFixture.readVerbs(out: reads + "/out") {
            let outcome = try runDaybook(verb + ["--data", reads], stderrFile: workspace.path("stderr"))
            #expect(outcome.end == .exit(2), "daybook \(verb[0]): \(outcome.end) \(outcome.stderr)")
            #expect(outcome.stderr.contains("no Daybook store at \(reads) (its data.mdb is empty"))
        }
        for (i, verb) in DamageFixture.writeVerbs(tinyFile: workspace.tinyFile).enumerated() {
            let store = try workspace.store("write-\(i)", [])
            let outcome = try runDaybook(verb + ["--data", store], stderrFile: workspace.path("stderr"))
            #expect(outcome.end == .exit(1), "daybook \(verb[0]): \(outcome.end) \(outcome.stderr)")
            #expect(outcome.stderr.contains("store damaged: data.mdb is empty (0 bytes)"))
            let size = try FileManager.default.attributesOfItem(atPath: store + "/data.mdb")[.size] as? Int
            #expect(size == 0)
        }
        // A read verb on a directory that does not exist creates nothing.
        let missing = workspace.path("missing")
        let outcome = try runDaybook(["stats", "--data", missing], stderrFile: workspace.path("stderr"))
        #expect(outcome.end == .exit(2))
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    /// A value whose length on its page says 16 MiB was copied with memcpy past the end of the
    /// file (SIGBUS): the length is checked against the map and the file first.
    @Test func corruptedValueLengthIsAnErrorNotACopyPastTheFile() throws {
        var file = LMDBFile(bytes: try DamageFixture.base.get())
        let deadLetters = try #require(file.database("dead_letters"))
        try #require(deadLetters.depth == 2, "the fixture's dead_letters tree has a branch root")
        let leaf = try #require(file.children(deadLetters.root).first)
        let node = try #require(file.nodes(leaf).first)
        file.setU16(node, 0xFFFF)  // data size: low 16 bits
        file.setU16(node + 2, 0x00FF)  // high 16 bits: 16 MiB
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let store = try workspace.store("store", file.bytes)
        let outcome = try runDaybook(["dead-letters", "--data", store], stderrFile: workspace.path("stderr"))
        #expect(outcome.end == .exit(1), "\(outcome.end) \(outcome.stderr)")
        #expect(outcome.stderr.contains("store damaged: LMDB returned a value of 16777215 bytes"))
        #expect(outcome.stderr.contains("past the end of the file"))
    }

    /// A leaf page that claims to be a branch page makes LMDB fail an assertion in
    /// mdb_cursor_next (SIGABRT): the assertion hook ends the process with exit 1 instead.
    @Test func lmdbAssertionOnADamagedPageEndsWithExitOne() throws {
        var file = LMDBFile(bytes: try DamageFixture.base.get())
        let deadLetters = try #require(file.database("dead_letters"))
        let leaves = file.children(deadLetters.root)
        try #require(leaves.count >= 2)
        try #require(file.flags(leaves[1]) & LMDBFile.leaf != 0)
        file.setFlags(leaves[1], LMDBFile.branch)
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let store = try workspace.store("store", file.bytes)
        let outcome = try runDaybook(["dead-letters", "--data", store], stderrFile: workspace.path("stderr"))
        #expect(outcome.end == .exit(1), "\(outcome.end) \(outcome.stderr)")
        #expect(outcome.stderr.contains("store damaged: LMDB assertion failed in \(store)"))
        #expect(outcome.stderr.contains("restore from backup"))
    }

    /// A free list that does not add up would have a write reuse live pages: ingest, finalize and
    /// catalog apply refuse the store before writing anything; reads still answer; check names it.
    @Test func writeVerbsRefuseAStoreWhosePagesDoNotAddUp() throws {
        var file = LMDBFile(bytes: try DamageFixture.base.get())
        // The free list's record in the meta page in use: one leaf page more than it has.
        let leafPages = file.page(file.meta) + 40 + 16
        let count = file.u64(leafPages) + 1
        for i in 0..<8 { file.bytes[leafPages + i] = UInt8(truncatingIfNeeded: count >> (8 * i)) }
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        var writes = DamageFixture.writeVerbs(tinyFile: workspace.tinyFile)
        let catalog = try CLI(data: workspace.root).exampleCatalog()
        writes.append(["catalog", "apply", catalog, "--now", DamageFixture.now])
        for (i, verb) in writes.enumerated() {
            let store = try workspace.store("write-\(i)", file.bytes)
            let outcome = try runDaybook(verb + ["--data", store], stderrFile: workspace.path("stderr"))
            #expect(outcome.end == .exit(1), "daybook \(verb[0]): \(outcome.end) \(outcome.stderr)")
            #expect(outcome.stderr.contains("store damaged: the page accounting does not add up"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")) == Data(file.bytes))
        }
        let store = try workspace.store("reads", file.bytes)
        let stats = try runDaybook(["stats", "--data", store], stderrFile: workspace.path("stderr"))
        #expect(stats.end == .exit(0), "\(stats.stderr)")
        let check = try runDaybook(["check", "--data", store], stderrFile: workspace.path("stderr"))
        #expect(check.end == .exit(1))
        #expect(check.stderr.contains("store damaged: pages: the page accounting does not add up"))
    }

    /// An LMDB environment that is not a Daybook store: reads and writes refuse it (a write used
    /// to create Daybook's databases in it, a read verb too).
    @Test func foreignLMDBEnvironmentIsNotADaybookStore() throws {
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let store = workspace.path("foreign")
        let probe = CLI.binary.deletingLastPathComponent().appendingPathComponent("lmdb-probe")
        let fill = try CLI.execute(probe, ["fill", store, "0", "10", "16", "\(1 << 20)"])
        try #require(fill.status == 0, "\(fill.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb"))
        var verbs =
            DamageFixture.readVerbs(out: workspace.path("out")) + DamageFixture.writeVerbs(tinyFile: workspace.tinyFile)
        verbs.append(["catalog", "apply", try CLI(data: workspace.root).exampleCatalog()])
        for verb in verbs {
            let outcome = try runDaybook(verb + ["--data", store], stderrFile: workspace.path("stderr"))
            #expect(outcome.end == .exit(1), "daybook \(verb[0]): \(outcome.end) \(outcome.stderr)")
            #expect(
                outcome.stderr.contains(
                    "not a Daybook store: \(store) holds an LMDB environment without Daybook's databases"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")) == before)
    }

    /// `daybook check`: exit 0 and "store intact" on an intact store; exit 1 naming the problem
    /// when an index entry points nowhere and when a page is zeroed.
    @Test func checkReportsAnIntactStoreAndFindsDamage() throws {
        let base = try DamageFixture.base.get()
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let intact = try workspace.store("intact", base)
        let ok = try CLI.daybook(["check", "--data", intact, "--format", "table"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("store intact: "))
        #expect(ok.stdout.contains("log "))
        let json = try CLI.daybook(["check", "--data", intact, "--format", "json"])
        #expect(json.stdout.contains("\"intact\": true"))

        // An index entry pointing at no logged event.
        let dangling = try workspace.store("dangling", base)
        do {
            let store = try Store(path: dangling)
            try store.env.write { txn in
                try txn.put(Array("no-such-event".utf8), Keys.seq(999_999), in: store.transactions)
            }
        }
        let found = try CLI.daybook(["check", "--data", dangling, "--format", "table"])
        #expect(found.status == 1)
        #expect(found.stdout.contains("transactions: points at log seq 999999, which is not logged"), "\(found.stdout)")
        #expect(found.stderr.contains("store damaged: transactions: points at log seq 999999"))
        #expect(found.stderr.contains("restore from backup"))

        // The log's first leaf page zeroed (LMDB finds it of the wrong type on the way down).
        var file = LMDBFile(bytes: base)
        let log = try #require(file.database("log"))
        let leaf = try #require(file.children(log.root).first)
        file.bytes.replaceSubrange(
            file.page(leaf)..<file.page(leaf + 1), with: repeatElement(0, count: LMDBFile.pageSize))
        let zeroed = try workspace.store("zeroed", file.bytes)
        let broken = try CLI.daybook(["check", "--data", zeroed, "--format", "table"])
        #expect(broken.status == 1, "\(broken.stdout) \(broken.stderr)")
        #expect(broken.stdout.contains("log: the B-tree cannot be walked"), "\(broken.stdout)")
        #expect(broken.stderr.contains("store damaged: "))
    }
}
