import DaybookCore
import DaybookEngine
import DaybookTestSupport
import Testing

@Test func zzStats() throws {
    var lines: [String] = []
    for seed in 0..<30 {
        let history = RandomHistory(seed: UInt64(seed))
        let store = try TemporaryStore()
        let engine = store.engine
        var log = LogModel()
        var catalog: Catalog?
        var total = IngestSummary()
        var changes: [String] = []
        var now = Timestamp(day: Day(year: 2026, month: 1, day: 1)!)
        for step in history.steps {
            switch step {
            case .catalog(let m, let c, let at): try engine.applyCatalog(m.bytes, now: at); catalog = try Catalog.parse(m.bytes); changes.append(c)
            case .ingest(let l, let at): total += log.ingest(l, now: at, catalog: catalog!); _ = try engine.ingest(IngestRecord.lines(l), source: "x", now: at); now = at
            }
        }
        let e = try engine.export(asOf: now.day.adding(days: 1))
        let li = e.lineItems.rows
        let nz = li.filter { $0[9] != "0" && !$0[9].allSatisfy { $0 == "0" || $0 == "." } }.count
        let cr = li.filter { $0[10].contains { "123456789".contains($0) } }.count
        let cm = li.filter { $0[11].contains { "123456789".contains($0) } }.count
        let exhausted = e.balances.rows.filter { $0[7].allSatisfy { $0 == "0" || $0 == "." } }.map { $0[0] }
        let fin = try engine.invoices(now: now).filter { $0.finalizedAt != nil }.count
        let groups = Set(li.map { $0[2] }).count
        lines.append("seed \(seed): \(total.json) inv=\(e.invoices.rows.count) li=\(li.count) liIds=\(groups) nz=\(nz) cr=\(cr) cm=\(cm) exhausted=\(Set(exhausted).count)/\(Set(e.balances.rows.map{$0[0]}).count) fin=\(fin) changes=\(changes.dropFirst())")
    }
    print(lines.joined(separator: "\n"))
}
