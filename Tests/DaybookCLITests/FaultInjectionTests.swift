import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import DaybookWorkload
import Foundation
import LMDB
import Testing

/// SIGKILL at random moments during the three verbs that write: `ingest`, `catalog apply` and
/// `finalize` (SPEC §7 "kill -9 at any moment"). Each moment is measured against the process's
/// own progress: for ingest, a random number of acknowledged batches (its `--progress` lines) plus
/// a random spin of up to one batch's duration; for `catalog apply` and `finalize`, which print
/// nothing until they are done, a random amount of the CPU time an uninterrupted run uses (half
/// of the moments in its last tenth and its tail: the write-back, the commit, the exit; see
/// ``RunProfile``).
///
/// After every kill: the store opens, every invariant of ``StoreAudit`` holds (each transaction id
/// logged once, counters equal to what is stored, every invoice finalized or open), and
/// `replay --verify` is clean; then each verb's own promise is checked (below).
///
/// `DAYBOOK_FAULT_KILLS` sets the kills per verb (20 by default, the CI figure; `tools/fault-inject`
/// runs 100), `DAYBOOK_FAULT_SEED` replays the random choices of a run (each test prints its seed).
@Suite("Fault injection: SIGKILL at random moments", .watchdog(seconds: 600))
struct FaultInjectionTests {
    static let now = "2026-10-15T00:00:00Z"
    static let asOf = "2026-10-15"

    /// `daybook ingest` killed at random moments, at 1,000 and 20,000 records per batch.
    ///
    /// A workload from 2026-09-15 ingested on 2026-10-15: September invoices are finalized before
    /// the first batch and its backdated events drift them. Kills come in rounds of one to four on
    /// one store (each restart re-reads the file from the start, as a user would); after each kill
    /// every event of every acknowledged batch is in the log. After the round, finishing the ingest
    /// equals the uninterrupted run: byte-identical exports, the same `events`, the same drift
    /// (but for the seqs at which it was detected, which follow how batches were grouped in commits).
    @Test(arguments: [1_000, 20_000])
    func sigkillDuringIngest(batchSize: Int) throws {
        let kills = (FaultKnobs.killsPerVerb + 1) / 2
        let seed = FaultKnobs.seed &+ UInt64(batchSize)
        var rng = SplitMixRandom(seed: seed)
        let started = monotonicNanoseconds()
        print("fault-inject ingest --batch-size \(batchSize): starting, DAYBOOK_FAULT_SEED=\(FaultKnobs.seed)")
        let work = try CLI()
        defer { work.remove() }

        // About 20 batches of 1,000, or 2.3 batches of 20,000.
        let usage = work.file("usage.ndjson").path
        let eventsPerDay = batchSize == 1_000 ? 200 : 450
        try #require(
            try work.run([
                "generate", "--seed", "\(seed % 1_000_000)", "--start", "2026-09-15", "--days", "30",
                "--events-per-day", "\(eventsPerDay)", "--out", usage,
            ]).status == 0)
        let catalog = try work.exampleCatalog()
        var lines = try String(contentsOfFile: usage, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        let records = lines.count
        let batches = (records + batchSize - 1) / batchSize
        // The events an acknowledgment covers: valid and within the lateness window of the clock.
        let window = Lateness.Window(now: try Timestamp(parsing: Self.now), maxLatenessDays: 34)
        var expected: [(line: Int, id: String)] = []
        for (i, line) in lines.enumerated() {
            if case .success(let event) = UsageEvent.parse(Array(line.utf8)[...]),
                window.classify(event.timestamp) == .onTime
            {
                expected.append((i + 1, event.transactionID))
            }
        }
        lines = []

        let ingest = { (cli: CLI) -> [String] in
            [
                "ingest", usage, "--batch-size", "\(batchSize)", "--report-commits", "--format", "json", "--data",
                cli.store,
                "--now", Self.now,
            ]
        }

        // The uninterrupted run: what every finished run must equal, and how long each batch takes.
        let clean = try CLI()
        defer { clean.remove() }
        try #require(try clean.run(["catalog", "apply", catalog], now: "2026-09-15T00:00:00Z").status == 0)
        var intervals: [UInt64] = []
        do {
            let run = try Victim(ingest(clean))
            defer { run.kill() }
            var last = run.startedAt
            while let line = run.nextErrorLine() {
                guard acknowledgedLine(line) != nil else { continue }
                let t = monotonicNanoseconds()
                intervals.append(t - last)
                last = t
            }
            let (status, stdout) = run.waitForExit()
            try #require(status == 0, "the uninterrupted ingest failed: \(stdout)")
            try #require(intervals.count == batches, "\(intervals.count) progress lines for \(batches) batches")
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Int], "\(stdout)")
            #expect(summary["accepted"]! + summary["duplicates"]! + summary["dead_lettered"]! == records)
        }
        let cleanExports = try exportFiles(clean, asOf: Self.asOf, now: Self.now, name: "export")
        let cleanStats = try statsCounters(clean)
        let seqKeys: Set<String> = ["first_detected_seq", "last_changed_seq"]
        let cleanDrift = try discrepancies(clean, dropping: seqKeys)
        try #require(cleanDrift.count > 0, "the workload must drift finalized invoices")

        var killed = 0, completedFirst = 0, rounds = 0, eventsChecked = 0
        var acknowledgedBatches = 0
        while killed < kills && rounds < kills * 3 {
            rounds += 1
            let run = try CLI()
            defer { run.remove() }
            try #require(try run.run(["catalog", "apply", catalog], now: "2026-09-15T00:00:00Z").status == 0)
            var acknowledgedThrough = 0  // the last line acknowledged by any run of this round
            let killsThisRound = min(kills - killed, 1 + Int(rng.below(4)))
            var k = 0
            while k < killsThisRound {
                // The moment: after `target` acknowledged batches, a spin of up to one batch.
                let target = Int(rng.below(UInt64(batches)))
                let delay = rng.below(max(1, intervals[target] / 1_000))
                let victim = try Victim(ingest(run))
                defer { victim.kill() }
                var acks = 0
                while acks < target, let line = victim.nextErrorLine() {
                    guard let n = acknowledgedLine(line) else { continue }
                    acks += 1
                    acknowledgedThrough = max(acknowledgedThrough, n)
                }
                if acks < target && victim.process.isRunning {
                    Issue.record("kill \(killed + 1): the ingest acknowledged \(acks) batches, then nothing for 300 s")
                }
                victim.spin(microseconds: delay)
                let wasKilled = victim.kill()
                // Acknowledgments written before the kill landed count too.
                while let line = victim.nextErrorLine(within: 10) {
                    if let n = acknowledgedLine(line) {
                        acks += 1
                        acknowledgedThrough = max(acknowledgedThrough, n)
                    }
                }
                acknowledgedBatches += acks
                guard wasKilled else {
                    // It finished inside the spin: not a kill; the round goes on to its comparison.
                    #expect(victim.process.terminationStatus == 0)
                    completedFirst += 1
                    break
                }
                killed += 1
                k += 1

                let audit = try StoreAudit.read(path: run.store)
                #expect(audit.problems.isEmpty, "after kill \(killed): \(audit.problems)")
                let covered = expected.prefix { $0.line <= acknowledgedThrough }
                let lost = covered.filter { !audit.loggedIDs.contains($0.id) }
                #expect(
                    lost.isEmpty,
                    "after kill \(killed) (acknowledged through line \(acknowledgedThrough)): \(lost.count) acknowledged events lost, first \(lost.prefix(5).map(\.id))"
                )
                eventsChecked += covered.count
                // Before the first batch commits, nothing is finalized; after it, all of September.
                #expect(
                    audit.snapshots.isEmpty
                        || audit.counters.invoicesFinalized == UInt64(cleanStats["invoices_finalized"]!))
                if let problem = try verifyProblems(run) { Issue.record("after kill \(killed): \(problem)") }
            }

            // Finish the ingest: it must equal the uninterrupted run.
            let finish = try run.run(Array(ingest(run).dropLast(4)), now: Self.now)
            try #require(finish.status == 0, "\(finish.stdout)\(finish.stderr)")
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(finish.stdout.utf8)) as? [String: Int], "\(finish.stdout)")
            #expect(summary["accepted"]! + summary["duplicates"]! + summary["dead_lettered"]! == records)
            let exports = try exportFiles(run, asOf: Self.asOf, now: Self.now, name: "export")
            for (name, data) in cleanExports.sorted(by: { $0.key < $1.key }) {
                #expect(exports[name] == data, "round \(rounds): \(name) differs from the uninterrupted run")
            }
            let stats = try statsCounters(run)
            #expect(stats["events"] == cleanStats["events"], "round \(rounds): \(stats) vs \(cleanStats)")
            #expect(stats["last_seq"] == cleanStats["last_seq"])
            #expect(stats["invoices_finalized"] == cleanStats["invoices_finalized"])
            // A resumed run re-reads what was logged: more duplicates, never fewer.
            #expect(stats["duplicates"]! >= cleanStats["duplicates"]!)
            #expect(try discrepancies(run, dropping: seqKeys).isEqual(cleanDrift), "round \(rounds): drift differs")
            let audit = try StoreAudit.read(path: run.store)
            #expect(audit.problems.isEmpty, "round \(rounds) finished: \(audit.problems)")
            #expect(audit.loggedIDs.count == Set(expected.map(\.id)).count)
        }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        print(
            "fault-inject ingest --batch-size \(batchSize): DAYBOOK_FAULT_SEED=\(FaultKnobs.seed), \(records) records in \(batches) batches, "
                + "\(killed) kills in \(rounds) rounds (\(completedFirst) runs finished before their kill), "
                + "\(acknowledgedBatches) acknowledged batches, \(eventsChecked) acknowledged events checked, "
                + String(format: "%.1f s", seconds))
        #expect(killed >= kills)
    }

    /// `daybook catalog apply` killed at random moments while it rebuilds every contract.
    ///
    /// The store holds about 20,000 events; catalog B changes both rate cards (every contract is
    /// rebuilt from the log, finalized September invoices drift) and adds a contract from
    /// 2026-10-01 for the unbilled customer; each attempt applies whichever of A and B is not in
    /// force. After each kill the store has the old or the new version, nothing in between: `stats`
    /// says which, and the exports are byte-identical to a from-scratch run (catalog, then the whole
    /// ingest) with that version's document.
    @Test func sigkillDuringCatalogApply() throws {
        let kills = FaultKnobs.killsPerVerb
        let seed = FaultKnobs.seed &+ 2
        var rng = SplitMixRandom(seed: seed)
        let started = monotonicNanoseconds()
        print("fault-inject catalog apply: starting, DAYBOOK_FAULT_SEED=\(FaultKnobs.seed)")
        let work = try CLI()
        defer { work.remove() }
        let usage = work.file("usage.ndjson").path
        try #require(
            try work.run([
                "generate", "--seed", "\(seed % 1_000_000)", "--start", "2026-09-15", "--days", "30",
                "--events-per-day", "200", "--out", usage,
            ]).status == 0)
        let catalogA = ExampleCatalog.json
        let catalogB = catalogA.replacingOccurrences(
            of: #""unit_price": "0.0001"}"#, with: #""unit_price": "0.00011"}"#
        )
        .replacingOccurrences(of: #""unit_price": "0.0002"}"#, with: #""unit_price": "0.00021"}"#)
        .replacingOccurrences(
            of: #"{"id": "initech", "name": "Initech", "contracts": []}"#,
            with:
                #"{"id": "initech", "name": "Initech", "contracts": [{"id": "initech-1", "rate_card": "startup", "starts": "2026-10-01", "ends": null}]}"#
        )
        try #require(
            catalogB.components(separatedBy: "0.00011").count == 2 && catalogB.contains("0.00021")
                && catalogB.contains("initech-1"), "catalog B must differ from A in three places")
        let files = ["A": try work.write("catalog-a.json", catalogA), "B": try work.write("catalog-b.json", catalogB)]

        // From-scratch runs with each document: what the store must equal under that version.
        var reference: [String: [String: Data]] = [:]
        for name in ["A", "B"] {
            let scratch = try CLI()
            defer { scratch.remove() }
            try #require(try scratch.run(["catalog", "apply", files[name]!], now: "2026-09-15T00:00:00Z").status == 0)
            try #require(try scratch.run(["ingest", usage], now: Self.now).status == 0)
            reference[name] = try exportFiles(scratch, asOf: Self.asOf, now: Self.now, name: "export")
        }
        try #require(reference["A"] != reference["B"])

        // The store the kills land on: catalog A, then the ingest; then one uninterrupted change to
        // B, to learn what a change costs the process (its main thread's CPU time).
        try #require(try work.run(["catalog", "apply", files["A"]!], now: "2026-09-15T00:00:00Z").status == 0)
        try #require(try work.run(["ingest", usage], now: Self.now).status == 0)
        var documents: [Int: String] = [1: "A"]  // catalog version → document
        let cost: RunProfile
        do {
            let change = try Victim(["catalog", "apply", files["B"]!, "--data", work.store, "--now", Self.now])
            cost = change.profileUntilExit()
            let (status, stdout) = change.waitForExit()
            try #require(status == 0, "\(stdout)")
            try #require(stdout.contains("events re-read") && !stdout.contains(" 0 events re-read"), "\(stdout)")
            documents[2] = "B"
            #expect(try exportFiles(work, asOf: Self.asOf, now: Self.now, name: "export") == reference["B"])
        }

        var killed = 0, attempts = 0, keptOld = 0, gotNew = 0, completed = 0
        var before = 2
        while killed < kills && attempts < kills * 6 {  // under load more applies finish before their kill
            attempts += 1
            defer { before = Int(documents.keys.max()!) }
            let target = documents[before] == "A" ? "B" : "A"
            let moment = cost.moment(&rng)
            let victim = try Victim(["catalog", "apply", files[target]!, "--data", work.store, "--now", Self.now])
            defer { victim.kill() }
            victim.spin(cpuNanoseconds: moment.cpu)
            victim.spin(microseconds: moment.microseconds)
            let wasKilled = victim.kill()
            if wasKilled {
                killed += 1
            } else {
                #expect(victim.process.terminationStatus == 0)
                completed += 1
            }
            let audit = try StoreAudit.read(path: work.store, decodingLog: false)
            #expect(audit.problems.isEmpty, "after attempt \(attempts): \(audit.problems)")
            let after = try statsCounters(work)["catalog_version"]!
            #expect(after == Int(audit.catalogVersion))
            if after == before + 1 {
                documents[after] = target
                if wasKilled { gotNew += 1 }
            } else {
                #expect(after == before, "catalog_version \(before) became \(after)")
                #expect(wasKilled, "an apply that exited \(victim.process.terminationStatus) changed nothing")
                if wasKilled { keptOld += 1 }
            }
            let document = try #require(documents[after])
            let exports = try exportFiles(work, asOf: Self.asOf, now: Self.now, name: "export")
            for (name, data) in reference[document]!.sorted(by: { $0.key < $1.key }) {
                #expect(
                    exports[name] == data,
                    "after attempt \(attempts) (version \(after), catalog \(document)): \(name) differs from a from-scratch run"
                )
            }
            if let problem = try verifyProblems(work) { Issue.record("after attempt \(attempts): \(problem)") }
        }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        print(
            "fault-inject catalog apply: DAYBOOK_FAULT_SEED=\(FaultKnobs.seed), an uninterrupted change costs "
                + String(format: "%.2f s of CPU and a %.1f ms tail", Double(cost.cpu) / 1e9, Double(cost.tail) / 1e6)
                + "; \(killed) kills "
                + "(\(keptOld) left the old version, \(gotNew) the new one), \(completed) applies finished before their kill, "
                + String(format: "%.1f s", seconds))
        #expect(killed >= kills)
        // Moments spread over the whole change: many kills land before its commit.
        if kills >= 10 { #expect(keptOld > 0) }
    }

    /// `daybook finalize --through 2027-04-01` killed at random moments.
    ///
    /// 40 contracts (anchors 1 to 28, two rate cards, commits) with a fortnight of usage; the
    /// finalize materializes their periods through March 2027 and finalizes some 220 invoices in
    /// one transaction. After each kill, either every one of them is finalized or none is (the
    /// snapshots are exactly those before or exactly those of an uninterrupted run); then finishing
    /// `finalize` gives the uninterrupted run's snapshots byte for byte, the same `discrepancies`,
    /// and the same `invoice show` of a sampled invoice.
    @Test func sigkillDuringFinalize() throws {
        let kills = FaultKnobs.killsPerVerb
        let seed = FaultKnobs.seed &+ 3
        var rng = SplitMixRandom(seed: seed)
        let started = monotonicNanoseconds()
        print("fault-inject finalize: starting, DAYBOOK_FAULT_SEED=\(FaultKnobs.seed)")
        let through = "2027-04-01"
        let template = try CLI()
        defer { template.remove() }

        // The catalog: the example's metrics, products and rate cards; 40 customers of one contract each.
        var document = try #require(
            try JSONSerialization.jsonObject(with: Data(ExampleCatalog.json.utf8)) as? [String: Any])
        let customers = (0..<40).map { String(format: "c%02d", $0) }
        document["customers"] = customers.enumerated().map { i, id -> [String: Any] in
            [
                "id": id, "name": id,
                "contracts": [
                    [
                        "id": "\(id)-c", "rate_card": i % 2 == 0 ? "standard" : "startup", "starts": "2026-01-01",
                        "ends": NSNull(), "billing_anchor_day": 1 + i % 28,
                        "balances": [
                            [
                                "id": "\(id)-commit", "type": "commit", "amount": "900.00", "starts": "2026-01-01",
                                "ends": "2027-06-01", "products": NSNull(), "priority": 1,
                            ] as [String: Any]
                        ],
                    ] as [String: Any]
                ],
            ]
        }
        let catalog = try template.write(
            "catalog.json", String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self))
        let usage = template.file("usage.ndjson").path
        try #require(
            try template.run([
                "generate", "--seed", "\(seed % 1_000_000)", "--start", "2026-10-01", "--days", "14",
                "--events-per-day", "3", "--customers", customers.joined(separator: ","), "--out", usage,
            ]).status == 0)
        try #require(try template.run(["catalog", "apply", catalog], now: "2026-10-01T00:00:00Z").status == 0)
        try #require(try template.run(["ingest", usage], now: Self.now).status == 0)
        let before = try StoreAudit.read(path: template.store, decodingLog: false)
        try #require(before.problems.isEmpty, "\(before.problems)")

        func copyOfTemplate() throws -> CLI {
            let copy = try CLI()
            try FileManager.default.copyItem(atPath: template.store, toPath: copy.store)
            return copy
        }
        let finalize = { (cli: CLI) -> [String] in
            ["finalize", "--through", through, "--data", cli.store, "--now", Self.now]
        }

        // The uninterrupted run, on a copy: its snapshots, reports and CPU cost.
        let reference = try copyOfTemplate()
        defer { reference.remove() }
        let cost: RunProfile
        do {
            let run = try Victim(finalize(reference))
            cost = run.profileUntilExit()
            let (status, stdout) = run.waitForExit()
            try #require(status == 0, "\(stdout)")
        }
        let after = try StoreAudit.read(path: reference.store, decodingLog: false)
        try #require(after.problems.isEmpty, "\(after.problems)")
        let due = after.snapshots.count - before.snapshots.count
        try #require(due > 150, "only \(due) invoices were due")
        #expect(Set(before.snapshots.keys).isSubset(of: after.snapshots.keys))
        let invoicesList = { (cli: CLI) -> String in
            try cli.run(["invoices", "--format", "json"], now: Self.now).stdout
        }
        let referenceInvoices = try invoicesList(reference)
        let referenceDrift = try discrepancies(reference)
        func finalizedIDs(_ list: String) throws -> Set<String> {
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [[String: String]])
            return Set(rows.filter { $0["status"] == "finalized" }.compactMap { $0["invoice_id"] })
        }
        let newlyFinalized = try finalizedIDs(referenceInvoices).subtracting(try finalizedIDs(invoicesList(template)))
            .sorted()
        #expect(newlyFinalized.count == due)
        let show = { (cli: CLI, id: String) -> String in
            try cli.run(["invoice", "show", id, "--format", "table"], now: Self.now).stdout
        }

        var killed = 0, attempts = 0, none = 0, all = 0, completed = 0, snapshotsCompared = 0
        while killed < kills && attempts < kills * 6 {  // under load more applies finish before their kill
            attempts += 1
            let run = try copyOfTemplate()
            defer { run.remove() }
            let moment = cost.moment(&rng)
            let victim = try Victim(finalize(run))
            defer { victim.kill() }
            victim.spin(cpuNanoseconds: moment.cpu)
            victim.spin(microseconds: moment.microseconds)
            let wasKilled = victim.kill()
            if wasKilled {
                killed += 1
            } else {
                #expect(victim.process.terminationStatus == 0)
                completed += 1
            }
            let audit = try StoreAudit.read(path: run.store, decodingLog: false)
            #expect(audit.problems.isEmpty, "after attempt \(attempts): \(audit.problems)")
            // All due invoices finalized, or none.
            if audit.snapshots == before.snapshots {
                #expect(wasKilled, "a finalize that exited \(victim.process.terminationStatus) finalized nothing")
                none += wasKilled ? 1 : 0
            } else {
                #expect(
                    audit.snapshots == after.snapshots,
                    "after attempt \(attempts): \(audit.snapshots.count) snapshots, neither the \(before.snapshots.count) before nor the \(after.snapshots.count) after"
                )
                all += wasKilled ? 1 : 0
            }
            if let problem = try verifyProblems(run) { Issue.record("after attempt \(attempts): \(problem)") }

            // Finishing the finalize gives what the uninterrupted run gave.
            let finish = try run.run(Array(finalize(run).dropLast(4)), now: Self.now)
            #expect(finish.status == 0, "\(finish.stdout)\(finish.stderr)")
            let finished = try StoreAudit.read(path: run.store, decodingLog: false)
            #expect(finished.problems.isEmpty, "attempt \(attempts) finished: \(finished.problems)")
            #expect(finished.snapshots == after.snapshots, "attempt \(attempts): snapshots differ after finishing")
            snapshotsCompared += finished.snapshots.count
            #expect(try discrepancies(run).isEqual(referenceDrift), "attempt \(attempts): discrepancies differ")
            let id = newlyFinalized[Int(rng.below(UInt64(newlyFinalized.count)))]
            #expect(try show(run, id) == show(reference, id), "attempt \(attempts): invoice show \(id) differs")
        }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        print(
            "fault-inject finalize --through \(through): DAYBOOK_FAULT_SEED=\(FaultKnobs.seed), \(due) invoices due in one transaction, "
                + String(format: "%.2f s of CPU and a %.1f ms tail", Double(cost.cpu) / 1e9, Double(cost.tail) / 1e6)
                + "; \(killed) kills (\(none) left none "
                + "finalized, \(all) all), \(completed) finished before their kill, \(snapshotsCompared) snapshots compared, "
                + String(format: "%.1f s", seconds))
        #expect(killed >= kills)
    }

    /// Every kill above is judged by ``StoreAudit``: it must see a broken store. An event logged
    /// twice (a double count) and an invoice neither finalized nor open are both reported.
    @Test func storeAuditSeesBrokenInvariants() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let usage = cli.file("usage.ndjson").path
        try #require(
            try cli.run([
                "generate", "--start", "2026-09-28", "--days", "6", "--events-per-day", "20", "--out", usage,
            ]).status == 0)
        try #require(
            try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-09-15T00:00:00Z").status == 0)
        try #require(try cli.run(["ingest", usage], now: Self.now).status == 0)
        let clean = try StoreAudit.read(path: cli.store)
        #expect(clean.problems.isEmpty, "\(clean.problems)")
        #expect(clean.snapshots.count > 0 && clean.invoices > clean.snapshots.count)

        do {
            let store = try Store(path: cli.store)
            try store.env.write { txn in
                var state = try EngineState.load(store, txn)
                let first = try #require(try txn.get(Keys.seq(1), in: store.log))
                state.lastSeq += 1
                state.counters.events += 1
                try txn.put(Keys.seq(state.lastSeq), first, in: store.log)
                try state.save(store, txn)
            }
        }
        let doubled = try StoreAudit.read(path: cli.store)
        #expect(doubled.problems.contains { $0.contains("logged twice") }, "\(doubled.problems)")

        do {
            let store = try Store(path: cli.store)
            try store.env.write { txn in
                let open = try #require(try txn.first(in: store.openInvoices))
                try txn.delete(open.key, in: store.openInvoices)
            }
        }
        let orphan = try StoreAudit.read(path: cli.store)
        #expect(orphan.problems.contains { $0.contains("neither finalized nor open") }, "\(orphan.problems)")
    }
}
