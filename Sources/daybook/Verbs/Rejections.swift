import ArgumentParser
import DaybookCore
import DaybookEngine
import DaybookOutput
import DaybookStore
import DaybookWorkload
import Foundation

struct Rejections: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Metric rejections: accepted events a sum/max metric could not use, with the reason.")
    @OptionGroup var store: StoreOption
    @OptionGroup var ignored: IgnoredClockOption
    @OptionGroup var output: FormatOption
    func run() throws { output.emit(try store.engine(.read).metricRejectionsTable()) }
}
