internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The message the handler writes: built before the handler is installed, never freed.
nonisolated(unsafe) private var faultMessage: UnsafeMutablePointer<UInt8>?
nonisolated(unsafe) private var faultMessageLength = 0
private let faultHandlersInstalled = Mutex(false)

/// Writes the fixed message and exits 1; only write(2) and _exit(2), both async-signal-safe.
private func faultHandler(_ signal: Int32) {
    if let faultMessage { _ = write(2, faultMessage, faultMessageLength) }
    _exit(1)
}

/// A fixed report for a memory fault (SIGBUS, SIGSEGV) while the process reads a store: the
/// last line of defence when LMDB itself reads a damaged page past the end of the file. Every
/// check before it (store opening, bounds-checked keys and values, throwing decoders) is the
/// fix; a fault this reports is a check to add.
public enum MapFaultReport {
    /// Installs handlers for SIGBUS and SIGSEGV (once per process) that write `message` to
    /// standard error and exit 1. The message is copied now: the handler only calls write(2) and
    /// _exit(2), both async-signal-safe.
    public static func install(message: String) {
        faultHandlersInstalled.withLock { installed in
            guard !installed else { return }
            installed = true
            let bytes = Array(message.utf8)
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
            buffer.initialize(from: bytes, count: bytes.count)
            faultMessageLength = bytes.count
            faultMessage = buffer
            // An alternate stack for this thread, so a fault from a stack overflow can be reported too.
            let stackSize = 1 << 16
            var stack = stack_t()
            stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: stackSize, alignment: 16)
            stack.ss_size = stackSize
            stack.ss_flags = 0
            _ = sigaltstack(&stack, nil)
            var action = sigaction()
            #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = faultHandler
            #else
                action.__sigaction_u.__sa_handler = faultHandler
            #endif
            action.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&action.sa_mask)
            _ = sigaction(SIGBUS, &action, nil)
            _ = sigaction(SIGSEGV, &action, nil)
        }
    }
}
