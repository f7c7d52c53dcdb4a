import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Records that were not accepted, with reason and position.")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption
    func run() throws { output.emit(try store.engine(.read).deadLettersTable()) }
}
