import Dispatch
import Foundation
import Synchronization

/// Work on a thread of its own (not a shared pool, which blocking reads could starve), joined by `wait()`.
public final class Background: Sendable {
    private let result = Mutex<Data?>(nil)
    private let done = DispatchSemaphore(value: 0)

    public init(_ work: @escaping @Sendable () -> Data) {
        let thread = Thread { [self] in
            let value = work()
            result.withLock { $0 = value }
            done.signal()
        }
        thread.start()
    }

    /// Blocks until the work has finished; returns what it produced.
    public func wait() -> Data {
        done.wait()
        return result.withLock { $0 ?? Data() }
    }
}
