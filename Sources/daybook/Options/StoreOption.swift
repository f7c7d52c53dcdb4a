import ArgumentParser
import DaybookEngine
import Foundation

/// `--data DIR`, for the verbs that open the store.
struct StoreOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (an LMDB environment).", valueName: "dir"))
    var data: String = "./daybook-data"

    /// Opens the store; read verbs (`mustExist`) refuse to create an empty one at a mistyped path.
    func engine(mustExist: Bool = false) throws -> Engine {
        if mustExist && !FileManager.default.fileExists(atPath: data + "/data.mdb") {
            throw UsageError(
                "no Daybook store at \(data) (create one with `daybook catalog apply FILE --data \(data)`)")
        }
        return try Engine(path: data)
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
