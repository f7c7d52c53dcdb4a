import DaybookEngine
import DaybookStore
import LMDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the CLI says about a damaged store, and its last line of defence against one.
///
/// The store is checked when it is opened, every key and value LMDB returns is bounds-checked
/// before it is copied, every record decoder throws on malformed bytes, and an LMDB assertion
/// ends the process with a message: damage is an error (exit 1, "store damaged: …; restore from
/// backup"). A memory fault that none of these catches (LMDB itself reading a damaged page past
/// the end of the file) would still end the process with SIGBUS or SIGSEGV; while a verb reads a
/// store, those two signals instead write a fixed message naming the store and exit 1. That
/// handler is the last line of defence, not the fix: a fault it reports is a check to add.
enum DamagedStore {
    /// What users are told to do about damage, after the message.
    static let advice = "restore from backup (`daybook check` reports the damage)"

    private static let watched = Mutex<String?>(nil)

    /// The store the verb opened, for messages.
    static var path: String? { watched.withLock { $0 } }

    /// Records `path` as the store being read, and installs the fault handlers (once).
    static func watch(_ path: String) {
        watched.withLock { $0 = path }
        Environment.damageAdvice = advice
        MapFaultReport.install(
            message: "daybook: store damaged (memory fault while reading \(path)); \(advice)\n")
    }

    /// The message for an error that says the store is damaged, or nil for any other error.
    static func message(for error: any Error) -> String? {
        let place = path.map { " (in \($0))" } ?? ""
        switch error {
        // Damage found while ingesting reaches here wrapped with the record or batch it stopped.
        case let e as IngestFailure:
            return message(for: e.underlying).map { "\($0); \(e.description)" }
        case let e as IngestError:
            return message(for: e.underlying).map { "\($0); \(e.description)" }
        case let e as StoreCorruption:
            return "store damaged: \(e.message)\(place); \(advice)"
        case let e as LMDBError where e.code.indicatesDamage:
            let store = e.path ?? path
            return "store damaged: \(e.reason) (\(e.operation)\(store.map { " in \($0)" } ?? "")); \(advice)"
        default:
            return nil
        }
    }
}
