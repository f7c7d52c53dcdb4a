import DaybookTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `/bin/mount` or `/bin/umount` with `args`; true on exit 0.
@discardableResult
private func mountTool(_ tool: String, _ args: [String]) -> Bool {
    let url = URL(fileURLWithPath: "/bin/\(tool)")
    guard FileManager.default.isExecutableFile(atPath: url.path), let r = try? CLI.execute(url, args) else {
        return false
    }
    return r.status == 0
}

/// A tmpfs mounted on a fresh directory (root only), remountable read-only; `remove()` unmounts
/// it (lazily if still busy) and removes the directory on every path.
private struct ScratchMount {
    let path: String

    init?() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("daybook-ro-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil else {
            return nil
        }
        guard mountTool("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", dir]) else {
            try? FileManager.default.removeItem(atPath: dir)
            return nil
        }
        path = dir
    }

    func remountReadOnly() -> Bool { mountTool("mount", ["-o", "remount,ro", path]) }

    func remove() {
        if !mountTool("umount", [path]) { mountTool("umount", ["-l", path]) }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether a tmpfs can be mounted and remounted read-only here (root with mount rights).
    static let available: Bool = {
        guard let probe = ScratchMount() else { return false }
        defer { probe.remove() }
        return probe.remountReadOnly()
    }()
}

private let setpriv = "/usr/bin/setpriv"

/// Whether a child can be run as uid/gid 65534 (the tests run as root, setpriv is installed).
private let canDropPrivileges = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: setpriv)

/// Issue 8 item 9: a store on a read-only file system (or read-only to the user) can be read.
@Suite("Read-only stores", .watchdog(seconds: 600))
struct ReadOnlyStoreTests {
    static func readVerbs(_ out: String) -> [[String]] {
        [
            ["stats"], ["invoices", "--now", DamageFixture.now, "--format", "csv"],
            ["breakdown", "--invoice", DamageFixture.invoice, "--now", DamageFixture.now, "--format", "csv"],
            ["discrepancies", "--format", "json"], ["dead-letters", "--format", "csv"],
            ["unbilled", "--format", "csv"],
            ["export", "--as-of", "2026-11-01", "--out", out], ["check", "--format", "json"],
        ]
    }

    // Needs a tmpfs remounted read-only: root with mount(8) rights. Elsewhere the test is skipped
    // with this reason (the permission test below covers read-only files without a mount).
    @Test(
        .enabled(
            if: ScratchMount.available,
            "cannot mount a tmpfs and remount it read-only here (needs root and mount rights)")
    )
    func storeOnAReadOnlyFileSystemIsReadAndWritesSayWhy() throws {
        let base = try DamageFixture.base.get()
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        let mount = try #require(ScratchMount())
        defer { mount.remove() }
        let store = mount.path + "/store", bare = mount.path + "/bare"
        for dir in [store, bare] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(base).write(to: URL(fileURLWithPath: dir + "/data.mdb"))
        }
        // Before: every read verb's output on the writable mount (this also creates lock.mdb in `store`).
        let verbs = Self.readVerbs(workspace.path("out"))
        var expected: [CLI.Result] = []
        for verb in verbs {
            let r = try CLI.daybook(verb + ["--data", store])
            #expect(r.status == 0, "\(verb[0]): \(r.stderr)")
            expected.append(r)
        }
        try #require(FileManager.default.fileExists(atPath: store + "/lock.mdb"))
        #expect(!FileManager.default.fileExists(atPath: bare + "/lock.mdb"))
        try #require(mount.remountReadOnly(), "remount read-only")

        for (verb, before) in zip(verbs, expected) {
            for dir in [store, bare] {
                let r = try CLI.daybook(verb + ["--data", dir])
                #expect(r.status == 0, "daybook \(verb[0]) on a read-only file system: \(r.stderr)")
                if dir == store || verb[0] != "check" {
                    #expect(r.stdout.replacingOccurrences(of: bare, with: store) == before.stdout, "\(verb[0])")
                }
            }
        }
        for verb in DamageFixture.writeVerbs(tinyFile: workspace.tinyFile) {
            let r = try CLI.daybook(verb + ["--data", store])
            #expect(r.status == 1, "\(verb[0]): \(r.stderr)")
            #expect(r.stderr.contains("read-only file system: cannot open \(store) for writing"), "\(r.stderr)")
            #expect(r.stderr.contains("remount it read-write"))
        }
    }

    // Needs root (to make files another user cannot write) and setpriv(1) to run daybook as
    // uid 65534; elsewhere skipped with this reason.
    @Test(.enabled(if: canDropPrivileges, "needs root and /usr/bin/setpriv to run daybook as another user"))
    func storeReadOnlyToTheUserIsReadOnlyWhenNobodyCanWriteIt() throws {
        let base = try DamageFixture.base.get()
        let workspace = try DamageWorkspace()
        defer { workspace.remove() }
        chmod(workspace.root.path, 0o755)
        let frozen = try workspace.store("frozen", base)
        let owned = try workspace.store("owned", base)
        for dir in [frozen, owned] {
            let first = try CLI.daybook(["stats", "--data", dir])  // creates lock.mdb, owned by root
            try #require(first.status == 0, "\(first.stderr)")
        }
        let expected = try CLI.daybook(["stats", "--data", frozen]).stdout
        // `frozen`: no write bit on data.mdb or lock.mdb for anyone; `owned`: root may write both.
        for file in ["data.mdb", "lock.mdb"] { chmod(frozen + "/" + file, 0o444) }
        func asNobody(_ args: [String]) throws -> CLI.Result {
            try CLI.execute(
                URL(fileURLWithPath: setpriv),
                ["--reuid=65534", "--regid=65534", "--clear-groups", "--", CLI.binary.path] + args)
        }
        let read = try asNobody(["stats", "--data", frozen])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stdout == expected)
        let check = try asNobody(["check", "--data", frozen])
        #expect(check.status == 0, "\(check.stderr)")

        let refused = try asNobody(["stats", "--data", owned])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("permission denied: cannot open \(owned)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("lock.mdb cannot be opened for writing"))
        let write = try asNobody(["ingest", workspace.tinyFile, "--now", DamageFixture.now, "--data", frozen])
        #expect(write.status == 1)
        #expect(write.stderr.contains("permission denied"), "\(write.stderr)")
    }
}
