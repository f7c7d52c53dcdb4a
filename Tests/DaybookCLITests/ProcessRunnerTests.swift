import DaybookTestSupport
import Foundation
import Testing

/// The test helper that runs child processes (`CLI.execute`) must drain standard output and
/// standard error at the same time and feed standard input alongside: a child that fills one pipe
/// (64 KiB on Linux) while the helper waits on another would otherwise hang the suite.
@Suite("CLI test helper: child pipes", .watchdog(seconds: 600))
struct ProcessRunnerTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")
    /// 2 MiB of "e\n" lines (and of "o\n"), far more than a pipe buffer holds.
    static let lines = 1 << 20

    /// `N` lines of `text` to standard output, without a pipe that closes early: `yes | head`
    /// makes `yes` report a broken pipe on stderr when the test process ignores SIGPIPE (cnats,
    /// used in-process by the JetStream tests, sets it to SIG_IGN, and children inherit that).
    static func print(_ text: String) -> String { "awk 'BEGIN { for (i = 0; i < \(lines); i++) print \"\(text)\" }'" }

    @Test func childFillingStderrBeforeStdout() throws {
        let r = try CLI.execute(
            Self.shell, ["-c", "\(Self.print("e")) >&2; \(Self.print("o")); exit 3"])
        #expect(r.status == 3)
        #expect(r.stderr == String(repeating: "e\n", count: Self.lines))
        #expect(r.stdout == String(repeating: "o\n", count: Self.lines))
    }

    @Test func childFillingStdoutBeforeStderr() throws {
        let r = try CLI.execute(
            Self.shell, ["-c", "\(Self.print("o")); \(Self.print("e")) >&2"])
        #expect(r.status == 0)
        #expect(r.stdout.utf8.count == 2 * Self.lines)
        #expect(r.stderr.utf8.count == 2 * Self.lines)
    }

    @Test func childEchoingLargeStdinWhileItIsWritten() throws {
        // `cat` copies its input to stderr as it reads it: it stops reading once stderr is full,
        // so the input can only be written completely while stderr is being drained.
        let input = Data(String(repeating: "i\n", count: Self.lines).utf8)
        let r = try CLI.execute(Self.shell, ["-c", "cat >&2; echo done"], stdin: input)
        #expect(r.status == 0)
        #expect(r.stdout == "done\n")
        #expect(Data(r.stderr.utf8) == input)
    }

    @Test func environmentIsAddedToTheInheritedOne() throws {
        let r = try CLI.execute(
            Self.shell, ["-c", "printf '%s|%s' \"$DAYBOOK_TEST_VAR\" \"${PATH:+path}\""],
            environment: ["DAYBOOK_TEST_VAR": "x y"])
        #expect(r.stdout == "x y|path")
    }
}
