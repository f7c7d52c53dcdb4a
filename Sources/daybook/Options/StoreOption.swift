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
    /// exit 2, "no Daybook store"); write verbs (`.write`) create it when missing.
    func engine(_ access: StoreAccess) throws -> Engine {
        DamagedStore.watch(data)
        return try Engine(path: data, access: access)
    }

    /// The store's writer (ingest), after the same checks as `engine(.write)`.
    func writer() throws -> Writer {
        DamagedStore.watch(data)
        return try Writer(path: data)
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
