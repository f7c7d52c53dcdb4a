import Foundation

/// A throwaway PostgreSQL server for tests (Debian's `postgresql`): `initdb` into a temporary
/// directory, `pg_ctl start` on a free loopback port (and a socket in the same directory), trust
/// authentication for the user `daybook`, no fsync. Run as an unprivileged user: as root the
/// cluster belongs to `nobody` and every server command runs through `setpriv`.
///
/// Stopped (immediate shutdown) and removed by ``stop()``, and by deinit on every other path.
///
/// ```swift
/// let pg = try PostgresCluster()
/// defer { pg.stop() }
/// let rows = try pg.psql("select 1")
/// ```
public final class PostgresCluster: @unchecked Sendable {
    // @unchecked: the stored properties are set once in init; `stopped` only by stop(), which the
    // owning test calls from one thread.
    public let directory: String
    public let port: Int
    public let user = "daybook"
    public let database = "postgres"
    private let bin: String
    private var stopped = false

    /// `postgres://daybook@127.0.0.1:PORT/postgres`.
    public var url: String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init() throws {
        bin = try Self.binaries()
        var template = Array((NSTemporaryDirectory() + "/daybook-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw Failure(description: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        if getuid() == 0 {
            guard let nobody = getpwnam("nobody") else {
                throw Failure(description: "no user nobody to run PostgreSQL as")
            }
            chown(directory, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
        }
        port = try Self.freePort()
        try run(
            "initdb",
            ["-D", directory + "/data", "-A", "trust", "-U", user, "-E", "UTF8", "--no-sync", "--no-instructions"])
        try run(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o",
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c synchronous_commit=off",
                "start",
            ])
        // The postmaster is pg_ctl's grandchild: adopted by its command line (naming the directory).
        if let pidFile = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
            let pid = pidFile.split(separator: "\n").first.flatMap({ Int32($0) })
        {
            Watchdog.adopt(pid: pid, marker: URL(fileURLWithPath: directory).lastPathComponent)
        }
    }

    deinit { stop() }

    /// Stops the server at once and removes its directory. Idempotent.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `sql` with `psql` (unaligned, tuples only, stop on the first error) in `database`
    /// (default: `postgres`) and returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String? = nil) throws -> String {
        try run(
            "psql",
            [
                "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database ?? self.database, "-X", "-q", "-A", "-t",
                "-v", "ON_ERROR_STOP=1", "-c", sql,
            ])
    }

    /// A `psql` session kept open: statements go in through its standard input as the test sends
    /// them, so it can hold a transaction (and its locks) open while the test does something else.
    public func session(applicationName: String, database: String? = nil) throws -> PsqlSession {
        let argv = [
            bin + "/psql", "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database ?? self.database, "-X", "-q",
            "-A", "-t", "-v", "ON_ERROR_STOP=1",
        ]
        return try PsqlSession(
            argv: Self.asServerUser(argv), environment: ["PGAPPNAME": applicationName], directory: directory)
    }

    /// `postgres://daybook@127.0.0.1:PORT/DATABASE`.
    public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// Runs one of the server's programs (as `nobody` when the tests run as root); throws with its
    /// output when it fails.
    ///
    /// Spawned directly and reaped with `waitpid`, output to a file: `pg_ctl start` leaves the
    /// server holding every descriptor it inherited, so neither a pipe nor Foundation's `Process`
    /// (which watches a descriptor of the child for its exit) would ever see it end.
    @discardableResult
    private func run(_ program: String, _ args: [String]) throws -> String {
        let argv = Self.asServerUser([bin + "/" + program] + args)
        let outputPath = directory + "/\(program).out"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Standard error apart: run as `nobody` from a directory it cannot enter, the programs
        // warn there ("could not change directory"), which must not mix into query results.
        let errorPath = directory + "/\(program).err"
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        closeInheritedDescriptors(&actions)
        var cArgs = argv.map { strdup($0) }
        defer { cArgs.forEach { free($0) } }
        cArgs.append(nil)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard spawned == 0 else {
            throw Failure(description: "cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        Watchdog.adopt(pid: pid, command: argv.joined(separator: " "))
        // Bounded: a psql waiting on a lock someone never releases must fail the test, not hang it.
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(300)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                throw Failure(description: "\(program) \(args.joined(separator: " ")) did not end within 300 s")
            }
            usleep(2_000)  // a poll interval: the child's exit decides
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw Failure(
                description: "\(program) \(args.joined(separator: " ")) failed (status \(status)): \(output)\(errors)")
        }
        return output
    }

    /// `argv` run as `nobody` when the tests run as root (the cluster's owner), else as it is.
    private static func asServerUser(_ argv: [String]) -> [String] {
        getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + argv : argv
    }

    /// The newest `/usr/lib/postgresql/N/bin` (Debian's layout), or `$DAYBOOK_PG_BIN`.
    private static func binaries() throws -> String {
        if let dir = ProcessInfo.processInfo.environment["DAYBOOK_PG_BIN"] { return dir }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init)
            .sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb")
        else {
            throw Failure(
                description: "no PostgreSQL server under \(root): install Debian's postgresql (./tools/setup)")
        }
        return "\(root)/\(newest)/bin"
    }

    /// A loopback port nothing listens on now (bound to port 0, read back, closed).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// An open `psql` session (``PostgresCluster/session(applicationName:database:)``).
public final class PsqlSession: @unchecked Sendable {
    // @unchecked: used from the test's thread only.
    private let process = Process()
    private let input = Pipe()
    public let stdout: LineCounter
    public let stderr: LineCounter

    init(argv: [String], environment: [String: String], directory: String) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = err
        try process.run()
        Watchdog.adopt(process)
        stdout = LineCounter(out.fileHandleForReading)
        stderr = LineCounter(err.fileHandleForReading)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Sends `sql` (statements ending in `;`) to the session.
    public func send(_ sql: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((sql + "\n").utf8))
    }

    /// Closes the session's input and waits at most `seconds` for psql to end; its exit status, nil
    /// when it did not end in time (it is then killed).
    public func finish(seconds: Int = 60) -> Int32? {
        try? input.fileHandleForWriting.close()
        guard stdout.waitForEnd(seconds: seconds) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        _ = stderr.waitForEnd(seconds: seconds)
        process.waitUntilExit()
        return process.terminationStatus
    }
}
