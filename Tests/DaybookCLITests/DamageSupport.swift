import DaybookTestSupport
import DaybookWorkload
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A small seeded generator: the same seed makes the same damaged copies.
typealias SeededRandom = SplitMix64

/// A data.mdb read as LMDB 0.9 lays it out on a 64-bit little-endian machine, to damage one
/// chosen page on purpose: page header (pgno u64, pad u16, flags u16, lower u16, upper u16),
/// node offsets after it; a node is (lo u16, hi u16, flags u16, key size u16, key, data); meta
/// pages 0 and 1 hold the free and main databases' records (`MDB_db`: pad u32, flags u16,
/// depth u16, branch, leaf, overflow pages, entries, root) at offsets 40 and 88.
struct LMDBFile {
    static let pageSize = 4096
    static let branch: UInt16 = 0x01, leaf: UInt16 = 0x02
    var bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    mutating func setU16(_ at: Int, _ v: Int) { bytes[at] = UInt8(v & 0xFF); bytes[at + 1] = UInt8(v >> 8 & 0xFF) }

    func page(_ pgno: Int) -> Int { pgno * Self.pageSize }
    func flags(_ pgno: Int) -> UInt16 { UInt16(u16(page(pgno) + 10)) }
    mutating func setFlags(_ pgno: Int, _ flags: UInt16) { setU16(page(pgno) + 10, Int(flags)) }

    /// The meta page with the larger transaction id (the one LMDB uses).
    var meta: Int { u64(page(0) + 144) >= u64(page(1) + 144) ? 0 : 1 }

    /// Offsets (from the file start) of the nodes of page `pgno`.
    func nodes(_ pgno: Int) -> [Int] {
        let start = page(pgno)
        let count = (u16(start + 12) - 16) / 2
        return (0..<count).map { start + u16(start + 16 + 2 * $0) }
    }

    /// The child page numbers of branch page `pgno`.
    func children(_ pgno: Int) -> [Int] {
        nodes(pgno).map { node in u16(node) | u16(node + 2) << 16 | u16(node + 4) << 32 }
    }

    /// The root page and depth of the named database, from the main database (a single leaf).
    func database(_ name: String) -> (root: Int, depth: Int)? {
        let mainRoot = u64(page(meta) + 88 + 40)
        guard flags(mainRoot) & Self.leaf != 0 else { return nil }
        for node in nodes(mainRoot) {
            let keySize = u16(node + 6)
            let key = String(decoding: bytes[(node + 8)..<(node + 8 + keySize)], as: UTF8.self)
            guard key == name else { continue }
            let record = node + 8 + keySize
            return (u64(record + 40), u16(record + 6))
        }
        return nil
    }
}

/// How a `daybook` run ended.
struct RunOutcome: Sendable {
    enum End: Sendable, Hashable { case exit(Int32), signal(Int32), hang }
    var end: End
    var stderr: String
}

/// Runs `daybook ARGS` with standard output discarded and standard error kept, killing it after
/// `timeout` seconds (a hang). The process is waited for on every path.
func runDaybook(_ args: [String], stderrFile: String, timeout: Int = 60) throws -> RunOutcome {
    _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
    defer { try? err.close() }
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = args
    // The runtime's backtracer would take seconds per crash; the way the process ends is the same.
    process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = err
    let ended = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in ended.signal() }
    try process.run()
    Watchdog.adopt(process)
    var hung = false
    if ended.wait(timeout: .now() + .seconds(timeout)) == .timedOut {
        hung = true
        kill(process.processIdentifier, SIGKILL)
        ended.wait()
    }
    let text = (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? ""
    if hung { return RunOutcome(end: .hang, stderr: text) }
    switch process.terminationReason {
    case .uncaughtSignal: return RunOutcome(end: .signal(process.terminationStatus), stderr: text)
    default: return RunOutcome(end: .exit(process.terminationStatus), stderr: text)
    }
}

/// A real store for the damage tests, built once per test process with the CLI (the example
/// catalog, ~3,400 events over ten days, a finalization, then late events: drift) and kept as
/// the bytes of its data.mdb; its directory is removed at once. Each test works in a
/// `DamageWorkspace` of its own.
enum DamageFixture {
    static let now = "2026-11-03T12:00:00Z"
    static let invoice = "acme-2026/2026-10-01"

    /// The intact store's data.mdb.
    static let base: Result<[UInt8], any Error> = Result { try build() }

    private static func build() throws -> [UInt8] {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "daybook-damage-base-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let cli = CLI(data: root)
        let usage = cli.file("usage.ndjson").path, late = cli.file("late.ndjson").path
        func ok(_ r: CLI.Result) throws {
            guard r.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": r.stderr]) }
        }
        try ok(
            try CLI.daybook([
                "generate", "--seed", "3", "--start", "2026-10-20", "--days", "10", "--events-per-day", "100",
                "--out", usage,
            ]))
        try ok(
            try CLI.daybook([
                "generate", "--seed", "4", "--start", "2026-10-22", "--days", "5", "--events-per-day", "5",
                "--customers", "acme", "--out", late,
            ]))
        try ok(try cli.run(["catalog", "apply", try cli.exampleCatalog()], now: "2026-10-01T00:00:00Z"))
        try ok(try cli.run(["ingest", usage], now: "2026-10-30T00:00:00Z"))
        try ok(try cli.run(["finalize", "--through", "2026-10-31"], now: "2026-11-02T06:00:00Z"))
        // Late events with ids of their own (the generator numbers ids per seed).
        let lateLines = try String(contentsOfFile: late, encoding: .utf8)
            .replacingOccurrences(of: "\"transaction_id\": \"", with: "\"transaction_id\": \"late-")
        try lateLines.write(toFile: late, atomically: true, encoding: .utf8)
        try ok(try cli.run(["ingest", late], now: now))
        return Array(try Data(contentsOf: URL(fileURLWithPath: cli.store + "/data.mdb")))
    }

    /// The read verbs and the write verbs the damage tests run (each with `--data DIR` added).
    static func readVerbs(out: String) -> [[String]] {
        [
            ["stats"], ["invoices", "--now", now], ["breakdown", "--invoice", invoice, "--now", now],
            ["export", "--as-of", "2026-11-01", "--out", out], ["discrepancies"], ["dead-letters"], ["unbilled"],
            ["rejections"], ["invoice", "show", invoice, "--now", now], ["check"],
            ["explain", "--invoice", invoice, "--line-item", "api_requests", "--day", "2026-10-12"],
        ]
    }

    static func writeVerbs(tinyFile: String) -> [[String]] {
        [["ingest", tinyFile, "--now", now], ["finalize", "--now", "2026-12-05T00:00:00Z"]]
    }
}

/// A temporary directory for one test: store copies, a one-event file for `ingest`. Removed by `remove()`.
struct DamageWorkspace {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-damage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try
            "{\"transaction_id\": \"damage-probe-1\", \"customer_id\": \"acme\", \"event_type\": \"api_request\", \"timestamp\": \"2026-11-03T10:00:00Z\", \"properties\": {}}\n"
            .write(to: root.appendingPathComponent("tiny.ndjson"), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    var tinyFile: String { root.appendingPathComponent("tiny.ndjson").path }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// A fresh store directory `name` whose data.mdb is `data`.
    @discardableResult
    func store(_ name: String, _ data: [UInt8]) throws -> String {
        let dir = root.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(data).write(to: dir.appendingPathComponent("data.mdb"))
        return dir.path
    }
}

extension CLI {
    /// A CLI helper over an existing directory.
    init(data: URL) { self.data = data }
}
