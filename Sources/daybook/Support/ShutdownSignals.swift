import Foundation

/// SIGTERM and SIGINT as a request to stop, for the long-running verbs (`tail`): the signals are
/// blocked in every thread and taken by one thread with `sigwait`, so they arrive whatever mask
/// the process inherited (a parent that blocked SIGTERM included) and never kill it mid-batch.
///
/// Call ``install(_:)`` first thing in `run()`, before the writer or any other thread starts:
/// threads inherit the mask of the thread that creates them.
enum ShutdownSignals {
    static func install(_ onSignal: @escaping @Sendable (Int32) -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        let waiter = Thread {
            var set = blocked
            var signal: Int32 = 0
            var count = 0
            while sigwait(&set, &signal) == 0 {
                count += 1
                onSignal(signal)
                // A second signal while the first batch drains: stop now (exit code of the signal).
                if count > 1 { exit(128 + signal) }
            }
        }
        waiter.name = "daybook-signals"
        waiter.start()
    }
}
