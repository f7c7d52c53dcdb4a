import ArgumentParser
import DaybookEngine
import DaybookStore
import Foundation

/// `--data DIR`, for the verbs that open the store.
struct StoreOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (an LMDB environment).", valueName: "dir"))
    var data: String = "./daybook-data"

    /// Opens the store, checked first (a damaged one is refused before anything is written):
    /// read verbs (`.read`) open it read-only and never create one (a missing or empty store is
    /// exit 2, "no Daybook store"); write verbs (`.write`) create it when missing, except with
    /// `mustExist` (every write verb but `catalog apply`: a mistyped `--data` never ingests into an
    /// empty store against the empty catalog).
    func engine(_ access: StoreAccess, mustExist: Bool = false) throws -> Engine {
        if mustExist { try requireStore() }
        DamagedStore.watch(data)
        return try Engine(path: data, access: access)
    }

    /// The store's writer (ingest), after the same checks as `engine(.write, mustExist: true)`.
    func writer() throws -> Writer {
        try requireStore()
        DamagedStore.watch(data)
        return try Writer(path: data)
    }

    /// Bad usage (exit 2) unless a store exists at `--data`: only `catalog apply` creates one, so
    /// a mistyped `--data` never ingests into an empty store against the empty catalog.
    func requireStore() throws {
        guard !FileManager.default.fileExists(atPath: data + "/data.mdb") else { return }
        throw UsageError("no Daybook store at \(data) (create one with `daybook catalog apply FILE --data \(data)`)")
    }
}

/// `--data` on a verb that does not open the store: accepted, because SPEC §7 gives every verb
/// the global options, but left out of its help (it has no effect there).
struct IgnoredStoreOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Accepted on every verb; this one does not open a store.", valueName: "dir", visibility: .hidden)
    )
    var data: String?
}
