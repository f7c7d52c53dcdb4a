import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Discrepancies: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open drift between finalized invoices and the live breakdown, per invoice line item.",
        discussion: """
            Each record names its causes: the invoice's late-event count and the first 100 late \
            transaction ids. `--invoice ID --causes` lists every late event of one invoice \
            (transaction id, seq, event time, ingest time). Drift is measured against what was \
            billed: the snapshot plus the corrections issued for the invoice (`daybook corrections`); \
            once one is issued, the report shows billed_* values beside the finalized_* ones.
            """)
    @OptionGroup var global: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption
    @Option(help: "Only this customer.") var customer: String?
    @Option(help: "Only this invoice (CONTRACT/YYYY-MM-DD).") var invoice: String?
    @Flag(help: "Resolved drift (returned to the snapshot) instead of open drift.") var history = false
    @Flag(help: "With --invoice: every late event of the invoice instead of its drift records.") var causes = false

    func run() throws {
        let engine = try global.engine(.read)
        if causes {
            guard let invoice else {
                throw UsageError("--causes lists the late events of one invoice: add --invoice ID")
            }
            guard customer == nil, !history else { throw UsageError("--causes takes neither --customer nor --history") }
            try printLateEvents(engine, invoice: invoice, format: output.resolved())
            return
        }
        let records = try engine.discrepancies(customer: customer, invoice: invoice, history: history)
        switch output.resolved() {
        case .json: print(engine.discrepanciesJSON(records), terminator: "")
        case .csv: print(TableWriter.csv(engine.discrepanciesTable(records)), terminator: "")
        case .table:
            if records.isEmpty {
                print(
                    history ? "no resolved drift" : "no open drift: every finalized invoice matches the live breakdown")
                return
            }
            printDiscrepancyReport(engine, records, causes: true)
        }
    }
}

/// Streams every late event of one invoice to standard output as it is read from the store.
func printLateEvents(_ engine: Engine, invoice: String, format: OutputFormat) throws {
    var out = OutputStream()
    let columns = ["transaction_id", "seq", "timestamp", "ingest_time"]
    switch format {
    case .csv:
        out.write(columns.joined(separator: ",") + "\n")
        try engine.lateEvents(invoice: invoice) { e in
            out.write(
                "\(TableWriter.csvField(e.transactionID)),\(e.seq),\(e.timestamp),\(e.ingestTime)\n")
            try out.flushIfFull()
        }
    case .json:
        var first = true
        out.write("[")
        try engine.lateEvents(invoice: invoice) { e in
            out.write(first ? "\n  {" : ",\n  {")
            first = false
            out.write(
                "\"transaction_id\": \(StrictJSON.quote(e.transactionID)), \"seq\": \(e.seq), "
                    + "\"timestamp\": \"\(e.timestamp)\", \"ingest_time\": \"\(e.ingestTime)\"}")
            try out.flushIfFull()
        }
        out.write(first ? "]\n" : "\n]\n")
    case .table:
        // Widths from the invoice's cause records (no log read), so rows align as they stream.
        let extent = try engine.lateEventExtent(invoice: invoice)
        guard extent.count > 0 else {
            out.write("no late events: nothing was billed to \(invoice) after it was finalized\n")
            break
        }
        let idWidth = max(extent.widestID, columns[0].count)
        let seqWidth = max("\(extent.lastSeq)".count, columns[1].count)
        let timeWidth = 30  // the longest UTC time: nine fractional digits
        func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - s.count))
            return right ? fill + s : s + fill
        }
        func line(_ id: String, _ seq: String, _ time: String, _ ingest: String) -> String {
            "\(pad(id, idWidth))  \(pad(seq, seqWidth, right: true))  \(pad(time, timeWidth))  \(ingest)\n"
        }
        out.write(line(columns[0], columns[1], columns[2], columns[3]))
        out.write(
            line(
                String(repeating: "-", count: idWidth), String(repeating: "-", count: seqWidth),
                String(repeating: "-", count: timeWidth), String(repeating: "-", count: columns[3].count)))
        try engine.lateEvents(invoice: invoice) { e in
            out.write(line(e.transactionID, "\(e.seq)", "\(e.timestamp)", "\(e.ingestTime)"))
            try out.flushIfFull()
        }
    }
    try out.flush()
}

/// A buffered writer to standard output: output is written in chunks as it is produced.
struct OutputStream {
    private var buffer: [UInt8] = []
    private static let chunk = 1 << 16

    init() { buffer.reserveCapacity(Self.chunk + 512) }

    mutating func write(_ s: String) { buffer.append(contentsOf: s.utf8) }

    mutating func flushIfFull() throws { if buffer.count >= Self.chunk { try flush() } }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try FileHandle.standardOutput.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
