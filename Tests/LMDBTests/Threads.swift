import Foundation
import Synchronization

/// A one-way signal between threads with bounded waits (a semaphore that stays open once signalled).
final class Signal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func fire() { semaphore.signal() }

    /// Whether the signal fired within `seconds`; it stays fired for later waits.
    func wait(seconds: Int) -> Bool {
        guard semaphore.wait(timeout: .now() + .seconds(seconds)) == .success else { return false }
        semaphore.signal()
        return true
    }
}

/// Runs body on a new thread (outside Swift concurrency's pool, so it may block); `done` fires after.
func onThread(_ body: @escaping @Sendable () -> Void) -> Signal {
    let done = Signal()
    Thread.detachNewThread {
        body()
        done.fire()
    }
    return done
}
