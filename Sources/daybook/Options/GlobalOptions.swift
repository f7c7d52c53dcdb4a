import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookStore

/// `--data` and `--now`, for the verbs that open the store and read the clock.
struct GlobalOptions: ParsableArguments {
    @OptionGroup var store: StoreOption
    @OptionGroup var clockOption: ClockOption

    var data: String { store.data }

    /// The engine clock: `--now`, else `$DAYBOOK_NOW`, else the wall clock.
    func clock() throws -> Timestamp { try clockOption.clock() }

    /// Opens the store (see ``StoreOption/engine(_:mustExist:)``).
    func engine(_ access: StoreAccess, mustExist: Bool = false) throws -> Engine {
        try store.engine(access, mustExist: mustExist)
    }
}

/// `--data` and `--now` on a verb that uses neither (`generate`, `demo`): accepted, because SPEC §7
/// gives every verb the global options, but left out of its help.
struct IgnoredGlobalOptions: ParsableArguments {
    @OptionGroup var store: IgnoredStoreOption
    @OptionGroup var clock: IgnoredClockOption
}
