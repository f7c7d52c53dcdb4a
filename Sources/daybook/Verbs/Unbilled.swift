import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Unbilled: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Logged events no contract covers.")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption
    func run() throws { output.emit(try store.engine(.read).unbilledTable()) }
}
