import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookStore
import Foundation

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The events and the arithmetic behind one row of an invoice's breakdown.",
        discussion: """
            Lists the events of the row's customer and day that its line item counts (transaction \
            id, timestamp, value, ingest time, seq; whether each was ingested after finalization), \
            then Q(d−1), c(d), Q(d) and the quantity; P and A before and after with the tier split; \
            the subtotal; each balance that could cover the row, in draw order (opening, what the \
            line items before it took, drawn, closing); credits, commits and total; the stored row \
            and any mismatch with it; for a finalized invoice the snapshot and the late events. \
            Q(d−1) is the stored cumulative of the day before: only the day's events are read, \
            through a customer-day index. No CSV: the report is not one table.
            """)
    @OptionGroup var global: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @Option(
        name: .long,
        help: "table or json (default: table on a terminal, otherwise json); csv is not available for explain.")
    var format: OutputFormat?
    @Option(help: "Invoice id, CONTRACT/YYYY-MM-DD.") var invoice: String
    @Option(name: .customLong("line-item"), help: "Line-item id, as in the breakdown (e.g. tok{model=m-a}).")
    var lineItem: String
    @Option(help: ArgumentHelp("The day of the row, YYYY-MM-DD.", valueName: "date")) var day: Day

    func validate() throws {
        if format == .csv { throw ValidationError("explain prints --format table or json; it has no csv form") }
    }

    func run() throws {
        let explanation = try global.engine(.read).explain(invoiceID: invoice, lineItemID: lineItem, day: day)
        let json = format.map { $0 == .json } ?? (isatty(STDOUT_FILENO) != 1)
        let out = OutputFile()
        try out.write(json ? explanation.json : explanation.text)
        try out.flush()
    }
}
