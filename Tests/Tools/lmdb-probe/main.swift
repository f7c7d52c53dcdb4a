// lmdb-probe: a second process for the LMDB tests. Each verb opens the store at PATH with the LMDB
// target's Environment, does one thing, and reports on stdout (one line per step):
//
//   lmdb-probe hold-write PATH
//       writes key "held" = "by-probe" in a write transaction, prints "holding", then keeps the
//       transaction (and LMDB's writer lock) open until stdin reaches EOF; commits, prints "committed".
//   lmdb-probe fill PATH FIRST COUNT VALUE_BYTES MAP_SIZE
//       opens with an initial map of MAP_SIZE bytes and writes keys FIRST..<FIRST+COUNT (8-byte
//       big-endian) with values of VALUE_BYTES bytes, each byte `key % 251`, 50 keys per transaction,
//       growing the map as it goes; prints "done USED_BYTES MAP_SIZE".
//   lmdb-probe open-unprivileged PATH
//       when running as root, first drops to uid/gid 65534 (nobody) so file permissions apply; then
//       opens the store and writes one key. Prints "opened" (exit 0), or "error CODE DESCRIPTION"
//       for an LMDBError (exit 3). Exit 77 if privileges could not be dropped.
//
// Any other failure prints to stderr and exits 1; bad usage exits 2.

import Foundation
import LMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a line to stdout at once (unbuffered), so the test sees it while we block.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(status)
}

func key(_ value: UInt64) -> [UInt8] {
    var key: [UInt8] = []
    key.appendBigEndian(value)
    return key
}

func number(_ text: String) -> Int {
    guard let value = Int(text), value >= 0 else { fail("not a non-negative number: \(text)", status: 2) }
    return value
}

let arguments = Array(CommandLine.arguments.dropFirst())

do {
    switch (arguments.first, arguments.count) {
    case ("hold-write", 2):
        let env = try Environment.open(path: arguments[1])
        let db = try env.database("main")
        try env.write { txn in
            try txn.put(Array("held".utf8), Array("by-probe".utf8), in: db)
            say("holding")
            _ = FileHandle.standardInput.readDataToEndOfFile()  // blocks until the test closes our stdin
        }
        say("committed")

    case ("fill", 6):
        let first = number(arguments[2]), count = number(arguments[3])
        let valueBytes = number(arguments[4]), mapSize = number(arguments[5])
        let env = try Environment.open(path: arguments[1], options: .init(mapSize: mapSize))
        let db = try env.database("main")
        var next = first
        while next < first + count {
            let end = min(next + 50, first + count)
            try env.write { txn in
                for n in next..<end {
                    try txn.put(key(UInt64(n)), [UInt8](repeating: UInt8(n % 251), count: valueBytes), in: db)
                }
            }
            next = end
        }
        let info = try env.info()
        say("done \(info.usedBytes) \(info.mapSize)")

    case ("open-unprivileged", 2):
        if geteuid() == 0 {
            guard setgroups(0, nil) == 0, setgid(65534) == 0, setuid(65534) == 0, geteuid() == 65534 else {
                fail("cannot drop privileges to uid 65534: \(String(cString: strerror(errno)))", status: 77)
            }
        }
        do {
            let env = try Environment.open(path: arguments[1])
            let db = try env.database("main")
            try env.write { try $0.put(Array("k".utf8), Array("v".utf8), in: db) }
            say("opened")
        } catch let error as LMDBError {
            say("error \(error.code.rawValue) \(error)")
            exit(3)
        }

    default:
        fail(
            "usage: lmdb-probe hold-write PATH | fill PATH FIRST COUNT VALUE_BYTES MAP_SIZE | open-unprivileged PATH",
            status: 2)
    }
} catch {
    fail("lmdb-probe: \(error)")
}
