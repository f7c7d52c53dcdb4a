import DaybookSources
import DaybookTestSupport
import Foundation
import NATS

#if canImport(Glibc)
    import Glibc
#endif

/// A local Daybook cluster the test owns, started by `tools/cluster up` (docs/scale-out.md §7) in a
/// temporary directory: nats-servers n1…nN on loopback (JetStream, `sync_interval: always`, the
/// partition mapping), the streams and buckets of `daybook cluster init`, optionally a PostgreSQL
/// and `daybook serve --cluster` instances. Its `cluster.env` is read back after every verb.
///
/// ``down()`` stops everything (idempotent); deinit calls it too and removes the directory, so a
/// test leaves no process behind on any path, a failed start included (the script stops what it
/// had started before it fails).
///
/// ```swift
/// let cluster = try ClusterHarness(partitions: 8)
/// let leader = try #require(try cluster.leader(of: "DAYBOOK_P00"))
/// try cluster.kill(node: leader)
/// try cluster.start(node: leader)
/// ```
final class ClusterHarness: @unchecked Sendable {
    // @unchecked: used from the test's thread only.

    /// One nats-server of the cluster.
    struct Node: Sendable, Hashable {
        /// Its `server_name` (n1, n2, …): what stream leaders are named by.
        var name: String
        var port: Int
        /// nil while the node is stopped (``kill(node:)``).
        var pid: Int32?
        var url: String { "nats://127.0.0.1:\(port)" }
    }

    /// One `daybook serve --cluster` instance.
    struct Instance: Sendable, Hashable {
        var name: String
        var pid: Int32?
        /// `http://127.0.0.1:PORT` from its `listening on` line.
        var url: String
    }

    /// `tools/cluster` of this package.
    static let script = TestBinaries.packageRoot.appendingPathComponent("tools/cluster")

    /// The cluster's directory (stores, configs, logs, `cluster.env`).
    let directory: URL
    /// `cluster.env`, as read after the last verb.
    private(set) var environment: [String: String] = [:]
    private var stopped = false

    /// Starts the cluster: `tools/cluster up` with `nodes` nats-servers, `partitions` partitions,
    /// `instances` instances, and a PostgreSQL when `postgres`. Throws with the script's output
    /// when it fails (nothing is left running then).
    init(nodes: Int = 3, partitions: Int = 32, instances: Int = 0, postgres: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "daybook-cluster-\(UUID().uuidString)")
        var args = [
            "up", "--dir", directory.path, "--nodes", "\(nodes)", "--partitions", "\(partitions)", "--instances",
            "\(instances)", "--daybook", Run.daybook.path,
        ]
        if !postgres { args.append("--no-postgres") }
        // At a test's bound the watchdog kills the cluster's daemons (they are not our children).
        let env = directory.appendingPathComponent("cluster.env").path, marker = directory.path
        Watchdog.atBound { Self.killDaemons(listedIn: env, marker: marker) }
        do {
            try script(args, timeout: 180)
            try reload()
        } catch {
            down()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    deinit {
        down()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The client URLs of every node, comma separated (what `--nats` and `--cluster` take).
    var natsURLs: String { environment["NATS_URLS"] ?? "" }

    /// The nodes, n1 first.
    var nodes: [Node] {
        names("NATS_NODES").map { name in
            let key = "NATS_\(name.uppercased())_"
            return Node(
                name: name, port: Int(environment[key + "PORT"] ?? "") ?? 0, pid: Int32(environment[key + "PID"] ?? ""))
        }
    }

    /// `postgres://daybook@127.0.0.1:PORT/postgres`; nil without a PostgreSQL.
    var postgresURL: String? { environment["POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    /// The instances started so far.
    var instances: [Instance] {
        names("INSTANCES").map { name in
            let key = "INSTANCE_\(name.uppercased())_"
            return Instance(name: name, pid: Int32(environment[key + "PID"] ?? ""), url: environment[key + "URL"] ?? "")
        }
    }

    /// Every process the cluster runs now: nodes, PostgreSQL's postmaster, instances.
    var processIDs: [Int32] {
        nodes.compactMap(\.pid) + [Int32(environment["POSTGRES_PID"] ?? "")].compactMap { $0 }
            + instances.compactMap(\.pid)
    }

    /// The log of node `name` (appended across restarts).
    func log(node name: String) -> String {
        (try? String(contentsOfFile: environment["NATS_\(name.uppercased())_LOG"] ?? "", encoding: .utf8)) ?? ""
    }

    /// A new JetStream connection to the cluster (any live node).
    func connect() throws -> JetStream {
        try NATSConnection(url: natsURLs, name: "daybook-test", retryFirstConnect: false).jetStream()
    }

    /// The server name of `stream`'s raft leader now; nil while none is elected.
    func leader(of stream: String) throws -> String? { try connect().streamLeader(stream) }

    /// SIGKILL of node `name`, sent at once from here (a test kills at a moment it chose), then
    /// recorded by `tools/cluster kill-node`, which waits for the process to end. Its store and
    /// configuration stay.
    func kill(node name: String) throws {
        guard let node = nodes.first(where: { $0.name == name }) else { throw HarnessError("no node \(name)") }
        if let pid = node.pid, Self.isRunning(pid),
            let config = environment["NATS_\(name.uppercased())_CONFIG"],
            commandLine(of: pid)?.contains(config) == true
        {
            Glibc.kill(pid, SIGKILL)
        }
        try script(["kill-node", directory.path, name])
        try reload()
    }

    /// Starts node `name` again with the same configuration and store, and waits until it is
    /// healthy (caught up with the cluster) (`tools/cluster start-node`).
    func start(node name: String) throws {
        try script(["start-node", directory.path, name])
        try reload()
    }

    /// `tools/cluster status`: its output, and whether everything listed runs.
    func status() throws -> (output: String, allRunning: Bool) {
        let r = try Run.capture(Self.script.path, ["status", directory.path])
        try reload()
        return (r.stdout, r.status == 0)
    }

    /// Stops everything (`tools/cluster down`), leaving the directory for its logs. Idempotent.
    func down() {
        guard !stopped else { return }
        stopped = true
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("cluster.env").path) else {
            return
        }
        if let r = try? Run.capture(Self.script.path, ["down", directory.path], timeout: 120), r.status != 0 {
            FileHandle.standardError.write(Data("tools/cluster down \(directory.path): \(r.stderr)\n".utf8))
        }
        try? reload()
    }

    /// Whether `pid` is a live process (a zombie waiting to be reaped counts as ended).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = ProcessStat(pid) else { return false }
        return stat.state != "Z"
    }

    /// SIGKILL of every process `cluster.env` lists whose command line names the cluster's directory.
    private static func killDaemons(listedIn env: String, marker: String) {
        let text = (try? String(contentsOfFile: env, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "="), line[..<equals].hasSuffix("PID"),
                let pid = Int32(line[line.index(after: equals)...].filter(\.isNumber)),
                commandLine(of: pid)?.contains(marker) == true
            else { continue }
            Glibc.kill(pid, SIGKILL)
        }
    }

    // MARK: Running the script

    @discardableResult
    private func script(_ args: [String], timeout: Int = 120) throws -> Run.Result {
        let r = try Run.capture(Self.script.path, args, timeout: timeout)
        guard r.status == 0 else {
            throw HarnessError(
                "tools/cluster \(args.joined(separator: " ")) exited \(r.status):\n\(r.stderr)\n\(r.stdout)")
        }
        return r
    }

    /// Reads `cluster.env`: lines `NAME='value'` (the script never writes a quote inside a value).
    private func reload() throws {
        let text = try String(
            contentsOf: directory.appendingPathComponent("cluster.env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = line[line.index(after: equals)...]
            if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 { value = value.dropFirst().dropLast() }
            values[String(line[..<equals])] = String(value)
        }
        guard values["NATS_URLS"] != nil else { throw HarnessError("cluster.env without NATS_URLS:\n\(text)") }
        environment = values
    }

    private func names(_ key: String) -> [String] {
        (environment[key] ?? "").split(separator: " ").map(String.init)
    }
}
