import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT, the signals that shut `daybook serve` down gracefully.
enum ShutdownSignals {
    static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        return set
    }

    /// Blocks them on the calling thread (and so in every thread it starts from now on).
    static func block() {
        var set = Self.set
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}

/// Runs the shutdown once, however many signals or failures ask for it; a second signal exits.
final class Shutdown: Sendable {
    private let started = Mutex(false)
    private let action: @Sendable () -> Void

    init(_ action: @escaping @Sendable () -> Void) { self.action = action }

    func begin() {
        let first = started.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        if first { action() }
    }

    var isStarted: Bool { started.withLock { $0 } }
}

/// A thread that takes SIGTERM and SIGINT with `sigwait` (they are blocked in every thread, see
/// ``DaybookService/prepareProcess()``): the first calls `onSignal`, a second exits the process
/// at once with status 1.
final class SignalThread: Sendable {
    private let state = Mutex<(stopped: Bool, thread: pthread_t?)>((false, nil))
    private let started = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(onSignal: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            var set = ShutdownSignals.set
            pthread_sigmask(SIG_BLOCK, &set, nil)
            state.withLock { $0.thread = pthread_self() }
            started.signal()
            var signals = 0
            while true {
                var signal: Int32 = 0
                guard sigwait(&set, &signal) == 0 else { continue }
                if state.withLock({ $0.stopped }) { break }
                signals += 1
                if signals == 1 {
                    let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
                    FileHandle.standardError.write(
                        Data("daybook serve: \(name): finishing the requests in flight, then exiting\n".utf8))
                    onSignal()
                } else {
                    FileHandle.standardError.write(Data("daybook serve: second signal: exiting now\n".utf8))
                    exit(1)
                }
            }
            done.signal()
        }
        thread.name = "daybook-signals"
        thread.start()
        started.wait()
    }

    /// Ends the thread (woken by a SIGINT sent to it alone).
    func stop() {
        let thread = state.withLock { s -> pthread_t? in
            s.stopped = true
            return s.thread
        }
        if let thread { pthread_kill(thread, SIGINT) }
        done.wait()
    }
}
