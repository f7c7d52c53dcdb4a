import ArgumentParser
import DaybookEngine
import Foundation

/// `--data DIR`, for the verbs that open the store.
struct StoreOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (an LMDB environment).", valueName: "dir"))
    var data: String = "./daybook-data"

    /// Opens the store; every verb but `catalog apply` (`mustExist`) refuses to create an empty one
    /// at a mistyped path.
    func engine(mustExist: Bool = false) throws -> Engine {
        if mustExist { try requireStore() }
        return try Engine(path: data)
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
